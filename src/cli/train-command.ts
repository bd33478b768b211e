import { CharLM, type CharLMConfig } from '../nn/charlm.js';
import { encodeCheckpoint } from '../io/checkpoint.js';
import { writeFileAtomic } from '../node/files.js';
import { readThreads, withThreads } from './threads.js';
import { Tape } from '../autograd/tape.js';
import { Rng } from '../tensor/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ScheduleSpec } from '../optim/schedule.js';
import { splitTrainValid } from '../data/split.js';
import { BYTES_VOCABULARY, buildCharVocabulary, TextCodec, type Vocabulary } from '../data/vocabulary.js';
import { decodeUtf8Strict } from '../data/utf8.js';
import { DEFAULT_MAX_BAD_STEPS, type TrainerOptions } from '../train/options.js';
import { exportTrainerState, importTrainerState, readTrainMetadata } from '../train/state.js';
import { Trainer, type CheckpointReason } from '../train/trainer.js';
import { FlagReader, startCommand } from './args.js';
import { decodeCheckpointOrExplain } from './checkpoint-file.js';
import { CliError, describeError, EXIT_FAILURE, EXIT_INTERRUPTED, UsageError } from './errors.js';
import { GemmWorkerFault } from '../parallel/gemm-parallel.js';
import { curvesPathFor, ensureParentDirectory, fileExists, readInputFile, tokensOfFile } from './files.js';
import { TRAIN_FLAGS, TRAIN_HELP } from './help.js';
import { formatDuration, ProgressMeter, ProgressReporter } from './progress.js';
import { lossCurvesSvg } from './svg.js';

const CMD = 'train';
const MAX_SIZE = 1 << 16;

interface ModelFlags {
  config: CharLMConfig;
  /** Flags the user gave explicitly (a resumed run checks them against the checkpoint). */
  given: Partial<Record<keyof CharLMConfig, boolean>>;
}

function readModelFlags(f: FlagReader, vocab: number): ModelFlags {
  const config: CharLMConfig = {
    cell: f.choice('cell', 'mlstm', ['mlstm', 'lstm', 'mrnn'] as const),
    weightNorm: f.flag('weight-norm'),
    vocab,
    embed: f.int('embed', 32, 1, MAX_SIZE),
    hidden: f.int('hidden', 128, 1, MAX_SIZE),
    layers: f.int('layers', 1, 1, 64),
    dropout: f.number('dropout', 0, { min: 0, max: 0.99 }),
  };
  const given = {
    cell: f.has('cell'),
    weightNorm: f.flag('weight-norm'),
    embed: f.has('embed'),
    hidden: f.has('hidden'),
    layers: f.has('layers'),
    dropout: f.has('dropout'),
  };
  return { config, given };
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
];

function resumedOptions(f: FlagReader, saved: TrainerOptions, outPath: string): TrainerOptions {
  const fresh = readTrainerOptions(f);
  for (const [flag, key] of RESUME_CHECKED) {
    if (f.has(flag) && JSON.stringify(fresh[key]) !== JSON.stringify(saved[key])) {
      throw new UsageError(
        `${CMD}: --${flag} differs from the run saved in '${outPath}'; a resumed run keeps its settings (only --steps may change)`,
      );
    }
  }
  return { ...saved, steps: f.has('steps') ? fresh.steps : saved.steps };
}

const countFormat = new Intl.NumberFormat('en-US');

/** The line for a run whose step `step + 1` (or the validation after step `step`) threw: what happened, what is saved, how to go on. */
function failedRunLine(error: unknown, step: number, outPath: string): string {
  const saved = `saved the run at step ${step} to '${outPath}'`;
  if (error instanceof GemmWorkerFault) {
    return `training stopped after step ${step}: ${error.reason}; ${saved} — continue with the same command and --resume (add --threads 1 to train on one thread)`;
  }
  const { line } = describeError(error);
  return `${line.replace(/^mlstm: /, '')} (after step ${step}); ${saved} — --resume continues from there`;
}

