/**
 * `mlstm compare`: the paper's experiment on one machine. mLSTM, LSTM and mRNN at equal parameter
 * counts, trained on the same text with the same windows, optimiser, schedule and number of characters,
 * for several seeds; each scored on held-out text plainly and with dynamic evaluation. Prints a table,
 * writes a JSON report (after every run, so Ctrl-C keeps what is done and --resume continues) and an
 * SVG of the validation curves.
 */
import os from 'node:os';
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tape } from '../../autograd/tape.js';
import { planBudget, type CellTiming } from '../../compare/budget.js';
import { calibrate, runComparisonOne, type ComparisonSetup } from '../../compare/experiment.js';
import {
  COMPARISON_REPORT_VERSION,
  differingSettings,
  parseComparisonReport,
  type ComparisonReport,
  type ComparisonSettings,
} from '../../compare/report.js';
import { matchSizes, type MatchedSize } from '../../compare/sizes.js';
import { summarise } from '../../compare/summary.js';
import { splitTrainValid, tokensFingerprint } from '../../data/split.js';
import { decodeUtf8Strict } from '../../data/utf8.js';
import { buildCharVocabulary, TextCodec, type Vocabulary } from '../../data/vocabulary.js';
import { encodeCheckpoint } from '../../io/checkpoint.js';
import { CELL_KINDS, type CellKind } from '../../nn/cells/index.js';
import type { ClosableBackend } from '../../node/gemm-workers.js';
import type { ScheduleSpec } from '../../optim/schedule.js';
import { DEFAULT_MAX_BAD_STEPS, type TrainerOptions } from '../../train/options.js';
import { formatHelp, HELP_FLAG, switchFlag, valueFlag, type CommandLine, type FlagSpecs } from '../args.js';
import { countFormat } from '../banner.js';
import { defineCommand } from '../command.js';
import { comparisonSvg } from '../compare-svg.js';
import { comparisonTable, sizesLine } from '../compare-table.js';
import { GemmWorkerFault } from '../../parallel/gemm-parallel.js';
import { CliError, EXIT_INTERRUPTED, EXIT_OK, UsageError } from '../errors.js';
import { readInputFile } from '../files.js';
import { watchInterrupts } from '../interrupt.js';
import { formatDuration, formatRate, ProgressMeter } from '../progress.js';
import { writeOutputFile } from '../saving.js';
import { BACKEND_FLAG, readBackend, readThreads, THREADS_FLAG, withThreads, type BackendKind } from '../threads.js';
import { stdoutReporter } from '../training-progress.js';
import { DEFAULT_DYNAMIC_LR, DEFAULT_DYNAMIC_SEQ } from './eval.js';

const CMD = 'compare';
/** The bundled corpus (package root/data), the default --data. */
const BUNDLED_DATA = fileURLToPath(new URL('../../../data/moby-dick.txt', import.meta.url));
/** Parameter counts must match the first cell's within this share. */
const TOLERANCE = 0.01;
const MAX_SIZE = 1 << 16;

