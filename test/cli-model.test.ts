import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCheckpoint } from '../src/io/checkpoint.js';
import { UNKNOWN_SYMBOL } from '../src/data/vocabulary.js';
import { TextModel } from '../src/model/text-model.js';
import { surprisingSpans } from '../src/model/spans.js';
import { ensureBuilt, runCli, tempDir } from './cli-helpers.js';
import { wordCorpus } from './train-helpers.js';
import { selectBackend } from '../src/node/wasm.js';

// The CLI's default kernels: mlstm/node's selectBackend (wasm, with relaxed SIMD enabled on Node 20 as the CLI does).
const { backend } = selectBackend();

/*
 * The CLI side of issue 13: any text in (train's vocabulary from training + validation text, U+FFFD for
 * everything else, counted by eval, score, features, probe and a prime), `mlstm score`, and `mlstm sample`
 * streaming with --top-p and --stop, with or without a checkpoint (the shipped model).
 */
let dir: string;
let ckpt: string;
const TINY = ['--hidden', '12', '--embed', '6', '--batch', '4', '--seq', '12', '--lr', '0.01', '--valid-every', '0', '--steps', '20'];

beforeAll(async () => {
  ensureBuilt();
  dir = tempDir();
  const train = join(dir, 'train.txt');
  const valid = join(dir, 'valid.txt');
  writeFileSync(train, wordCorpus(4000, 2));
  // The issue's failing case: the validation text holds a character ('&') the training text lacks.
  writeFileSync(valid, `${wordCorpus(300, 3)} salt & pepper\n`);
  ckpt = join(dir, 'model.safetensors');
  const r = await runCli(['train', '--data', train, '--valid', valid, '--out', ckpt, ...TINY]);
  expect(r.code, r.stderr).toBe(0);
});

describe('mlstm train builds the vocabulary from the training and the validation text', () => {
  it('a validation character the training text lacks is in the vocabulary, and so is U+FFFD', () => {
    const { vocab } = decodeCheckpoint(readFileSync(ckpt));
    if (vocab.kind !== 'chars') throw new Error('kind');
    expect(vocab.symbols).toContain('&');
    expect(vocab.symbols).toContain(UNKNOWN_SYMBOL);
    expect(readFileSync(join(dir, 'train.txt'), 'utf8')).not.toContain('&');
  });
});

describe('mlstm eval, features, probe and a prime accept any text and count the unknown characters', () => {
  it('eval prints the count after the bpc, and --json has it', async () => {
    const text = join(dir, 'foreign.txt');
    writeFileSync(text, `${wordCorpus(200, 5)} Zürich — 🐋 Zürich\n`);
    const r = await runCli(['eval', ckpt, text]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^bpc \d+\.\d{4}$/);
    // the corpus has the letters of "the cat sat on a mat and dog" and, from the validation text, "salt & pepper"
    expect(lines[1]).toBe(
      "unknown 8 — 8 characters outside the vocabulary were read as U+FFFD: 'Z' (U+005A), 'ü' (U+00FC), 'i' (U+0069), '—' (U+2014), '🐋' (U+1F40B)",
    );
    const j = JSON.parse((await runCli(['eval', ckpt, text, '--json'])).stdout);
    expect(j).toMatchObject({ unknown: 8, unknown_characters: ['Z', 'ü', 'i', '—', '🐋'] });
  });

  it('features and probe report them', async () => {
    const tsv = join(dir, 'labelled.tsv');
    writeFileSync(tsv, ['a\tthe cat sat', 'b\tZebra crossing', 'a\ton the mat', 'b\tZoo & zoo'].join('\n'));
    const f = await runCli(['features', ckpt, tsv]);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr).toMatch(/features: 4 texts × 12 units \(pool mean: mean hidden state h\)/);
    expect(f.stderr).toMatch(
      /features: 5 characters outside the vocabulary were read as U\+FFFD: 'Z' \(U\+005A\), 'b' \(U\+0062\), 'i' \(U\+0069\), 'z' \(U\+007A\)\n/,
    );
    const p = await runCli(['probe', ckpt, '--train', tsv, '--test', tsv, '--l1', '0.01']);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^train: 5 characters outside the vocabulary were read as U\+FFFD/m);
    expect(p.stdout).toMatch(/^features: 12 units, pool mean \(mean hidden state h of the top layer\)$/m);
  });

  it('a prime with foreign characters is read, and said so on stderr', async () => {
    const r = await runCli(['sample', ckpt, '--prime', 'Zut! ', '--length', '10']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith('Zut! ')).toBe(true);
    expect(r.stderr).toMatch(
      /the prime's 3 characters outside the vocabulary were read as U\+FFFD: 'Z' \(U\+005A\), 'u' \(U\+0075\), '!' \(U\+0021\)/,
    );
  });
});