export async function runTrain(argv: readonly string[]): Promise<number> {
  const commandLine = startCommand(CMD, argv, TRAIN_FLAGS, TRAIN_HELP);
  if (commandLine === null) return 0;
  const { args, f } = commandLine;
  if (args.positionals.length > 0)
    throw new UsageError(`${CMD}: unexpected argument '${args.positionals[0]}' (the text is given with --data FILE)`);
  const dataPath = f.requiredString('data', 'FILE (the training text)');
  const outPath = f.requiredString('out', 'FILE.safetensors (where to save the model)');
  const validPath = f.string('valid');
  const resume = f.flag('resume');
  const seed = f.int('seed', 0, 0, Number.MAX_SAFE_INTEGER);
  const logEveryFlag = f.int('log-every', undefined, 1, 1e9);
  const threads = readThreads(f);
  // Validate the remaining numeric flags before touching any file, so usage errors come first.
  readModelFlags(f, 1);
  readTrainerOptions(f);

  const dataBytes = readInputFile(dataPath, `--data '${dataPath}'`);
  const validBytes = validPath !== undefined ? readInputFile(validPath, `--valid '${validPath}'`) : null;

  let model: CharLM;
  let vocab: Vocabulary;
  let savedOptions: TrainerOptions | null = null;
  let resumeState: { tensors: Map<string, Tensor>; metadata: Record<string, string> } | null = null;
  if (resume) {
    if (!fileExists(outPath)) throw new CliError(`cannot resume: --out '${outPath}' does not exist (train without --resume first)`);
    const bytes = readInputFile(outPath, `checkpoint '${outPath}'`);
    const loaded = decodeCheckpointOrExplain(bytes, outPath);
    const meta = readTrainMetadata(loaded.metadata, outPath);
    vocab = loaded.vocab;
    if (f.flag('bytes') !== (vocab.kind === 'bytes')) {
      throw new UsageError(
        `${CMD}: --out '${outPath}' is a ${vocab.kind === 'bytes' ? 'byte-level' : 'character-level'} model; ${f.flag('bytes') ? 'drop' : 'add'} --bytes to resume it`,
      );
    }
    // Dropout is not part of the contract's config; the run kept it in its training state.
    const savedConfig: CharLMConfig = { ...loaded.config, dropout: meta.dropout };
    const { config, given } = readModelFlags(f, savedConfig.vocab);
    for (const key of Object.keys(given) as (keyof CharLMConfig)[]) {
      if (given[key] && config[key] !== savedConfig[key]) {
        throw new UsageError(
          `${CMD}: --${key === 'weightNorm' ? 'weight-norm' : key} ${String(config[key])} does not match the model in '${outPath}' (${String(savedConfig[key])})`,
        );
      }
    }
    model = new CharLM(savedConfig, { rng: new Rng(seed) });
    model.loadStateDict(loaded.model.stateDict(), { source: outPath });
    savedOptions = meta.options;
    resumeState = { tensors: loaded.extraTensors, metadata: loaded.metadata };
  } else {
    vocab = f.flag('bytes') ? BYTES_VOCABULARY : buildCharVocabulary(decodeUtf8Strict(dataBytes, dataPath));
    const { config } = readModelFlags(f, new TextCodec(vocab).size);
    model = new CharLM(config, { rng: new Rng(seed) });
  }

  const codec = new TextCodec(vocab);
  const unit = vocab.kind === 'bytes' ? 'bytes' : 'characters';
  const allTokens = tokensOfFile(dataBytes, codec, dataPath);
  const split = validBytes ? { train: allTokens, valid: tokensOfFile(validBytes, codec, validPath!) } : splitTrainValid(allTokens);
  const options = savedOptions ? resumedOptions(f, savedOptions, outPath) : readTrainerOptions(f);
  if (split.valid.length < 2)
    throw new CliError(
      `the validation text has ${split.valid.length} ${unit}; it needs at least 2 (give a longer --data or a --valid FILE)`,
    );

  const rng = model.dropoutRng ?? undefined;
  const source = validBytes ? `--data '${dataPath}'` : `the training part of --data '${dataPath}'`;
  return withThreads(threads, async (backend) => {
    const trainer = new Trainer(model, { ...split, source, unit }, options, { tape: new Tape({ backend }), ...(rng ? { rng } : {}) });
    if (resumeState) importTrainerState(trainer, resumeState.tensors, resumeState.metadata, outPath);
    if (trainer.step >= options.steps) {
      process.stdout.write(
        `'${outPath}' has already reached step ${trainer.step} of ${options.steps}; give a larger --steps to continue\n`,
      );
      return 0;
    }
    ensureParentDirectory(outPath);
    const svgPath = curvesPathFor(outPath);

    const params = model.parameters().reduce((n, p) => n + p.size, 0);
    const c = model.config;
    process.stdout.write(
      `${resume ? `resuming at step ${trainer.step}: ` : ''}${c.weightNorm ? 'weight-normalised ' : ''}${c.cell} ${c.layers}×${c.hidden} (embed ${c.embed}, ${countFormat.format(params)} parameters), ` +
        `vocabulary ${codec.size}; ${countFormat.format(split.train.length)} training / ${countFormat.format(split.valid.length)} validation ${unit}; ` +
        `batch ${options.batch} × seq ${options.seq}, ${options.steps} steps${backend.threads > 1 ? ` on ${backend.threads} threads` : ''}\n`,
    );

    const clock = (): number => performance.now();
    const isTTY = process.stdout.isTTY === true;
    const reporter = new ProgressReporter(
      { write: (s) => process.stdout.write(s), isTTY },
      logEveryFlag ?? Math.max(1, Math.ceil(options.steps / 20)),
      clock,
    );
    const meter = new ProgressMeter(options.batch * options.seq, clock);
    const started = clock();

    const save = async (reason: CheckpointReason): Promise<void> => {
      const state = exportTrainerState(trainer);
      await writeFileAtomic(outPath, encodeCheckpoint(model, vocab, state));
      const svg = lossCurvesSvg({
        train: trainer.history,
        valid: trainer.validationHistory,
        title: `${c.cell} ${c.layers}×${c.hidden} on ${dataPath}`,
      });
      await writeFileAtomic(svgPath, new TextEncoder().encode(svg));
      if (reason === 'periodic') meter.skipPause();
    };

    let interrupts = 0;
    const onSigint = (): void => {
      interrupts++;
      if (interrupts > 1) {
        reporter.finish();
        process.stderr.write('mlstm: interrupted again; exiting without saving\n');
        process.exit(EXIT_INTERRUPTED);
      }
      reporter.message('interrupted: saving a checkpoint after this step (Ctrl-C again to quit without saving)');
    };
    process.on('SIGINT', onSigint);
    let outcome;
    try {
      outcome = await trainer.run({
        onStep: (r) => reporter.update(meter.record(r.step, options.steps, r.bpc)),
        onValidation: (step, bpc) => {
          reporter.message(`step ${step}: validation bpc ${bpc.toFixed(4)}`);
          meter.skipPause();
        },
        onWarning: (message) => {
          reporter.finish();
          process.stderr.write(`mlstm: warning: ${message}\n`);
        },
        onCheckpoint: (reason) => save(reason),
        shouldStop: () => interrupts > 0,
      });
    } finally {
      process.off('SIGINT', onSigint);
      reporter.finish();
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
    process.stdout.write(`done: ${outcome.step} steps in ${elapsed}; ${valid}saved '${outPath}' and '${svgPath}'\n`);
    return 0;
  });
}