export const COMPARE_FLAGS = {
  data: valueFlag('FILE', 'training text (default: the bundled data/moby-dick.txt); its last 5% is held out unless --valid is given'),
  valid: valueFlag('FILE', 'held-out text (then all of --data is trained on)'),
  cells: valueFlag('LIST', 'cells to compare, comma-separated (default mlstm,lstm,mrnn); the first sets the parameter count'),
  seeds: valueFlag('N', 'runs per cell, with seeds 1..N (default 3)'),
  budget: valueFlag('MINUTES', 'wall-clock budget of the whole comparison (default 20); sets the common number of steps'),
  steps: valueFlag('N', 'train every run for exactly N steps instead (no calibration, no budget)'),
  hidden: valueFlag('N', 'hidden units of the first cell (default 128); the others get the size that matches its parameters'),
  embed: valueFlag('N', 'embedding size (default 32)'),
  layers: valueFlag('N', 'stacked layers (default 1)'),
  batch: valueFlag('N', 'parallel streams B (default 32)'),
  seq: valueFlag('N', 'window length T for truncated BPTT (default 64)'),
  lr: valueFlag('X', 'Adam learning rate (default 3e-3)'),
  schedule: valueFlag('KIND', 'learning-rate schedule: constant, linear or cosine (default) decay to 0 at the last step'),
  warmup: valueFlag('N', 'linear warm-up steps before the schedule (default 0)'),
  clip: valueFlag('X', 'clip the global gradient norm to X; 0 = off (default 1)'),
  'embed-dropout': valueFlag('P', 'embedding dropout of every run (docs/training.md; default 0)'),
  'hidden-dropout': valueFlag('P', 'variational hidden-state dropout of every run (default 0)'),
  'eval-chars': valueFlag('N', 'score the first N characters of the held-out text (default 20000; 0 = all of it)'),
  'curve-points': valueFlag('N', 'validations per run for the curves, besides the start (default 8)'),
  'dynamic-lr': valueFlag('X', `SGD learning rate of dynamic evaluation (default ${DEFAULT_DYNAMIC_LR})`),
  'dynamic-seq': valueFlag('N', `segment length of dynamic evaluation (default ${DEFAULT_DYNAMIC_SEQ})`),
  out: valueFlag('DIR', "where the report, the curves and each run's model go (default runs/compare)"),
  json: valueFlag('FILE', 'the JSON report, one row per run (default DIR/compare.json)'),
  resume: switchFlag('continue the comparison saved in --json: run only what it lacks (more --seeds add runs)'),
  ...THREADS_FLAG,
  ...BACKEND_FLAG,
  ...HELP_FLAG,
} as const satisfies FlagSpecs;

const COMPARE_HELP = formatHelp(
  'mlstm compare [--data FILE] [--valid FILE] [--cells mlstm,lstm,mrnn] [--seeds N] [--budget MINUTES] [--json FILE] [--out DIR]',
  'Reproduce the claim of Krause et al. (2016) on this machine: train the cells at equal parameter counts\n' +
    '(within 1%) on the same text, windows, optimiser, schedule and number of characters, for N seeds each;\n' +
    'score each on the held-out text plainly and with dynamic evaluation. Each cell is timed first, and the\n' +
    'common number of steps is the largest that fits the budget (docs in examples/compare/README.md).\n' +
    'Prints a table (mean ± sd over seeds); writes DIR/compare.json after every run, DIR/compare.svg (the\n' +
    "validation curves against characters and wall time) and each run's model. Ctrl-C keeps the finished\n" +
    'runs (exit 130); --resume runs the rest.',
  COMPARE_FLAGS,
);

interface CompareCommandOptions {
  dataPath: string;
  validPath: string | undefined;
  cells: CellKind[];
  seeds: number;
  /** Minutes, or null with --steps. */
  budget: number | null;
  steps: number | null;
  hidden: number;
  embed: number;
  layers: number;
  evalChars: number;
  curvePoints: number;
  dynamic: { lr: number; seq: number };
  /** Trainer options without steps and validEvery (the budget decides them). */
  trainer: Omit<TrainerOptions, 'steps' | 'validEvery' | 'schedule'>;
  schedule: { kind: 'constant' | 'linear' | 'cosine'; lr: number; warmup: number };
  outDir: string;
  jsonPath: string;
  svgPath: string;
  resume: boolean;
  threads: number;
  backend: BackendKind;
  argv: readonly string[];
}

function readCells(raw: string | undefined): CellKind[] {
  if (raw === undefined) return ['mlstm', 'lstm', 'mrnn'];
  const cells = raw.split(',').map((s) => s.trim());
  for (const c of cells) {
    if (!(CELL_KINDS as readonly string[]).includes(c))
      throw new UsageError(`${CMD}: --cells: unknown cell '${c}' (expected a comma-separated list of ${CELL_KINDS.join(', ')})`);
  }
  if (new Set(cells).size !== cells.length) throw new UsageError(`${CMD}: --cells lists a cell twice: '${raw}'`);
  return cells as CellKind[];
}