describe('mlstm score', () => {
  it('prints the bpc, the count of characters and unknowns, and the most surprising spans — the numbers of TextModel.score', async () => {
    const file = join(dir, 'score.txt');
    const text = `${wordCorpus(300, 9)}\nsalt & Zebra pepper\n${wordCorpus(100, 10)}`;
    writeFileSync(file, text);
    const r = await runCli(['score', ckpt, file, '--spans', '3', '--span-width', '8']);
    expect(r.code, r.stderr).toBe(0);
    const { model, vocab } = decodeCheckpoint(readFileSync(ckpt));
    const api = new TextModel(model, vocab, { backend });
    const ref = api.score(text);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`bpc ${ref.bpc.toFixed(4)}`);
    expect(lines[1]).toBe(`characters ${[...text].length}`);
    expect(lines[2]).toBe("unknown 2 — 2 characters outside the vocabulary were read as U+FFFD: 'Z' (U+005A), 'b' (U+0062)");
    expect(lines[3]).toBe('most surprising spans (8 characters, bits per character):');
    expect(lines).toHaveLength(7);
    const j = JSON.parse((await runCli(['score', ckpt, file, '--json', '--spans', '3', '--span-width', '8'])).stdout);
    expect(j).toMatchObject({ bpc: ref.bpc, bits: ref.totalBits, characters: ref.characters, unknown: 2, unknown_characters: ['Z', 'b'] });
    const spans = surprisingSpans(ref.bits!, { width: 8, count: 3 });
    expect(j.spans.map((s: { start: number }) => s.start)).toEqual(spans.map((s) => s.start));
    const chars = [...text];
    for (const s of j.spans) {
      expect(s.text).toBe(chars.slice(s.start, s.end).join(''));
      const before = chars.slice(0, s.start);
      expect(s.line).toBe(before.filter((c) => c === '\n').length + 1);
      expect(s.column).toBe(s.start - (before.lastIndexOf('\n') + 1) + 1);
    }
  });

  it('without MODEL scores with the shipped model: a bpc and the count of characters it never saw', async () => {
    const file = join(dir, 'never-seen.txt');
    const text = 'Call me Ishmael — 🐳 ¡Olé! Zürich façade naïve.\n';
    writeFileSync(file, text);
    const r = await runCli(['score', file]);
    expect(r.code, r.stderr).toBe(0);
    // Moby-Dick's only non-ASCII characters are curly quotes and the em dash
    expect(r.stdout).toMatch(
      new RegExp(
        `^bpc \\d+\\.\\d{4}\ncharacters ${[...text].length}\nunknown 6 — 6 characters outside the vocabulary were read as U\\+FFFD: '🐳' \\(U\\+1F433\\), '¡' \\(U\\+00A1\\), 'é'`,
      ),
    );
  });
});

describe('mlstm sample', () => {
  it('streams: text arrives on stdout while the model is still generating', async () => {
    let early = '';
    let exited = false;
    const r = await runCli(['sample', ckpt, '--length', '200000', '--seed', '1'], {
      onStdout: (chunk, child) => {
        if (early === '') {
          early = chunk;
          exited = child.exitCode !== null;
          child.kill('SIGTERM');
        }
      },
    });
    expect(early.length).toBeGreaterThan(0);
    expect(exited).toBe(false);
    expect(r.stdout.length).toBeLessThan(200000);
  });

  it('--stop ends at the stop text (not printed), where the same draws without it first produce it; --top-p', async () => {
    const args = ['sample', ckpt, '--length', '300', '--seed', '3', '--top-p', '0.9', '--temperature', '0.9'];
    const full = (await runCli(args)).stdout;
    const stop = full.slice(40, 43); // it occurs, here or earlier
    const stopped = await runCli([...args, '--stop', stop.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')]);
    expect(stopped.code, stopped.stderr).toBe(0);
    const at = full.indexOf(stop);
    expect(at).toBeLessThanOrEqual(40);
    expect(stopped.stdout).toBe(full.slice(0, at).endsWith('\n') ? full.slice(0, at) : `${full.slice(0, at)}\n`);
    const nucleus = await runCli(['sample', ckpt, '--length', '50', '--top-p', '1e-9']);
    const greedy = await runCli(['sample', ckpt, '--length', '50', '--temperature', '0']);
    expect(nucleus.stdout).toBe(greedy.stdout); // a vanishing nucleus is the most likely character
    const bad = await runCli(['sample', ckpt, '--top-p', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--top-p/);
  });

  it('without a checkpoint samples from the shipped model', async () => {
    const r = await runCli(['sample', '--length', '300', '--seed', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect([...r.stdout.replace(/\n$/, '')].length).toBe(300);
  });
});
