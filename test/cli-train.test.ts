import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCheckpoint } from '../src/io/checkpoint.js';
import { TextCodec } from '../src/data/vocabulary.js';
import { evaluate } from '../src/train/evaluate.js';
import { dynamicEvaluate } from '../src/train/dynamic-eval.js';
import { DEFAULT_DYNAMIC_LR } from '../src/cli/commands/eval.js';
import { ensureBuilt, runCli, tempDir } from './cli-helpers.js';
import { wordCorpus } from './train-helpers.js';
import { selectBackend } from '../src/node/wasm.js';

// The CLI's default kernels: mlstm/node's selectBackend (wasm, with relaxed SIMD enabled on Node 20 as the CLI does).
const { backend } = selectBackend();

let dir: string;
let corpus: string;
const TINY = ['--hidden', '12', '--embed', '6', '--batch', '4', '--seq', '12', '--lr', '0.01', '--valid-every', '0'];

beforeAll(() => {
  ensureBuilt();
  dir = tempDir();
  corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, wordCorpus(4000, 2));
});

/** Every tensor of a checkpoint file (model, optimiser, training state) as plain arrays, by name. */
function tensorsOf(path: string): Record<string, number[]> {
  const { model, extraTensors } = decodeCheckpoint(readFileSync(path), { source: path });
  const out: Record<string, number[]> = {};
  for (const [n, p] of model.namedParameters()) out[n] = Array.from(p.value.data);
  for (const [n, t] of extraTensors) out[n] = Array.from(t.data);
  return out;
}