function parse({ args, f, argv }: CommandLine): CompareCommandOptions {
  if (args.positionals.length > 0)
    throw new UsageError(`${CMD}: unexpected argument '${args.positionals[0]}' (the text is given with --data FILE)`);
  if (f.has('budget') && f.has('steps')) throw new UsageError(`${CMD}: --budget and --steps both set the length of the runs; give one`);
  const cells = readCells(f.string('cells'));
  const steps = f.int('steps', undefined, 1, 1e9) ?? null;
  const budget = steps === null ? f.number('budget', 20, { minExclusive: 0, max: 1e6 }) : null;
  const batch = f.int('batch', 32, 1, 1 << 14);
  const lr = f.number('lr', 3e-3, { minExclusive: 0, max: 10 });
  const outDir = f.string('out') ?? join('runs', 'compare');
  const jsonPath = f.string('json') ?? join(outDir, 'compare.json');
  const embedDropout = f.number('embed-dropout', 0, { min: 0, max: 0.99 });
  const hiddenDropout = f.number('hidden-dropout', 0, { min: 0, max: 0.99 });
  return {
    dataPath: f.string('data') ?? BUNDLED_DATA,
    validPath: f.string('valid'),
    cells,
    seeds: f.int('seeds', 3, 1, 100),
    budget,
    steps,
    hidden: f.int('hidden', 128, 1, MAX_SIZE),
    embed: f.int('embed', 32, 1, MAX_SIZE),
    layers: f.int('layers', 1, 1, 64),
    evalChars: f.int('eval-chars', 20000, 0, 1e9),
    curvePoints: f.int('curve-points', 8, 1, 1000),
    dynamic: {
      lr: f.number('dynamic-lr', DEFAULT_DYNAMIC_LR, { min: 0, max: 100 }),
      seq: f.int('dynamic-seq', DEFAULT_DYNAMIC_SEQ, 1, 1 << 16),
    },
    trainer: {
      batch,
      seq: f.int('seq', 64, 1, 1 << 16),
      optimizer: { name: 'adam', lr },
      clip: f.number('clip', 1, { min: 0, max: 1e6 }),
      validBatch: 1,
      checkpointEvery: 0,
      maxBadSteps: DEFAULT_MAX_BAD_STEPS,
      ...(embedDropout > 0 ? { embedDropout } : {}),
      ...(hiddenDropout > 0 ? { hiddenDropout } : {}),
    },
    schedule: { kind: f.choice('schedule', 'cosine', ['constant', 'linear', 'cosine'] as const), lr, warmup: f.int('warmup', 0, 0, 1e9) },
    outDir,
    jsonPath,
    svgPath: join(outDir, 'compare.svg'),
    resume: f.flag('resume'),
    backend: readBackend(f),
    threads: readThreads(f),
    argv,
  };
}

/** A path as the report shows it: relative to the working directory when it lies inside it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** The shared texts: training tokens, the evaluation text (the start of the held-out text), the vocabulary. */
interface Texts {
  vocab: Vocabulary;
  train: Int32Array;
  evalText: Int32Array;
  heldOut: number;
  split: string;
}

function readTexts(o: CompareCommandOptions): Texts {
  const data = decodeUtf8Strict(readInputFile(o.dataPath, `--data '${o.dataPath}'`), o.dataPath);
  const valid = o.validPath !== undefined ? decodeUtf8Strict(readInputFile(o.validPath, `--valid '${o.validPath}'`), o.validPath) : null;
  // Both texts make the vocabulary, so no held-out character is unknown to the models.
  const vocab = buildCharVocabulary(valid === null ? data : data + valid);
  const codec = new TextCodec(vocab);
  const all = codec.encode(data, o.dataPath);
  const parts = valid === null ? splitTrainValid(all) : { train: all, valid: codec.encode(valid, o.validPath!) };
  const evalText = o.evalChars > 0 ? parts.valid.subarray(0, o.evalChars) : parts.valid;
  if (evalText.length < 2)
    throw new CliError(
      `the held-out text has ${parts.valid.length} characters; scoring needs at least 2 (give a longer --data or a --valid FILE)`,
    );
  const split =
    valid === null
      ? `the last 5% of --data held out (${countFormat.format(parts.train.length)} training / ${countFormat.format(parts.valid.length)} held-out characters)`
      : `all of --data trained on, --valid held out (${countFormat.format(parts.train.length)} / ${countFormat.format(parts.valid.length)} characters)`;
  return { vocab, train: parts.train, evalText, heldOut: parts.valid.length, split };
}

function scheduleFor(o: CompareCommandOptions, steps: number): ScheduleSpec {
  const { kind, lr, warmup } = o.schedule;
  const inner: ScheduleSpec = kind === 'constant' ? { kind, lr } : { kind, lr, steps: Math.max(1, steps - warmup) };
  return warmup > 0 ? { kind: 'warmup', steps: warmup, then: inner } : inner;
}

