/** `mlstm train --data FILE --out FILE.safetensors`: train a model, or continue a saved run (--resume). */
import { Tape } from '../../autograd/tape.js';
import { splitTrainValid } from '../../data/split.js';
import { decodeUtf8Strict } from '../../data/utf8.js';
import { BYTES_VOCABULARY, describeUnknown, TextCodec, trainingVocabulary, type Vocabulary } from '../../data/vocabulary.js';
import { CharLM, type CharLMConfig } from '../../nn/charlm.js';
import type { ClosableBackend } from '../../node/gemm-workers.js';
import type { ScheduleSpec } from '../../optim/schedule.js';
import { Rng } from '../../tensor/rng.js';
import type { Tensor } from '../../tensor/tensor.js';
import { DEFAULT_MAX_BAD_STEPS, type TrainerOptions } from '../../train/options.js';
import { importTrainerState, readTrainMetadata } from '../../train/state.js';
import { Trainer } from '../../train/trainer.js';
import { formatHelp, HELP_FLAG, switchFlag, valueFlag, type CommandLine, type FlagReader, type FlagSpecs } from '../args.js';
import { countFormat, modelBanner } from '../banner.js';
import { decodeCheckpointOrExplain, type LoadedCheckpoint } from '../checkpoint-file.js';
import { defineCommand } from '../command.js';
import { GemmWorkerFault } from '../../parallel/gemm-parallel.js';
import { CliError, describeError, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, UsageError } from '../errors.js';
import { curvesPathFor, encodeFile, ensureParentDirectory, fileExists, readInputFile } from '../files.js';
import { watchInterrupts } from '../interrupt.js';
import { formatDuration } from '../progress.js';
import { saveTrainingRun, type RunFiles } from '../saving.js';
import { BACKEND_FLAG, kernelsLine, readBackend, readThreads, THREADS_FLAG, withThreads, type BackendKind } from '../threads.js';
import { stdoutReporter, trainWithProgress } from '../training-progress.js';

const CMD = 'train';
const MAX_SIZE = 1 << 16;

export const TRAIN_FLAGS = {
  data: valueFlag(
    'FILE',
    'training text (required); its last 5% is the validation text unless --valid is given. The vocabulary is the characters of the training and validation text, plus U+FFFD for any other',
  ),
  valid: valueFlag('FILE', 'validation text (then all of --data is trained on)'),
  out: valueFlag('FILE', 'checkpoint to write (required), e.g. runs/model.safetensors; the loss curves go beside it as .svg'),
  resume: switchFlag('continue the run saved in --out (model, optimiser, step, data position, RNG)'),
  init: valueFlag(
    'FILE',
    "start from the weights of checkpoint FILE (its model and vocabulary) instead of random ones; otherwise a new run: a new optimiser, step 0, this command's schedule",
  ),
  bytes: switchFlag('byte-level model (V = 256, UTF-8 bytes) instead of the characters of --data'),
  cell: valueFlag('KIND', 'mlstm (default), lstm or mrnn'),
  'weight-norm': switchFlag('weight-normalised matrices (W = g·v/‖v‖ per row)'),
  hidden: valueFlag('N', 'hidden units per layer (default 128)'),
  embed: valueFlag('N', 'embedding size (default 32)'),
  layers: valueFlag('N', 'stacked layers (default 1)'),
  dropout: valueFlag('X', 'dropout between stacked layers (training only), in [0, 1) (default 0)'),
  'embed-dropout': valueFlag('P', 'embedding dropout (training only): per window and stream, whole characters are dropped (default 0)'),
  'hidden-dropout': valueFlag('P', 'variational hidden-state dropout (training only): one mask per window, stream and layer (default 0)'),
  batch: valueFlag('N', 'parallel streams B (default 32)'),
  seq: valueFlag('N', 'window length T for truncated BPTT (default 64)'),
  steps: valueFlag('N', 'total training steps, one window each (default 1000)'),
  lr: valueFlag('X', 'learning rate (default 3e-3)'),
  optimizer: valueFlag('NAME', 'adam (default) or adamw'),
  'weight-decay': valueFlag('X', 'weight decay (L2 for adam, decoupled for adamw; default 0)'),
  schedule: valueFlag('KIND', 'learning-rate schedule: constant (default), linear or cosine decay to 0 at --steps'),
  warmup: valueFlag('N', 'linear warm-up steps before the schedule (default 0)'),
  clip: valueFlag('X', 'clip the global gradient norm to X; 0 = off (default 1)'),
  seed: valueFlag('N', 'random seed: the same seed gives the same numbers (default 0)'),
  'valid-every': valueFlag('N', 'validate every N steps (default: 5 times per run)'),
  'checkpoint-every': valueFlag('N', 'save a checkpoint every N steps (default: as --valid-every)'),
  'log-every': valueFlag('N', 'when not on a terminal, print progress every N steps (default: 20 lines per run)'),
  'max-bad-steps': valueFlag('N', 'stop after N non-finite steps in a row (default 5)'),
  ...THREADS_FLAG,
  ...BACKEND_FLAG,
  ...HELP_FLAG,
} as const satisfies FlagSpecs;

