#!/usr/bin/env node
// What `mlstm eval CKPT FILE [--batch B]` computes (same functions: decodeCheckpoint, tokensOfFile,
// evaluate with the CLI's defaults), printed at full precision as JSON so that it can be compared with
// eval_checkpoint.py beyond the CLI's 4 decimals. Needs `npx tsc -p tsconfig.build.json`.
//
//   node tools/torch/engine_eval.mjs CKPT FILE [--batch B]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { decodeCheckpoint } from '../../dist/io/checkpoint.js';
import { TextCodec } from '../../dist/data/vocabulary.js';
import { evaluate } from '../../dist/train/evaluate.js';
import { tokensOfFile } from '../../dist/cli/files.js';

const { values, positionals } = parseArgs({ options: { batch: { type: 'string', default: '1' } }, allowPositionals: true });
if (positionals.length !== 2) {
  process.stderr.write('engine_eval.mjs: expected CKPT FILE\n');
  process.exit(2);
}
const [ckpt, file] = positionals;
const { model, vocab } = decodeCheckpoint(new Uint8Array(readFileSync(ckpt)), { source: ckpt });
const tokens = tokensOfFile(new Uint8Array(readFileSync(file)), new TextCodec(vocab), file);
const started = performance.now();
const result = evaluate(model, tokens, { batch: Number(values.batch) });
process.stdout.write(`${JSON.stringify({ ...result, seconds: (performance.now() - started) / 1000 })}\n`);