function settingsOf(o: CompareCommandOptions, texts: Texts, steps: number, validEvery: number): ComparisonSettings {
  return {
    cells: o.cells,
    hidden: o.hidden,
    vocab: new TextCodec(texts.vocab).size,
    embed: o.embed,
    layers: o.layers,
    batch: o.trainer.batch,
    seq: o.trainer.seq,
    steps,
    valid_every: validEvery,
    optimizer: 'adam',
    lr: o.schedule.lr,
    schedule: o.schedule.kind,
    warmup: o.schedule.warmup,
    clip: o.trainer.clip,
    embed_dropout: o.trainer.embedDropout ?? 0,
    hidden_dropout: o.trainer.hiddenDropout ?? 0,
    dynamic_lr: o.dynamic.lr,
    dynamic_seq: o.dynamic.seq,
    train_chars: texts.train.length,
    eval_chars: texts.evalText.length,
    train_fingerprint: tokensFingerprint(texts.train),
    eval_fingerprint: tokensFingerprint(texts.evalText),
  };
}

function matchedSizes(o: CompareCommandOptions, vocab: number): MatchedSize[] {
  const sizes = matchSizes(o.cells, { cell: o.cells[0]!, hidden: o.hidden }, { vocab, embed: o.embed, layers: o.layers });
  const off = sizes.find((s) => Math.abs(s.difference) > TOLERANCE);
  if (off)
    throw new CliError(
      `cannot match the parameter counts within 1% at --hidden ${o.hidden}: the nearest ${off.cell} (H=${off.hidden}) has ${countFormat.format(off.params)} parameters, ` +
        `${(100 * off.difference).toFixed(2)}% from ${countFormat.format(sizes[0]!.params)}; give a larger --hidden`,
    );
  return sizes;
}

/** The saved report to continue (--resume), checked against this command line; null for a new comparison. */
function savedReport(o: CompareCommandOptions): ComparisonReport | null {
  const exists = existsSync(o.jsonPath);
  if (!o.resume) {
    if (exists)
      throw new CliError(`'${o.jsonPath}' already holds a comparison; add --resume to continue it, or give another --out or --json`);
    return null;
  }
  if (!exists) throw new CliError(`cannot resume: '${o.jsonPath}' does not exist (run without --resume first)`);
  return parseComparisonReport(new TextDecoder().decode(readInputFile(o.jsonPath, `--json '${o.jsonPath}'`)), o.jsonPath);
}

/** Time every cell, then plan the common step count for the budget. */
async function planRuns(
  o: CompareCommandOptions,
  setup: ComparisonSetup,
  sizes: readonly MatchedSize[],
  tape: Tape,
  clock: () => number,
): Promise<{ steps: number; validEvery: number; calibration: CellTiming[]; calibrationSeconds: number; estimated: number | null }> {
  if (o.steps !== null)
    return {
      steps: o.steps,
      validEvery: Math.max(1, Math.ceil(o.steps / o.curvePoints)),
      calibration: [],
      calibrationSeconds: 0,
      estimated: null,
    };
  const started = clock();
  const calibration: CellTiming[] = [];
  for (const size of sizes) {
    const t = await calibrate(setup, size, { tape, clock });
    calibration.push(t);
    process.stdout.write(
      `calibrated ${size.cell}: ${t.secondsPerStep.toFixed(3)} s/step (${formatRate((o.trainer.batch * o.trainer.seq) / t.secondsPerStep)} chars/s), ` +
        `evaluation ${formatRate(t.evalCharsPerSecond)} chars/s, dynamic ${formatRate(t.dynamicCharsPerSecond)} chars/s\n`,
    );
  }
  const calibrationSeconds = (clock() - started) / 1000;
  const plan = planBudget(calibration, {
    budgetSeconds: o.budget! * 60,
    spentSeconds: calibrationSeconds,
    seeds: o.seeds,
    evalChars: setup.evalText.length,
    curvePoints: o.curvePoints,
  });
  return { steps: plan.steps, validEvery: plan.validEvery, calibration, calibrationSeconds, estimated: plan.estimatedSeconds };
}