const TRAIN_HELP = formatHelp(
  'mlstm train --data FILE --out FILE.safetensors [options]',
  'Train a character-level language model with truncated backpropagation through time.\n' +
    'Shows step/steps, training bits/char, characters per second and ETA, and validation bits/char as it\n' +
    'goes. Checkpoints are written atomically; Ctrl-C saves one and exits (code 130); --resume continues it.',
  TRAIN_FLAGS,
);

/** The model flags: a config without the vocabulary (that comes from the text or the checkpoint). */
type ModelShape = Omit<CharLMConfig, 'vocab'>;

interface TrainCommandOptions {
  dataPath: string;
  outPath: string;
  validPath: string | undefined;
  resume: boolean;
  /** --init: the checkpoint whose weights a new run starts from. */
  initPath: string | undefined;
  bytes: boolean;
  seed: number;
  logEvery: number | undefined;
  threads: number;
  backend: BackendKind;
  model: ModelShape;
  /** Model flags the user gave explicitly (a resumed run checks them against the checkpoint). */
  modelGiven: Partial<Record<keyof ModelShape, boolean>>;
  trainer: TrainerOptions;
  /** Which training flags were given (a resumed run refuses one that differs from the saved run). */
  given: ReadonlySet<string>;
}

function readModelFlags(f: FlagReader): { model: ModelShape; modelGiven: TrainCommandOptions['modelGiven'] } {
  const model: ModelShape = {
    cell: f.choice('cell', 'mlstm', ['mlstm', 'lstm', 'mrnn'] as const),
    weightNorm: f.flag('weight-norm'),
    embed: f.int('embed', 32, 1, MAX_SIZE),
    hidden: f.int('hidden', 128, 1, MAX_SIZE),
    layers: f.int('layers', 1, 1, 64),
    dropout: f.number('dropout', 0, { min: 0, max: 0.99 }),
  };
  const modelGiven = {
    cell: f.has('cell'),
    weightNorm: f.flag('weight-norm'),
    embed: f.has('embed'),
    hidden: f.has('hidden'),
    layers: f.has('layers'),
    dropout: f.has('dropout'),
  };
  return { model, modelGiven };
}

function readTrainerOptions(f: FlagReader): TrainerOptions {
  const steps = f.int('steps', 1000, 1, 1e9);
  const batch = f.int('batch', 32, 1, 1 << 14);
  const lr = f.number('lr', 3e-3, { minExclusive: 0, max: 10 });
  const kind = f.choice('schedule', 'constant', ['constant', 'linear', 'cosine'] as const);
  const warmup = f.int('warmup', 0, 0, 1e9);
  const inner: ScheduleSpec = kind === 'constant' ? { kind: 'constant', lr } : { kind, lr, steps: Math.max(1, steps - warmup) };
  const validEvery = f.int('valid-every', Math.max(1, Math.ceil(steps / 5)), 0, 1e9);
  return {
    batch,
    seq: f.int('seq', 64, 1, 1 << 16),
    steps,
    optimizer: {
      name: f.choice('optimizer', 'adam', ['adam', 'adamw'] as const),
      lr,
      weight_decay: f.number('weight-decay', 0, { min: 0, max: 1 }),
    },
    schedule: warmup > 0 ? { kind: 'warmup', steps: warmup, then: inner } : inner,
    clip: f.number('clip', 1, { min: 0, max: 1e6 }),
    validEvery,
    validBatch: batch,
    checkpointEvery: f.int('checkpoint-every', validEvery, 0, 1e9),
    maxBadSteps: f.int('max-bad-steps', DEFAULT_MAX_BAD_STEPS, 1, 1e6),
    // Absent unless given, so the options a run saves are the same as before these flags existed.
    ...positive('embedDropout', f.number('embed-dropout', 0, { min: 0, max: 0.99 })),
    ...positive('hiddenDropout', f.number('hidden-dropout', 0, { min: 0, max: 0.99 })),
  };
}

