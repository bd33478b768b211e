import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitTrainValid } from '../src/data/split.js';
import { TextCodec } from '../src/data/vocabulary.js';
import { decodeCheckpoint } from '../src/io/checkpoint.js';
import type { ComparisonReport } from '../src/compare/report.js';
import { evaluate } from '../src/train/evaluate.js';
import { ensureBuilt, runCli, tempDir } from './cli-helpers.js';
import { wordCorpus } from './train-helpers.js';
import { selectBackend } from '../src/node/wasm.js';

// The CLI's default kernels: mlstm/node's selectBackend (wasm, with relaxed SIMD enabled on Node 20 as the CLI does).
const { backend } = selectBackend();

/** mlstm compare end to end on a tiny corpus: table, JSON rows, SVG, models, resume, Ctrl-C, refusals. */

let dir: string;
let corpus: string;
const TINY = ['--hidden', '100', '--embed', '4', '--batch', '4', '--seq', '8', '--eval-chars', '200', '--threads', '1'];

beforeAll(() => {
  ensureBuilt();
  dir = tempDir();
  corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, wordCorpus(6000, 9));
});

const reportOf = (path: string): ComparisonReport => JSON.parse(readFileSync(path, 'utf8')) as ComparisonReport;

describe('mlstm compare', () => {
  const out = (): string => join(dir, 'cmp');
  let first: ComparisonReport;

  beforeAll(async () => {
    const r = await runCli(['compare', '--data', corpus, '--out', out(), '--cells', 'mlstm,lstm', '--seeds', '2', '--steps', '5', ...TINY]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^mlstm H=100: [\d,]+ parameters; lstm H=\d+: [\d,]+ parameters \([+−]0\.\d\d%\)\n/);
    expect(r.stdout).toMatch(/\n\| cell +\| +H \| parameters \| validation bpc +\| dynamic-eval bpc \| chars\/s \| runs \|\n/);
    expect(r.stdout).toMatch(/\n\| mlstm \| 100 \| +[\d,]+ \| \d\.\d{4} ± \d\.\d{4} \| \d\.\d{4} ± \d\.\d{4} +\| +[\d.]+k? \| +2 \|\n/);
    first = reportOf(join(out(), 'compare.json'));
  });

  it("writes one JSON row per run with the issue's fields, the curves as SVG and every run's model", () => {
    expect(first.runs.map((r) => `${r.cell}/${r.seed}`)).toEqual(['mlstm/1', 'lstm/1', 'mlstm/2', 'lstm/2']);
    for (const run of first.runs) {
      for (const key of ['cell', 'hidden', 'params', 'seed', 'valid_bpc', 'dynamic_bpc', 'chars_per_s', 'curve'])
        expect(run).toHaveProperty(key);
      expect(run.curve.map((p) => p.step)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(run.chars).toBe(5 * 4 * 8);
    }
    expect(first.settings).toMatchObject({ steps: 5, valid_every: 1, batch: 4, seq: 8, eval_chars: 200, cells: ['mlstm', 'lstm'] });
    expect(first.command).toMatch(/^mlstm compare --data /);
    expect(readFileSync(join(out(), 'compare.svg'), 'utf8')).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  });

  it("each saved model scores the held-out characters at the run's validation bpc", () => {
    const text = readFileSync(corpus, 'utf8');
    for (const run of first.runs) {
      const { model, vocab } = decodeCheckpoint(readFileSync(join(out(), `${run.cell}-seed${run.seed}.safetensors`)));
      expect(model.config).toMatchObject({ cell: run.cell, hidden: run.hidden });
      const evalText = splitTrainValid(new TextCodec(vocab).encode(text)).valid.subarray(0, 200);
      expect(evaluate(model, evalText, { seq: 8, backend }).bpc).toBe(run.valid_bpc);
    }
  });

  it('refuses to overwrite a comparison; --resume with more seeds runs only the new ones; other settings are refused', async () => {
    const again = await runCli([
      'compare',
      '--data',
      corpus,
      '--out',
      out(),
      '--cells',
      'mlstm,lstm',
      '--seeds',
      '2',
      '--steps',
      '5',
      ...TINY,
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^mlstm: '.*compare.json' already holds a comparison; add --resume to continue it/);
    const other = await runCli([
      'compare',
      '--data',
      corpus,
      '--out',
      out(),
      '--cells',
      'mlstm,lstm',
      '--resume',
      '--lr',
      '0.01',
      '--steps',
      '5',
      ...TINY,
    ]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/was made with other lr; a resumed comparison keeps its settings/);
    const more = await runCli(['compare', '--data', corpus, '--out', out(), '--cells', 'mlstm,lstm', '--resume', '--seeds', '3', ...TINY]);
    expect(more.code, more.stderr).toBe(0);
    expect(more.stdout).toMatch(/resuming '.*compare.json': 4 of 6 runs done, 5 steps each/);
    expect(more.stdout).toMatch(/run 5\/6: mlstm H=100 seed 3/);
    const grown = reportOf(join(out(), 'compare.json'));
    expect(grown.runs.slice(0, 4)).toEqual(first.runs);
    expect(grown.runs.map((r) => `${r.cell}/${r.seed}`).slice(4)).toEqual(['mlstm/3', 'lstm/3']);
  });

  it('Ctrl-C abandons the current run, keeps the finished ones (exit 130), and --resume completes the comparison', async () => {
    const o = join(dir, 'interrupted');
    let sent = false;
    // Enough steps that run 2 is still going when the SIGINT lands: at 60 a loaded CI run once finished the
    // (now faster) LSTM run first and exited 0.
    const args = ['compare', '--data', corpus, '--out', o, '--cells', 'mlstm,lstm', '--seeds', '1', '--steps', '600', ...TINY];
    const r = await runCli(args, {
      onStdout: (chunk, child) => {
        if (!sent && /run 2\/2/.test(chunk)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(r.code, r.stderr).toBe(130);
    expect(r.stdout).toMatch(/interrupted after \S+; 1 runs saved in '.*compare.json' \(continue with the same command and --resume\)/);
    expect(reportOf(join(o, 'compare.json')).runs.map((x) => x.cell)).toEqual(['mlstm']);
    const resumed = await runCli([...args, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(reportOf(join(o, 'compare.json')).runs.map((x) => x.cell)).toEqual(['mlstm', 'lstm']);
  });

  it('with a budget: times each cell, plans the common steps, records the calibration', async () => {
    const o = join(dir, 'budget');
    const r = await runCli(['compare', '--data', corpus, '--out', o, '--cells', 'mlstm,mrnn', '--seeds', '1', '--budget', '0.15', ...TINY]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/calibrated mlstm: \d\.\d{3} s\/step/);
    expect(r.stdout).toMatch(/calibrated mrnn: /);
    expect(r.stdout).toMatch(
      /\d+ steps per run \(batch 4 × seq 8 = [\d,]+ characters, [\d.]+ passes over the training text\), validated every \d+ steps; estimated \S+ in all for a budget of 9s/,
    );
    const report = reportOf(join(o, 'compare.json'));
    expect(report.budget.minutes).toBe(0.15);
    expect(report.budget.calibration.map((c) => c.cell)).toEqual(['mlstm', 'mrnn']);
    expect(report.settings.steps).toBeGreaterThanOrEqual(10);
    expect(existsSync(join(o, 'mrnn-seed1.safetensors'))).toBe(true);
  });

  it('bad command lines exit 2, sizes that cannot match within 1% exit 1, each with one line', async () => {
    const cases: [string[], number, RegExp][] = [
      [['--cells', 'mlstm,gru'], 2, /^mlstm: compare: --cells: unknown cell 'gru'/],
      [['--cells', 'lstm,lstm'], 2, /^mlstm: compare: --cells lists a cell twice/],
      [['--budget', '5', '--steps', '3'], 2, /^mlstm: compare: --budget and --steps both set the length of the runs; give one/],
      [['--seeds', '0'], 2, /^mlstm: compare: --seeds must be between 1 and 100, got 0/],
      [
        ['--data', corpus, '--hidden', '6', '--steps', '2'],
        1,
        /^mlstm: cannot match the parameter counts within 1% at --hidden 6: the nearest lstm \(H=\d+\)/,
      ],
      [['--data', join(dir, 'absent.txt')], 1, /^mlstm: cannot read --data '.*absent.txt': no such file/],
    ];
    for (const [args, code, pattern] of cases) {
      const r = await runCli(['compare', '--out', join(dir, 'bad'), ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
  });
});