async function execute(o: CompareCommandOptions): Promise<number> {
  const texts = readTexts(o);
  const vocabSize = new TextCodec(texts.vocab).size;
  const sizes = matchedSizes(o, vocabSize);
  const saved = savedReport(o);
  process.stdout.write(`${sizesLine(sizes)}\n`);
  process.stdout.write(
    `data: '${shown(o.dataPath)}', ${texts.split}; scored on ${countFormat.format(texts.evalText.length)} held-out characters\n`,
  );
  return withThreads(
    o.threads,
    async (backend) => {
      try {
        return await compareRuns(o, texts, sizes, saved, backend);
      } catch (error) {
        if (!(error instanceof GemmWorkerFault)) throw error;
        throw new CliError(
          `compare stopped: ${error.reason}; the finished runs are in '${shown(o.jsonPath)}' — continue with the same command and --resume (add --threads 1 to compute on one thread)`,
        );
      }
    },
    o.backend,
  );
}

async function compareRuns(
  o: CompareCommandOptions,
  texts: Texts,
  sizes: MatchedSize[],
  saved: ComparisonReport | null,
  backend: ClosableBackend,
): Promise<number> {
  const clock = (): number => performance.now();
  const started = clock();
  const tape = new Tape({ backend });
  const shape = { vocab: new TextCodec(texts.vocab).size, embed: o.embed, layers: o.layers };
  const setupFor = (steps: number, validEvery: number): ComparisonSetup => ({
    shape,
    trainer: { ...o.trainer, steps, validEvery, schedule: scheduleFor(o, steps) },
    dynamic: o.dynamic,
    train: texts.train,
    evalText: texts.evalText,
    source: o.validPath !== undefined ? `--data '${o.dataPath}'` : `the training part of --data '${o.dataPath}'`,
  });

  let report: ComparisonReport;
  if (saved) {
    const settings = settingsOf(o, texts, saved.settings.steps, saved.settings.valid_every);
    const differ = differingSettings(settings, saved.settings);
    if (o.steps !== null && o.steps !== saved.settings.steps) differ.push('steps');
    if (differ.length > 0)
      throw new UsageError(
        `${CMD}: the comparison in '${o.jsonPath}' was made with other ${differ.join(', ')}; a resumed comparison keeps its settings (only --seeds may grow)`,
      );
    const seeds = Array.from({ length: Math.max(o.seeds, saved.seeds.length) }, (_, i) => i + 1);
    report = { ...saved, seeds };
    process.stdout.write(
      `resuming '${o.jsonPath}': ${saved.runs.length} of ${seeds.length * sizes.length} runs done, ${saved.settings.steps} steps each\n`,
    );
  } else {
    const plan = await planRuns(o, setupFor(1, 1), sizes, tape, clock);
    report = {
      version: COMPARISON_REPORT_VERSION,
      command: ['mlstm', CMD, ...o.argv].join(' '),
      data: { train: shown(o.dataPath), valid: o.validPath !== undefined ? shown(o.validPath) : null, split: texts.split },
      settings: settingsOf(o, texts, plan.steps, plan.validEvery),
      sizes,
      seeds: Array.from({ length: o.seeds }, (_, i) => i + 1),
      budget: {
        minutes: o.budget,
        calibration: plan.calibration,
        calibration_seconds: plan.calibrationSeconds,
        estimated_seconds: plan.estimated,
      },
      machine: {
        threads: backend.threads,
        cpus: os.cpus().length,
        load_average: os.loadavg().map((l) => Number(l.toFixed(2))),
        node: process.version,
      },
      runs: [],
    };
    const chars = plan.steps * o.trainer.batch * o.trainer.seq;
    process.stdout.write(
      `${plan.steps} steps per run (batch ${o.trainer.batch} × seq ${o.trainer.seq} = ${countFormat.format(chars)} characters, ` +
        `${(chars / texts.train.length).toFixed(2)} passes over the training text), validated every ${plan.validEvery} steps` +
        `${plan.estimated !== null ? `; estimated ${formatDuration(plan.estimated + plan.calibrationSeconds)} in all for a budget of ${formatDuration(o.budget! * 60)}` : ''}\n`,
    );
  }
  const { steps, valid_every: validEvery } = report.settings;
  const setup = setupFor(steps, validEvery);
  await writeReport(o, report);

  const todo = report.seeds
    .flatMap((seed) => sizes.map((size) => ({ seed, size })))
    .filter(({ seed, size }) => !report.runs.some((r) => r.seed === seed && r.cell === size.cell));
  const reporter = stdoutReporter(steps, Math.max(1, Math.ceil(steps / 4)), clock);
  const interrupts = watchInterrupts(
    reporter,
    `interrupted: abandoning this run; the finished ones are kept in '${o.jsonPath}' (Ctrl-C again to quit now)`,
  );
  let interrupted = false;
  try {
    for (const { seed, size } of todo) {
      if (interrupts.requested) {
        interrupted = true;
        break;
      }
      process.stdout.write(
        `run ${report.runs.length + 1}/${report.seeds.length * sizes.length}: ${size.cell} H=${size.hidden} seed ${seed}\n`,
      );
      const meter = new ProgressMeter(o.trainer.batch * o.trainer.seq, clock);
      const done = await runComparisonOne(setup, size, seed, {
        tape,
        clock,
        onStep: (r) => reporter.update(meter.record(r.step, steps, r.bpc)),
        onValidation: (step, bpc) => {
          reporter.message(`  step ${step}: validation bpc ${bpc.toFixed(4)}`);
          meter.skipPause();
        },
        onWarning: (message) => {
          reporter.finish();
          process.stderr.write(`mlstm: warning: ${message}\n`);
        },
        shouldStop: () => interrupts.requested,
      });
      reporter.finish();
      if (done === null) {
        interrupted = true;
        break;
      }
      const { run, model } = done;
      report.runs.push(run);
      await writeOutputFile(join(o.outDir, `${size.cell}-seed${seed}.safetensors`), encodeCheckpoint(model, texts.vocab));
      await writeReport(o, report);
      const scores =
        run.status === 'completed'
          ? `validation bpc ${run.valid_bpc!.toFixed(4)}, dynamic ${run.dynamic_bpc === null ? '—' : run.dynamic_bpc.toFixed(4)}`
          : 'diverged';
      process.stdout.write(`  ${scores}; ${formatRate(run.chars_per_s)} chars/s, ${formatDuration(run.train_seconds)} training\n`);
    }
  } finally {
    interrupts.dispose();
    reporter.finish();
  }
  process.stdout.write(`\n${comparisonTable(summarise(sizes, report.runs))}`);
  process.stdout.write(
    `bpc: mean ± sample sd over seeds, on ${countFormat.format(texts.evalText.length)} held-out characters (one sequence); chars/s: training, mean over runs\n`,
  );
  const elapsed = formatDuration((clock() - started) / 1000);
  if (interrupted) {
    process.stdout.write(
      `interrupted after ${elapsed}; ${report.runs.length} runs saved in '${o.jsonPath}' (continue with the same command and --resume)\n`,
    );
    return EXIT_INTERRUPTED;
  }
  process.stdout.write(`done in ${elapsed}: '${o.jsonPath}', '${o.svgPath}' and the models in '${o.outDir}'\n`);
  return EXIT_OK;
}

const RUNS_MARK = '\u0000runs';

async function writeReport(o: CompareCommandOptions, report: ComparisonReport): Promise<void> {
  // Readable and diffable: the settings indented, each run (with its curve) on one line.
  const head = JSON.stringify({ ...report, runs: RUNS_MARK }, null, 1);
  const runs = report.runs.length === 0 ? '[]' : `[\n  ${report.runs.map((r) => JSON.stringify(r)).join(',\n  ')}\n ]`;
  await writeOutputFile(o.jsonPath, new TextEncoder().encode(`${head.replace(JSON.stringify(RUNS_MARK), runs)}\n`));
  const labels = Object.fromEntries(
    report.sizes.map((s) => [s.cell, `${s.cell} H=${s.hidden}, ${countFormat.format(s.params)} parameters`]),
  );
  const title = `validation bpc, ${report.settings.steps} steps × ${report.settings.batch}×${report.settings.seq} characters, ${report.seeds.length} seed${report.seeds.length === 1 ? '' : 's'}`;
  await writeOutputFile(o.svgPath, new TextEncoder().encode(comparisonSvg(report.runs, { title, labels })));
}

export const run = defineCommand({ name: CMD, flags: COMPARE_FLAGS, help: COMPARE_HELP, parse, execute });
