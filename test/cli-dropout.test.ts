import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCheckpoint } from '../src/io/checkpoint.js';
import { ensureBuilt, runCli, tempDir } from './cli-helpers.js';
import { wordCorpus } from './train-helpers.js';

/** mlstm train --embed-dropout / --hidden-dropout: saved with the run, so --resume gives the same numbers. */

let dir: string;
let corpus: string;
const TINY = ['--hidden', '10', '--embed', '5', '--batch', '4', '--seq', '10', '--lr', '0.01', '--valid-every', '0', '--threads', '1'];
const DROP = ['--embed-dropout', '0.1', '--hidden-dropout', '0.3'];

beforeAll(() => {
  ensureBuilt();
  dir = tempDir();
  corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, wordCorpus(4000, 5));
});

function tensorsOf(path: string): Record<string, number[]> {
  const { model, extraTensors } = decodeCheckpoint(readFileSync(path), { source: path });
  const out: Record<string, number[]> = {};
  for (const [n, p] of model.namedParameters()) out[n] = Array.from(p.value.data);
  for (const [n, t] of extraTensors) out[n] = Array.from(t.data);
  return out;
}

describe('mlstm train with embedding and hidden dropout', () => {
  it('a run stopped and resumed ends bit for bit where the uninterrupted run ends; the options are in the training state, not the config', async () => {
    const straight = join(dir, 'straight.safetensors');
    const halves = join(dir, 'halves.safetensors');
    const a = await runCli(['train', '--data', corpus, '--out', straight, ...TINY, ...DROP, '--steps', '8', '--layers', '2']);
    expect(a.code, a.stderr).toBe(0);
    const b = await runCli(['train', '--data', corpus, '--out', halves, ...TINY, ...DROP, '--steps', '4', '--layers', '2']);
    expect(b.code, b.stderr).toBe(0);
    const c = await runCli(['train', '--data', corpus, '--out', halves, '--resume', '--steps', '8', '--threads', '1']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/^resuming at step 4: /);
    expect(tensorsOf(halves)).toEqual(tensorsOf(straight));

    const { metadata } = decodeCheckpoint(readFileSync(straight));
    expect(JSON.parse(metadata['train']!).options).toMatchObject({ embedDropout: 0.1, hiddenDropout: 0.3 });
    expect(metadata['config']).not.toMatch(/dropout/i);

    const plain = join(dir, 'plain.safetensors');
    expect((await runCli(['train', '--data', corpus, '--out', plain, ...TINY, '--steps', '8', '--layers', '2'])).code).toBe(0);
    expect(tensorsOf(plain)['head.bias']).not.toEqual(tensorsOf(straight)['head.bias']);
    expect(JSON.parse(decodeCheckpoint(readFileSync(plain)).metadata['train']!).options).not.toHaveProperty('hiddenDropout');
  });

  it('refuses a resume that changes a dropout, and a probability of 1', async () => {
    const run = join(dir, 'refuse.safetensors');
    expect((await runCli(['train', '--data', corpus, '--out', run, ...TINY, ...DROP, '--steps', '2'])).code).toBe(0);
    const r = await runCli(['train', '--data', corpus, '--out', run, '--resume', '--steps', '4', '--hidden-dropout', '0.5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^mlstm: train: --hidden-dropout differs from the run saved in '.*refuse.safetensors'; a resumed run keeps its settings/,
    );
    const same = await runCli([
      'train',
      '--data',
      corpus,
      '--out',
      run,
      '--resume',
      '--steps',
      '4',
      '--hidden-dropout',
      '0.3',
      '--threads',
      '1',
    ]);
    expect(same.code, same.stderr).toBe(0);
    const one = await runCli(['train', '--data', corpus, '--out', run, '--embed-dropout', '1']);
    expect(one.code).toBe(2);
    expect(one.stderr).toBe('mlstm: train: --embed-dropout must be at most 0.99, got 1\n');
  });
});
