import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSafetensors } from '../src/io/safetensors.js';
import { encodeCheckpoint } from '../src/io/checkpoint.js';
import { buildCharVocabulary } from '../src/data/vocabulary.js';
import { CharLM } from '../src/nn/charlm.js';
import { Rng } from '../src/tensor/rng.js';
import { ensureBuilt, runCli, tempDir, type RunResult } from './cli-helpers.js';
import { wordCorpus } from './train-helpers.js';

let dir: string;
let corpus: string;
let checkpoint: string;

/** A tiny model trains in well under a second; its flags are reused by every case below. */
const TINY = ['--hidden', '8', '--embed', '4', '--batch', '4', '--seq', '8', '--steps', '4'];

beforeAll(async () => {
  ensureBuilt();
  dir = tempDir();
  corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, wordCorpus(3000, 1));
  checkpoint = join(dir, 'model.safetensors');
  const r = await runCli(['train', '--data', corpus, '--out', checkpoint, ...TINY]);
  expect(r.code, r.stderr).toBe(0);
});

/** Exactly one line on stderr, from us, without a stack trace; nothing half-done on stdout. */
function expectOneLineError(r: RunResult, code: number, pattern: RegExp): void {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(code);
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^mlstm: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
}

describe('mlstm: usage errors exit 2 with one line', () => {
  const cases: [string, string[], RegExp][] = [
    ['no command', [], /missing command: train, sample, score, eval, features, probe/],
    ['unknown command', ['fit'], /unknown command 'fit'/],
    ['unknown flag', ['train', '--data', 'x', '--out', 'y', '--bogus'], /train: unknown option '--bogus'/],
    ['flag without value', ['train', '--data'], /train: --data needs a value/],
    ['non-numeric value', ['train', '--data', 'x', '--out', 'y', '--hidden', 'abc'], /--hidden must be an integer, got 'abc'/],
    ['fractional integer', ['train', '--data', 'x', '--out', 'y', '--steps', '2.5'], /--steps must be an integer, got '2.5'/],
    ['zero batch', ['train', '--data', 'x', '--out', 'y', '--batch', '0'], /--batch must be between 1 and \d+, got 0/],
    ['zero threads', ['train', '--data', 'x', '--out', 'y', '--threads', '0'], /train: --threads must be between 1 and 64, got 0/],
    ['threads for eval', ['eval', 'm.safetensors', 'f.txt', '--threads', 'all'], /eval: --threads must be an integer, got 'all'/],
    ['negative lr', ['train', '--data', 'x', '--out', 'y', '--lr=-1'], /--lr must be greater than 0, got -1/],
    ['lr as next argument', ['train', '--data', 'x', '--out', 'y', '--lr', '-1'], /--lr needs a value \(write --lr=VALUE/],
    ['non-numeric lr', ['train', '--data', 'x', '--out', 'y', '--lr', 'fast'], /--lr must be a number, got 'fast'/],
    ['dropout of 1', ['train', '--data', 'x', '--out', 'y', '--dropout', '1'], /--dropout must be at most 0.99/],
    ['unknown cell', ['train', '--data', 'x', '--out', 'y', '--cell', 'gru'], /--cell must be one of mlstm, lstm, mrnn, got 'gru'/],
    ['missing --data', ['train', '--out', 'y'], /train: missing --data/],
    ['missing --out', ['train', '--data', 'x'], /train: missing --out/],
    ['boolean with value', ['train', '--data', 'x', '--out', 'y', '--resume=yes'], /--resume does not take a value/],
    ['sample with two checkpoints', ['sample', 'a.safetensors', 'b.safetensors'], /sample: unexpected argument 'b.safetensors'/],
    ['score without a file', ['score'], /score: missing FILE/],
    ['score with three arguments', ['score', 'm', 'f', 'g'], /score: unexpected argument 'g' \(expected \[MODEL\] FILE\)/],
    ['top-p of 0', ['sample', 'm.safetensors', '--top-p', '0'], /--top-p must be greater than 0, got 0/],
    ['empty stop', ['sample', 'm.safetensors', '--stop='], /sample: --stop needs a non-empty value/],
    ['negative temperature', ['sample', 'm.safetensors', '--temperature=-0.5'], /--temperature must be at least 0/],
    ['non-numeric top-k', ['sample', 'm.safetensors', '--top-k', 'many'], /--top-k must be an integer, got 'many'/],
    ['eval with one argument', ['eval', 'm.safetensors'], /eval: expected CHECKPOINT FILE/],
    [
      'dynamic-lr without --dynamic',
      ['eval', 'm.safetensors', 'f.txt', '--dynamic-lr', '0.1'],
      /--dynamic-lr and --dynamic-seq need --dynamic/,
    ],
  ];
  for (const [name, args, pattern] of cases) {
    it(name, async () => expectOneLineError(await runCli(args), 2, pattern));
  }
});

describe('mlstm: bad input files exit 1 with one line', () => {
  it('missing, directory and empty data files', async () => {
    expectOneLineError(
      await runCli(['train', '--data', join(dir, 'nope.txt'), '--out', join(dir, 'o.safetensors')]),
      1,
      /cannot read --data '.*nope.txt': no such file/,
    );
    expectOneLineError(
      await runCli(['train', '--data', dir, '--out', join(dir, 'o.safetensors')]),
      1,
      /cannot read --data '.*': is a directory/,
    );
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '');
    expectOneLineError(await runCli(['train', '--data', empty, '--out', join(dir, 'o.safetensors')]), 1, /--data '.*empty.txt' is empty/);
  });

  it('a corpus shorter than one window', async () => {
    const short = join(dir, 'short.txt');
    writeFileSync(short, 'the cat sat on the mat. '.repeat(4));
    expectOneLineError(
      await runCli(['train', '--data', short, '--out', join(dir, 'o.safetensors'), '--batch', '4', '--seq', '64']),
      1,
      /the training part of --data '.*short.txt' is shorter than one window: 92 characters make 4 streams of 23, but a window needs 65 per stream/,
    );
  });

  it('text that is not UTF-8 (without --bytes), naming the byte offset', async () => {
    const latin1 = join(dir, 'latin1.txt');
    writeFileSync(latin1, Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' au lait '.repeat(50))]));
    expectOneLineError(
      await runCli(['train', '--data', latin1, '--out', join(dir, 'o.safetensors')]),
      1,
      /not valid UTF-8 at byte offset 3 \(byte 0xe9\); train with --bytes/,
    );
  });

  it('malformed, truncated and foreign checkpoints', async () => {
    const garbage = join(dir, 'garbage.safetensors');
    writeFileSync(garbage, 'this is not a checkpoint at all');
    expectOneLineError(await runCli(['sample', garbage]), 1, /garbage.safetensors/);
    const truncated = join(dir, 'truncated.safetensors');
    const whole = readFileSync(checkpoint);
    writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
    expectOneLineError(await runCli(['sample', truncated]), 1, /truncated.safetensors/);
    const foreign = join(dir, 'foreign.safetensors');
    writeFileSync(foreign, encodeSafetensors(new Map([['w', { dtype: 'F32', shape: [1], data: new Float32Array(1) }]]), {}));
    expectOneLineError(await runCli(['eval', foreign, corpus]), 1, /foreign.safetensors: not an mlstm checkpoint/);
    expectOneLineError(
      await runCli(['sample', join(dir, 'absent.safetensors')]),
      1,
      /cannot read checkpoint '.*absent.safetensors': no such file/,
    );
    const empty = join(dir, 'empty.safetensors');
    writeFileSync(empty, '');
    expectOneLineError(await runCli(['sample', empty]), 1, /checkpoint '.*empty.safetensors' is empty/);
  });

  it('a text a checkpoint without U+FFFD (written before it existed) cannot encode, naming the character and its offset', async () => {
    // mlstm train now gives every character model U+FFFD (it reads any text: test/cli-model.test.ts);
    // a model without it keeps refusing a character outside its vocabulary.
    const vocab = buildCharVocabulary(readFileSync(corpus, 'utf8'));
    const old = join(dir, 'old.safetensors');
    const V = vocab.kind === 'chars' ? vocab.symbols.length : 256;
    writeFileSync(
      old,
      encodeCheckpoint(
        new CharLM({ cell: 'mlstm', weightNorm: false, vocab: V, embed: 4, hidden: 8, layers: 1 }, { rng: new Rng(1) }),
        vocab,
      ),
    );
    const other = join(dir, 'other.txt');
    writeFileSync(other, 'the cat sat on a Zebra');
    expectOneLineError(
      await runCli(['eval', old, other]),
      1,
      /other.txt: character 'Z' \(U\+005A\) at offset 17 \(line 1, column 18\) is not in the model's vocabulary/,
    );
    expectOneLineError(await runCli(['score', old, other]), 1, /other.txt: character 'Z' \(U\+005A\) at offset 17 \(line 1, column 18\)/);
    expectOneLineError(await runCli(['sample', old, '--prime', 'Qat']), 1, /prime: character 'Q' \(U\+0051\) at offset 0/);
  });

  it('resume without a checkpoint to resume, and a resume that changes the model', async () => {
    expectOneLineError(
      await runCli(['train', '--data', corpus, '--out', join(dir, 'none.safetensors'), '--resume']),
      1,
      /cannot resume: --out '.*none.safetensors' does not exist/,
    );
    expectOneLineError(
      await runCli(['train', '--data', corpus, '--out', checkpoint, '--resume', '--hidden', '16']),
      2,
      /--hidden 16 does not match the model in/,
    );
    expectOneLineError(
      await runCli(['train', '--data', corpus, '--out', checkpoint, '--resume', '--batch', '2', '--steps', '8']),
      2,
      /--batch differs from the run saved in/,
    );
  });

  it('an output path that cannot be created', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    expectOneLineError(await runCli(['train', '--data', corpus, '--out', join(file, 'model.safetensors'), ...TINY]), 1, /a-file/);
  });
});

describe('mlstm --help', () => {
  for (const args of [['--help'], ['train', '--help'], ['sample', '-h'], ['eval', '--help']]) {
    it(args.join(' '), async () => {
      const r = await runCli(args);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^Usage: mlstm/);
    });
  }
  it('train --help lists every flag of the issue', async () => {
    const r = await runCli(['train', '--help']);
    for (const flag of [
      '--data',
      '--valid',
      '--cell',
      '--weight-norm',
      '--hidden',
      '--embed',
      '--layers',
      '--batch',
      '--seq',
      '--steps',
      '--lr',
      '--clip',
      '--seed',
      '--out',
      '--resume',
      '--bytes',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });
});
