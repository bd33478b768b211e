#!/usr/bin/env node
// The exact initial model of `mlstm train --data FILE --seed N ...` (same vocabulary, same config, same
// Rng(seed) draws as src/cli/commands/train.ts), written as a checkpoint so that train_reference.py
// --init-from can start PyTorch training from identical weights. Needs `npx tsc -p tsconfig.build.json`.
//
//   node tools/torch/init_checkpoint.mjs --data FILE --out CKPT [--seed N] [--cell mlstm|lstm|mrnn]
//        [--weight-norm] [--embed 32] [--hidden 128] [--layers 1]
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CharLM, encodeCheckpoint, Rng } from '../../dist/index.js';
import { buildCharVocabulary, TextCodec } from '../../dist/data/vocabulary.js';
import { decodeUtf8Strict } from '../../dist/data/utf8.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string', default: '0' },
    cell: { type: 'string', default: 'mlstm' },
    'weight-norm': { type: 'boolean', default: false },
    embed: { type: 'string', default: '32' },
    hidden: { type: 'string', default: '128' },
    layers: { type: 'string', default: '1' },
  },
});
if (!values.data || !values.out) {
  process.stderr.write('init_checkpoint.mjs: --data FILE and --out CKPT are required\n');
  process.exit(2);
}
const vocab = buildCharVocabulary(decodeUtf8Strict(new Uint8Array(readFileSync(values.data)), values.data));
const config = {
  cell: values.cell,
  weightNorm: values['weight-norm'],
  vocab: new TextCodec(vocab).size,
  embed: Number(values.embed),
  hidden: Number(values.hidden),
  layers: Number(values.layers),
  dropout: 0,
};
const model = new CharLM(config, { rng: new Rng(Number(values.seed)) });
writeFileSync(values.out, encodeCheckpoint(model, vocab));
process.stdout.write(
  `wrote the seed-${values.seed} initial ${config.cell} ${config.layers}x${config.hidden} (vocab ${config.vocab}) to ${values.out}\n`,
);
