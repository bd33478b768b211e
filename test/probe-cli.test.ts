/**
 * `mlstm features` and `mlstm probe`, run in-process the way main() runs a subcommand: its exit code,
 * or the error turned into one stderr line and an exit code by describeError.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError } from '../src/cli/errors.js';
import { run as runFeatures } from '../src/cli/commands/features.js';
import { run as runProbe } from '../src/cli/commands/probe.js';
import { encodeCheckpoint } from '../src/io/checkpoint.js';
import { decodeFeaturesSafetensors } from '../src/features/format.js';
import { extractFeatures } from '../src/features/extract.js';
import { encodeLabelledTexts, parseLabelledTsv } from '../src/features/tsv.js';
import { probeFromJSON } from '../src/probe/persist.js';
import { xCounterModel, xTsv } from './probe-helpers.js';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function invoke(command: (argv: readonly string[]) => Promise<number>, argv: string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    const code = await command(argv);
    return { code, stdout, stderr };
  } catch (e) {
    const { line, exitCode } = describeError(e);
    return { code: exitCode, stdout, stderr: `${stderr}${line}\n` };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

function expectOneLineError(r: Outcome, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^mlstm: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
}

let dir: string;
let ckpt: string;
let trainTsv: string;
let testTsv: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mlstm-probe-'));
  const { model, codec } = xCounterModel(1);
  ckpt = join(dir, 'x.safetensors');
  writeFileSync(ckpt, encodeCheckpoint(model, codec.vocab));
  trainTsv = join(dir, 'train.tsv');
  testTsv = join(dir, 'test.tsv');
  writeFileSync(trainTsv, xTsv(2, 160));
  writeFileSync(testTsv, xTsv(3, 60));
});

afterEach(() => vi.restoreAllMocks());

describe('mlstm probe', () => {
  it('prints accuracy, the top units and the best single unit; saves the probe and the SVG', async () => {
    const probePath = join(dir, 'out', 'probe.json');
    const svgPath = join(dir, 'out', 'unit.svg');
    // The planted signal is a count in unit 0's cell state: the final cell state (--pool last) reads it.
    const r = await invoke(runProbe, [
      ckpt,
      '--train',
      trainTsv,
      '--test',
      testTsv,
      '--pool',
      'last',
      '--out',
      probePath,
      '--svg',
      svgPath,
      '--top',
      '3',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^train: 160 texts \(with x \d+, without \d+\)$/m);
    expect(r.stdout).toMatch(/^accuracy 1\.0000$/m);
    expect(r.stdout).toMatch(/^ {2}unit {5}0 {2}\d+\.\d{4} {2}with x$/m);
    expect(r.stdout).toMatch(/^best single unit 0: accuracy 1\.0000 \(train 1\.0000; with x when above 0\.\d+\)$/m);
    expect(r.stdout).toMatch(/^l1 \S+ \(3-fold cross-validation over 8 values; cv accuracy 1\.0000\)$/m);
    const probe = probeFromJSON(readFileSync(probePath, 'utf8'), probePath);
    expect(probe.classes).toEqual(['with x', 'without']);
    expect(probe.info).toMatchObject({ pool: 'last', checkpoint: ckpt });
    const svg = readFileSync(svgPath, 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('unit 0 (cell state c)');
    expect(svg.match(/probe says/g)).toHaveLength(6);
    expect(svg).not.toMatch(/NaN|undefined/);
  });

  it('fits the n-gram baseline with --ngrams and names the top n-gram', async () => {
    const r = await invoke(runProbe, [
      '--ngrams',
      '2',
      '--buckets',
      '4096',
      '--train',
      trainTsv,
      '--test',
      testTsv,
      '--l1',
      '0.01',
      '--top',
      '1',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^accuracy 1\.0000$/m);
    expect(r.stdout).toMatch(/^ {2}unit +\d+ {2}\d+\.\d{4} {2}with x {2}"x"$/m);
    expect(r.stdout).toMatch(/^best single unit \d+ "x": accuracy 1\.0000/m);
  });

  const usage: [string, string[], RegExp][] = [
    ['no checkpoint', ['--train', 'a', '--test', 'b'], /probe: missing CHECKPOINT \(or --ngrams N/],
    ['no --train', ['m.safetensors', '--test', 'b'], /probe: missing --train FILE.tsv/],
    ['bad --l1', ['m', '--train', 'a', '--test', 'b', '--l1', 'lots'], /probe: --l1 must be a number, got 'lots'/],
    ['negative --l1', ['m', '--train', 'a', '--test', 'b', '--l1=-1'], /probe: --l1 must be at least 0/],
    ['bad --pool', ['m', '--train', 'a', '--test', 'b', '--pool', 'max'], /probe: --pool must be one of mean, last, mean\+last, got 'max'/],
    ['checkpoint with --ngrams', ['m', '--ngrams', '3', '--train', 'a', '--test', 'b'], /takes no CHECKPOINT/],
    ['--svg with --ngrams', ['--ngrams', '3', '--train', 'a', '--test', 'b', '--svg', 's.svg'], /--svg needs a model/],
    ['--svg-unit without --svg', ['m', '--train', 'a', '--test', 'b', '--svg-unit', '3'], /need --svg FILE/],
    ['unknown flag', ['m', '--bogus'], /probe: unknown option '--bogus'/],
  ];
  for (const [name, argv, pattern] of usage) {
    it(`usage error, exit 2: ${name}`, async () => expectOneLineError(await invoke(runProbe, argv), 2, pattern));
  }

  it('usage error, exit 2: --svg-unit beyond the model', async () => {
    expectOneLineError(
      await invoke(runProbe, [ckpt, '--train', trainTsv, '--test', testTsv, '--svg', join(dir, 's.svg'), '--svg-unit', '5']),
      2,
      /--svg-unit 5 is out of range: pool mean gives 5 units/,
    );
  });

  it('warns about test labels the training texts lack, and counts them as errors', async () => {
    const odd = join(dir, 'odd.tsv');
    writeFileSync(odd, `${readFileSync(testTsv, 'utf8')}maybe\tabc\n`);
    const r = await invoke(runProbe, [ckpt, '--train', trainTsv, '--test', odd, '--l1', '0.01', '--pool', 'last']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: test labels absent from the training texts count as errors: "maybe"/);
    expect(r.stdout).toMatch(/^accuracy 0\.9836$/m); // 60 of 61
  });

  it('a bad TSV line is one line naming the file and line number, exit 1', async () => {
    const bad = join(dir, 'bad.tsv');
    writeFileSync(bad, 'with x\tabc x\nwithout\tabc\nthis line has no tab\n');
    expectOneLineError(
      await invoke(runProbe, [ckpt, '--train', bad, '--test', testTsv]),
      1,
      new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line 3: no tab`),
    );
  });

  it('a character outside the model vocabulary names the line and offset, exit 1', async () => {
    const bad = join(dir, 'badchar.tsv');
    writeFileSync(bad, 'with x\tabc x\nwithout\tab Q\n');
    expectOneLineError(
      await invoke(runProbe, [ckpt, '--train', bad, '--test', testTsv]),
      1,
      /badchar.tsv: line 2: character 'Q' \(U\+0051\) at offset 3 of the text is not in the model's vocabulary/,
    );
  });

  it('a missing file and a single-class training set are one-line errors, exit 1', async () => {
    expectOneLineError(
      await invoke(runProbe, [ckpt, '--train', join(dir, 'nope.tsv'), '--test', testTsv]),
      1,
      /cannot read --train '.*nope.tsv': no such file/,
    );
    const one = join(dir, 'one.tsv');
    writeFileSync(one, 'a\tabc\na\tdef\n');
    expectOneLineError(
      await invoke(runProbe, [ckpt, '--train', one, '--test', testTsv, '--l1', '0.1']),
      1,
      /--train '.*one.tsv': fitProbe: the training labels hold 1 class/,
    );
  });
});

describe('mlstm features', () => {
  it('writes safetensors equal to extractFeatures, and TSV to stdout', async () => {
    const out = join(dir, 'f.safetensors');
    const r = await invoke(runFeatures, [ckpt, testTsv, '--out', out, '--pool', 'mean', '--batch', '7']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^features: 60 texts × 5 units \(pool mean: mean hidden state h\)/);
    const file = decodeFeaturesSafetensors(readFileSync(out), out);
    const { model, codec } = xCounterModel(1);
    const rows = parseLabelledTsv(readFileSync(testTsv, 'utf8'));
    const direct = extractFeatures(model, encodeLabelledTexts(rows, codec).tokens, { pool: 'mean' });
    expect(Array.from(file.features.data)).toEqual(Array.from(direct.data));
    expect(file.labels).toEqual(rows.map((x) => x.label));
    expect(file.pool).toBe('mean');

    const t = await invoke(runFeatures, [ckpt, testTsv]);
    expect(t.code).toBe(0);
    const lines = t.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(61);
    expect(lines[0]).toBe('label\tu0\tu1\tu2\tu3\tu4');
  });

  it('usage errors exit 2 with one line', async () => {
    expectOneLineError(await invoke(runFeatures, [ckpt]), 2, /features: expected CHECKPOINT FILE.tsv, got 1 argument/);
    expectOneLineError(await invoke(runFeatures, [ckpt, testTsv, '--format', 'safetensors']), 2, /--format safetensors needs --out FILE/);
    expectOneLineError(await invoke(runFeatures, [ckpt, testTsv, '--pool', 'first']), 2, /--pool must be one of mean, last, mean\+last/);
  });

  it('--help prints the usage', async () => {
    const r = await invoke(runFeatures, ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: mlstm features CHECKPOINT FILE.tsv/);
  });
});