function positive<K extends string>(key: K, value: number): Partial<Record<K, number>> {
  return value > 0 ? ({ [key]: value } as Record<K, number>) : {};
}

function parse({ args, f }: CommandLine): TrainCommandOptions {
  if (args.positionals.length > 0)
    throw new UsageError(`${CMD}: unexpected argument '${args.positionals[0]}' (the text is given with --data FILE)`);
  const dataPath = f.requiredString('data', 'FILE (the training text)');
  const outPath = f.requiredString('out', 'FILE.safetensors (where to save the model)');
  const validPath = f.string('valid');
  const resume = f.flag('resume');
  const initPath = f.string('init');
  if (resume && initPath !== undefined)
    throw new UsageError(`${CMD}: --resume continues the run in --out; --init starts a new one from '${initPath}': give one of them`);
  const seed = f.int('seed', 0, 0, Number.MAX_SAFE_INTEGER);
  const logEvery = f.int('log-every', undefined, 1, 1e9);
  const backend = readBackend(f);
  const threads = readThreads(f);
  const { model, modelGiven } = readModelFlags(f);
  const trainer = readTrainerOptions(f);
  const given = new Set(Object.keys(args.values).filter((name) => args.values[name] !== undefined));
  return {
    dataPath,
    outPath,
    validPath,
    resume,
    initPath,
    bytes: f.flag('bytes'),
    seed,
    logEvery,
    threads,
    backend,
    model,
    modelGiven,
    trainer,
    given,
  };
}

/** Training flags and the option each one sets: a resumed run keeps its saved options, except --steps. */
const RESUME_CHECKED: readonly (readonly [string, keyof TrainerOptions])[] = [
  ['batch', 'batch'],
  ['seq', 'seq'],
  ['lr', 'optimizer'],
  ['lr', 'schedule'],
  ['optimizer', 'optimizer'],
  ['weight-decay', 'optimizer'],
  ['schedule', 'schedule'],
  ['warmup', 'schedule'],
  ['clip', 'clip'],
  ['valid-every', 'validEvery'],
  ['checkpoint-every', 'checkpointEvery'],
  ['max-bad-steps', 'maxBadSteps'],
  ['embed-dropout', 'embedDropout'],
  ['hidden-dropout', 'hiddenDropout'],
];

/** A saved option as compared on resume: the dropout options are absent when 0. */
const asSaved = (o: TrainerOptions, key: keyof TrainerOptions): string =>
  JSON.stringify(key === 'embedDropout' || key === 'hiddenDropout' ? (o[key] ?? 0) : o[key]);

function resumedOptions(o: TrainCommandOptions, saved: TrainerOptions): TrainerOptions {
  for (const [flag, key] of RESUME_CHECKED) {
    if (o.given.has(flag) && asSaved(o.trainer, key) !== asSaved(saved, key)) {
      throw new UsageError(
        `${CMD}: --${flag} differs from the run saved in '${o.outPath}'; a resumed run keeps its settings (only --steps may change)`,
      );
    }
  }
  return { ...saved, steps: o.given.has('steps') ? o.trainer.steps : saved.steps };
}

