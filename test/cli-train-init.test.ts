import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCheckpoint } from '../src/io/checkpoint.js';
import { ensureBuilt, runCli, tempDir } from './cli-helpers.js';
import { wordCorpus } from './train-helpers.js';

/*
 * `mlstm train --init FILE`: a new run (step 0, a new optimiser, this command's schedule) that starts
 * from FILE's weights and vocabulary. Checked by a first step whose update is far below float32's
 * resolution of the weights (--lr 1e-30): the weights written are FILE's to within 1e-20, where a
 * random start differs by ~0.1; and by the one-line refusals.
 */
let dir: string;
let corpus: string;
let first: string;
const TINY = ['--hidden', '12', '--embed', '6', '--batch', '4', '--seq', '12', '--valid-every', '0'];

const modelOf = (path: string) => decodeCheckpoint(readFileSync(path), { source: path });

beforeAll(async () => {
  ensureBuilt();
  dir = tempDir();
  corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, wordCorpus(3000, 3));
  first = join(dir, 'first.safetensors');
  const r = await runCli(['train', '--data', corpus, '--out', first, ...TINY, '--lr', '0.01', '--steps', '8', '--seed', '1']);
  expect(r.code, r.stderr).toBe(0);
});

describe('mlstm train --init', () => {
  it("starts a new run from the checkpoint's weights and vocabulary", async () => {
    const out = join(dir, 'second.safetensors');
    const r = await runCli([
      'train',
      '--data',
      corpus,
      '--out',
      out,
      '--init',
      first,
      ...TINY,
      '--lr',
      '1e-30',
      '--steps',
      '1',
      '--seed',
      '2',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/resuming/);
    expect(r.stdout).toMatch(/1 steps/);
    const a = modelOf(first);
    const b = modelOf(out);
    expect(b.vocab).toEqual(a.vocab);
    expect(b.config).toEqual(a.config);
    const bParams = new Map(b.model.namedParameters());
    let worst = 0;
    let count = 0;
    for (const [name, p] of a.model.namedParameters()) {
      const q = bParams.get(name)!.value.data;
      p.value.data.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - q[i]!))));
      count += p.value.data.length;
    }
    expect(count).toBeGreaterThan(500);
    expect(worst).toBeLessThan(1e-20);
    const train = JSON.parse(b.metadata['train']!) as { step: number; options: { steps: number; optimizer: { lr: number } } };
    expect(train.step).toBe(1); // a new run: step 0 + 1, with this command's options
    expect(train.options.steps).toBe(1);
    expect(train.options.optimizer.lr).toBe(1e-30);
  });

  it('a random start differs (the check above can fail)', async () => {
    const out = join(dir, 'random.safetensors');
    const r = await runCli(['train', '--data', corpus, '--out', out, ...TINY, '--lr', '1e-30', '--steps', '1', '--seed', '2']);
    expect(r.code, r.stderr).toBe(0);
    const [, w] = [...modelOf(first).model.namedParameters()][1]!;
    const [, v] = [...modelOf(out).model.namedParameters()][1]!;
    expect(Math.max(...w.value.data.map((x, i) => Math.abs(x - v.value.data[i]!)))).toBeGreaterThan(1e-3);
  });

  it('refuses a model flag that differs from the checkpoint, and --init with --resume, in one line', async () => {
    const out = join(dir, 'bad.safetensors');
    const shape = await runCli(['train', '--data', corpus, '--out', out, '--init', first, '--hidden', '13', '--steps', '1']);
    expect(shape.code).toBe(2);
    expect(shape.stderr).toMatch(/^mlstm: train: --hidden 13 does not match the model in '.*first\.safetensors' \(12\)\n$/);
    const both = await runCli(['train', '--data', corpus, '--out', first, '--init', first, '--resume', '--steps', '9']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^mlstm: train: --resume continues the run in --out; --init starts a new one from .*: give one of them\n$/);
    const missing = await runCli(['train', '--data', corpus, '--out', out, '--init', join(dir, 'nope.safetensors'), '--steps', '1']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/nope\.safetensors/);
  });
});