describe('mlstm train / sample / eval', () => {
  let ckpt: string;
  let trainOut: string;

  beforeAll(async () => {
    ckpt = join(dir, 'run', 'model.safetensors'); // the directory does not exist yet
    const r = await runCli([
      'train',
      '--data',
      corpus,
      '--out',
      ckpt,
      ...TINY,
      '--steps',
      '30',
      '--valid-every',
      '10',
      '--log-every',
      '10',
    ]);
    expect(r.code, r.stderr).toBe(0);
    trainOut = r.stdout;
  });

  it('prints plain progress lines when not on a terminal, validation lines, and writes the checkpoint and the curves', () => {
    const lines = trainOut.trim().split('\n');
    expect(lines[0]).toMatch(
      /^mlstm 1×12 \(embed 6, [\d,]+ parameters\), vocabulary 13; [\d,]+ training \/ 200 validation characters; batch 4 × seq 12, 30 steps; wasm-simd( fma)? kernels on \d+ threads?$/, // the default where WebAssembly SIMD validates
    );
    expect(
      lines
        .filter((l) => /^step +\d+\/30  train bpc \d+\.\d{3}  [\d.]+k? chars\/s  ETA \S+$/.test(l))
        .map((l) => Number(/step +(\d+)/.exec(l)![1])),
    ).toEqual([10, 20, 30]);
    expect(lines.filter((l) => /^step \d+: validation bpc \d+\.\d{4}$/.test(l))).toHaveLength(3);
    expect(lines[lines.length - 1]).toMatch(
      /^done: 30 steps in \S+; validation bpc \d+\.\d{4}; saved '.*model.safetensors' and '.*model.svg'$/,
    );
    expect(trainOut).not.toContain('\r');
    const svg = readFileSync(join(dir, 'run', 'model.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.match(/<circle /g)).toHaveLength(3);
  });

  it('sample: the same seed gives the same text, another seed another text', async () => {
    const a = await runCli(['sample', ckpt, '--length', '80', '--prime', 'the ', '--seed', '4', '--temperature', '0.8', '--top-k', '5']);
    const b = await runCli(['sample', ckpt, '--length', '80', '--prime', 'the ', '--seed', '4', '--temperature', '0.8', '--top-k', '5']);
    const c = await runCli(['sample', ckpt, '--length', '80', '--prime', 'the ', '--seed', '5', '--temperature', '0.8', '--top-k', '5']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).not.toBe(c.stdout);
    expect(a.stdout.startsWith('the ')).toBe(true);
    expect(a.stdout.length).toBe(4 + 80 + 1);
  });

  it('eval prints "bpc <value>" (and "dynamic bpc <value>"), equal to the library on the same checkpoint', async () => {
    const text = join(dir, 'held-out.txt');
    writeFileSync(text, wordCorpus(600, 77));
    const r = await runCli(['eval', ckpt, text, '--dynamic', '--dynamic-lr', '0.1', '--dynamic-seq', '25']);
    expect(r.code, r.stderr).toBe(0);
    const { model, vocab } = decodeCheckpoint(readFileSync(ckpt));
    const tokens = new TextCodec(vocab).encode(readFileSync(text, 'utf8'));
    const expected = `bpc ${evaluate(model, tokens).bpc.toFixed(4)}\ndynamic bpc ${dynamicEvaluate(model, tokens, { lr: 0.1, seq: 25 }).bpc.toFixed(4)}\n`;
    expect(r.stdout).toBe(expected);
  });

  it('eval --json prints one object with the full-precision numbers of the library', async () => {
    const text = join(dir, 'held-out-json.txt');
    writeFileSync(text, wordCorpus(600, 78));
    const r = await runCli(['eval', ckpt, text, '--json', '--batch', '2', '--dynamic', '--dynamic-seq', '25']);
    expect(r.code, r.stderr).toBe(0);
    const { model, vocab } = decodeCheckpoint(readFileSync(ckpt));
    const tokens = new TextCodec(vocab).encode(readFileSync(text, 'utf8'));
    const plain = evaluate(model, tokens, { batch: 2, backend });
    const dyn = dynamicEvaluate(model, tokens, { lr: DEFAULT_DYNAMIC_LR, seq: 25, backend });
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(JSON.parse(r.stdout)).toEqual({
      bpc: plain.bpc,
      nats: plain.nats,
      predictions: plain.predictions,
      streams: 2,
      unknown: 0,
      unknown_characters: [],
      dynamic_bpc: dyn.bpc,
      dynamic_nats: dyn.nats,
      dynamic_predictions: dyn.predictions,
    });
  });
});

describe('mlstm train: Ctrl-C and --resume', () => {
  it('SIGINT saves a checkpoint and exits 130; --resume then reproduces the uninterrupted run bit for bit', async () => {
    const interrupted = join(dir, 'interrupted.safetensors');
    let sent = false;
    const r = await runCli(['train', '--data', corpus, '--out', interrupted, ...TINY, '--steps', '100000', '--log-every', '1'], {
      onStdout: (chunk, child) => {
        if (!sent && /step +3\/100000/.test(chunk)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(r.code, r.stderr).toBe(130);
    const at = Number(
      /interrupted at step (\d+) after \S+; saved '.*interrupted.safetensors' \(continue with the same command and --resume\)/.exec(
        r.stdout,
      )?.[1],
    );
    expect(at).toBeGreaterThanOrEqual(3);
    expect(r.stderr).toBe('');
    expect(existsSync(interrupted)).toBe(true);

    const total = at + 7;
    const resumed = await runCli(['train', '--data', corpus, '--out', interrupted, ...TINY, '--steps', String(total), '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`^resuming at step ${at}: `));

    const straight = join(dir, 'straight.safetensors');
    const s = await runCli(['train', '--data', corpus, '--out', straight, ...TINY, '--steps', String(total)]);
    expect(s.code, s.stderr).toBe(0);

    const a = tensorsOf(interrupted);
    const b = tensorsOf(straight);
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    expect(a).toEqual(b); // parameters, Adam moments, carried state and the per-step bpc history
    expect(a['train.bpc']).toHaveLength(total);
  });

  it('--threads 2 trains and evaluates to exactly the numbers of --threads 1 (js), and evaluates so on wasm too', async () => {
    // Large enough that the window-wide products (T·B = 512 rows) are split across the worker.
    const size = ['--hidden', '64', '--embed', '16', '--batch', '16', '--seq', '32', '--steps', '3', '--valid-every', '0'];
    const one = join(dir, 'one-thread.safetensors');
    const two = join(dir, 'two-threads.safetensors');
    const single = await runCli(['train', '--data', corpus, '--out', one, ...size, '--backend', 'js', '--threads', '1']);
    expect(single.code).toBe(0);
    expect(single.stdout.split('\n')[0]).toMatch(/, 3 steps; js kernels on 1 thread$/);
    const r = await runCli(['train', '--data', corpus, '--out', two, ...size, '--backend', 'js', '--threads', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/, 3 steps; js kernels on 2 threads$/);
    expect(tensorsOf(two)).toEqual(tensorsOf(one));
    for (const backend of ['js', 'wasm']) {
      const e1 = await runCli(['eval', one, corpus, '--batch', '16', '--backend', backend, '--threads', '1']);
      const e2 = await runCli(['eval', one, corpus, '--batch', '16', '--backend', backend, '--threads', '2']);
      expect(e2.code, e2.stderr).toBe(0);
      expect(e2.stdout).toBe(e1.stdout);
    }
  });

  it('--backend wasm trains to the same numbers on 1 and 2 threads (the threaded wasm driver)', async () => {
    const size = ['--hidden', '64', '--embed', '16', '--batch', '16', '--seq', '32', '--steps', '3', '--valid-every', '0'];
    const w1 = join(dir, 'wasm-one.safetensors');
    const w2 = join(dir, 'wasm-two.safetensors');
    const w = await runCli(['train', '--data', corpus, '--out', w1, ...size, '--backend', 'wasm', '--threads', '1']);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout.split('\n')[0]).toMatch(/, 3 steps; wasm-simd( fma)? kernels on 1 thread$/);
    const wt = await runCli(['train', '--data', corpus, '--out', w2, ...size, '--backend', 'wasm', '--threads', '2']);
    expect(wt.code, wt.stderr).toBe(0);
    expect(wt.stdout.split('\n')[0]).toMatch(/, 3 steps; wasm-simd( fma)? kernels on 2 threads$/);
    expect(tensorsOf(w2)).toEqual(tensorsOf(w1));
  });

  it('a run that already reached --steps says so and changes nothing', async () => {
    const done = join(dir, 'done.safetensors');
    expect((await runCli(['train', '--data', corpus, '--out', done, ...TINY, '--steps', '3'])).code).toBe(0);
    const before = readFileSync(done);
    const again = await runCli(['train', '--data', corpus, '--out', done, ...TINY, '--steps', '3', '--resume']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already reached step 3 of 3; give a larger --steps/);
    expect(readFileSync(done).equals(before)).toBe(true);
  });
});

describe('mlstm --bytes', () => {
  it('trains a byte-level model (V = 256) on any UTF-8 and samples from it', async () => {
    const text = join(dir, 'accents.txt');
    writeFileSync(text, 'café naïve — “quoted” 😀 '.repeat(60));
    const out = join(dir, 'bytes.safetensors');
    const r = await runCli(['train', '--data', text, '--out', out, '--bytes', ...TINY, '--steps', '5']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/vocabulary 256; [\d,]+ training \/ [\d,]+ validation bytes/);
    const { vocab, model } = decodeCheckpoint(readFileSync(out));
    expect(vocab).toEqual({ kind: 'bytes' });
    expect(model.config.vocab).toBe(256);
    const s = await runCli(['sample', out, '--length', '20', '--prime', 'café']);
    expect(s.code).toBe(0);
    expect(s.stdout.startsWith('café')).toBe(true);
  });
});