/** The saved run of --out, checked against the flags given with --resume. */
interface SavedRun {
  model: CharLM;
  vocab: Vocabulary;
  options: TrainerOptions;
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

function loadSavedRun(o: TrainCommandOptions): SavedRun {
  const { outPath } = o;
  if (!fileExists(outPath)) throw new CliError(`cannot resume: --out '${outPath}' does not exist (train without --resume first)`);
  const loaded = decodeCheckpointOrExplain(readInputFile(outPath, `checkpoint '${outPath}'`), outPath);
  const meta = readTrainMetadata(loaded.metadata, outPath);
  // Dropout is not part of the contract's config; the run kept it in its training state.
  const model = checkpointModel(o, loaded, meta.dropout, outPath, 'resume');
  return { model, vocab: loaded.vocab, options: meta.options, tensors: loaded.extraTensors, metadata: loaded.metadata };
}

/** --init: the model and vocabulary of a checkpoint, for a new run (this command's dropout between layers). */
function loadInitModel(o: TrainCommandOptions, initPath: string): { model: CharLM; vocab: Vocabulary } {
  const loaded = decodeCheckpointOrExplain(readInputFile(initPath, `--init '${initPath}'`), initPath);
  return { model: checkpointModel(o, loaded, o.model.dropout ?? 0, initPath, 'start from'), vocab: loaded.vocab };
}

/** A checkpoint's model as a CharLM, after checking --bytes and the model flags given against it. */
function checkpointModel(o: TrainCommandOptions, loaded: LoadedCheckpoint, dropout: number, path: string, verb: string): CharLM {
  const vocab = loaded.vocab;
  if (o.bytes !== (vocab.kind === 'bytes')) {
    throw new UsageError(
      `${CMD}: '${path}' is a ${vocab.kind === 'bytes' ? 'byte-level' : 'character-level'} model; ${o.bytes ? 'drop' : 'add'} --bytes to ${verb} it`,
    );
  }
  const config: CharLMConfig = { ...loaded.config, dropout };
  for (const key of Object.keys(o.modelGiven) as (keyof ModelShape)[]) {
    if (key === 'dropout' && verb !== 'resume') continue; // a new run's own setting
    if (o.modelGiven[key] && o.model[key] !== config[key]) {
      throw new UsageError(
        `${CMD}: --${key === 'weightNorm' ? 'weight-norm' : key} ${String(o.model[key])} does not match the model in '${path}' (${String(config[key])})`,
      );
    }
  }
  const model = new CharLM(config, { rng: new Rng(o.seed) });
  model.loadStateDict(loaded.model.stateDict(), { source: path });
  return model;
}

/** Everything a run needs before it starts: the model (new or resumed), its vocabulary, the data and options. */
interface PreparedRun {
  model: CharLM;
  vocab: Vocabulary;
  unit: string;
  train: Int32Array;
  valid: Int32Array;
  /** How the training text is named in errors. */
  source: string;
  options: TrainerOptions;
  saved: SavedRun | null;
  /** Report lines for characters a resumed run's vocabulary lacks (read as U+FFFD), one per file; usually none. */
  unknown: string[];
}

function prepareRun(o: TrainCommandOptions): PreparedRun {
  const { dataPath, validPath } = o;
  const dataBytes = readInputFile(dataPath, `--data '${dataPath}'`);
  const validBytes = validPath !== undefined ? readInputFile(validPath, `--valid '${validPath}'`) : null;
  const saved = o.resume ? loadSavedRun(o) : null;
  const init = o.initPath !== undefined ? loadInitModel(o, o.initPath) : null;
  // A new character model's vocabulary: the training and validation text's characters, plus U+FFFD
  // (SPEC-NOTES §2), so a validation character the training text lacks is a symbol of its own.
  const vocab = saved
    ? saved.vocab
    : init
      ? init.vocab
      : o.bytes
        ? BYTES_VOCABULARY
        : trainingVocabulary(decodeUtf8Strict(dataBytes, dataPath), validBytes ? decodeUtf8Strict(validBytes, validPath!) : '');
  const codec = new TextCodec(vocab);
  const model = saved ? saved.model : init ? init.model : new CharLM({ ...o.model, vocab: codec.size }, { rng: new Rng(o.seed) });
  const unit = vocab.kind === 'bytes' ? 'bytes' : 'characters';
  const data = encodeFile(dataBytes, codec, dataPath);
  const validEncoded = validBytes ? encodeFile(validBytes, codec, validPath!) : null;
  const split = validEncoded ? { train: data.tokens, valid: validEncoded.tokens } : splitTrainValid(data.tokens);
  // Only a resumed or --init run can meet characters its vocabulary lacks (read as U+FFFD, or refused if it has none).
  const unknown = [
    ...(data.unknown > 0 ? [`--data '${dataPath}': ${describeUnknown(data)}`] : []),
    ...(validEncoded && validEncoded.unknown > 0 ? [`--valid '${validPath}': ${describeUnknown(validEncoded)}`] : []),
  ];
  const options = saved ? resumedOptions(o, saved.options) : o.trainer;
  if (split.valid.length < 2)
    throw new CliError(
      `the validation text has ${split.valid.length} ${unit}; it needs at least 2 (give a longer --data or a --valid FILE)`,
    );
  const source = validBytes ? `--data '${dataPath}'` : `the training part of --data '${dataPath}'`;
  return { model, vocab, unit, ...split, source, options, saved, unknown };
}

/** The line for a run whose step `step + 1` (or the validation after step `step`) threw: what happened, what is saved, how to go on. */
function failedRunLine(error: unknown, step: number, outPath: string): string {
  const saved = `saved the run at step ${step} to '${outPath}'`;
  if (error instanceof GemmWorkerFault) {
    return `training stopped after step ${step}: ${error.reason}; ${saved} — continue with the same command and --resume (add --threads 1 to train on one thread)`;
  }
  const { line } = describeError(error);
  return `${line.replace(/^mlstm: /, '')} (after step ${step}); ${saved} — --resume continues from there`;
}

async function trainRun(o: TrainCommandOptions, run: PreparedRun, backend: ClosableBackend): Promise<number> {
  const { model, vocab, options, saved } = run;
  const { outPath } = o;
  // The generator of every dropout mask, saved with the run: the between-layer dropout's, or one of its own.
  const windowDropout = (options.embedDropout ?? 0) > 0 || (options.hiddenDropout ?? 0) > 0;
  const rng = model.dropoutRng ?? (windowDropout ? new Rng(o.seed).fork() : undefined);
  const data = { train: run.train, valid: run.valid, source: run.source, unit: run.unit };
  const trainer = new Trainer(model, data, options, { tape: new Tape({ backend }), ...(rng ? { rng } : {}) });
  if (saved) importTrainerState(trainer, saved.tensors, saved.metadata, outPath);
  if (trainer.step >= options.steps) {
    process.stdout.write(`'${outPath}' has already reached step ${trainer.step} of ${options.steps}; give a larger --steps to continue\n`);
    return EXIT_OK;
  }
  ensureParentDirectory(outPath);
  const files: RunFiles = { checkpoint: outPath, curves: curvesPathFor(outPath) };
  const c = model.config;
  process.stdout.write(
    `${saved ? `resuming at step ${trainer.step}: ` : ''}${modelBanner(model)}, ` +
      `vocabulary ${model.config.vocab}; ${countFormat.format(run.train.length)} training / ${countFormat.format(run.valid.length)} validation ${run.unit}; ` +
      `batch ${options.batch} × seq ${options.seq}, ${options.steps} steps; ${kernelsLine(backend)}\n`,
  );
  for (const line of run.unknown) process.stdout.write(`${line}\n`);

  const clock = (): number => performance.now();
  const reporter = stdoutReporter(options.steps, o.logEvery, clock);
  const started = clock();
  const interrupts = watchInterrupts(reporter, 'interrupted: saving a checkpoint after this step (Ctrl-C again to quit without saving)');
  let outcome;
  try {
    outcome = await trainWithProgress(trainer, {
      reporter,
      clock,
      stopRequested: () => interrupts.requested,
      save: () => saveTrainingRun(files, model, vocab, trainer, `${c.cell} ${c.layers}×${c.hidden} on ${o.dataPath}`),
    });
  } finally {
    interrupts.dispose();
  }
  const elapsed = formatDuration((clock() - started) / 1000);
  if (outcome.status === 'failed') {
    process.stderr.write(`mlstm: ${failedRunLine(outcome.error, outcome.step, outPath)}\n`);
    return EXIT_FAILURE;
  }
  if (outcome.status === 'diverged') {
    process.stderr.write(`mlstm: ${outcome.message ?? 'training diverged'}\n`);
    return EXIT_FAILURE;
  }
  if (outcome.status === 'interrupted') {
    process.stdout.write(
      `interrupted at step ${outcome.step} after ${elapsed}; saved '${outPath}' (continue with the same command and --resume)\n`,
    );
    return EXIT_INTERRUPTED;
  }
  const valid = outcome.validBpc !== undefined ? `validation bpc ${outcome.validBpc.toFixed(4)}; ` : '';
  process.stdout.write(`done: ${outcome.step} steps in ${elapsed}; ${valid}saved '${outPath}' and '${files.curves}'\n`);
  return EXIT_OK;
}

export const run = defineCommand({
  name: CMD,
  flags: TRAIN_FLAGS,
  help: TRAIN_HELP,
  parse,
  execute: async (o) => {
    const prepared = prepareRun(o);
    return withThreads(o.threads, (backend) => trainRun(o, prepared, backend), o.backend);
  },
});
