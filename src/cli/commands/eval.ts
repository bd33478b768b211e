/** `mlstm eval CHECKPOINT FILE`: bits per character of a text, plainly and under dynamic evaluation. */
import { Tape } from '../../autograd/tape.js';
import { TextCodec, type EncodedText } from '../../data/vocabulary.js';
import type { Backend } from '../../tensor/backend.js';
import type { CharLM } from '../../nn/charlm.js';
import { dynamicEvaluate } from '../../train/dynamic-eval.js';
import { evaluate } from '../../train/evaluate.js';
import { expectPositionals, formatHelp, HELP_FLAG, switchFlag, valueFlag, type CommandLine, type FlagSpecs } from '../args.js';
import { loadCheckpointFile } from '../checkpoint-file.js';
import { defineCommand } from '../command.js';
import { CliError, EXIT_OK, UsageError } from '../errors.js';
import { encodeFile, readInputFile, unknownLine } from '../files.js';
import { BACKEND_FLAG, explainWorkerFault, readBackend, readThreads, THREADS_FLAG, withThreads, type BackendKind } from '../threads.js';

const CMD = 'eval';
export const DEFAULT_DYNAMIC_LR = 0.02;
export const DEFAULT_DYNAMIC_SEQ = 50;

export const EVAL_FLAGS = {
  dynamic: switchFlag('also report bits/char under dynamic evaluation (Krause et al. 2017, SGD)'),
  'dynamic-lr': valueFlag('X', 'SGD learning rate of dynamic evaluation (default 0.02)'),
  'dynamic-seq': valueFlag('N', 'segment length of dynamic evaluation (default 50)'),
  batch: valueFlag('N', 'score the text as N parallel streams (faster; default 1 = one sequence)'),
  json: switchFlag(
    'print one JSON object instead: bpc and nats to full precision, predictions scored, streams, unknown characters (and dynamic_*)',
  ),
  ...THREADS_FLAG,
  ...BACKEND_FLAG,
  ...HELP_FLAG,
} as const satisfies FlagSpecs;

const EVAL_HELP = formatHelp(
  'mlstm eval CHECKPOINT FILE [--dynamic [--dynamic-lr X]]',
  'Print the bits per character of FILE under the model ("bpc <value>"), the hidden state carried\n' +
    'through the whole text. With --dynamic, also "dynamic bpc <value>": the model takes an SGD step on\n' +
    'each segment right after scoring it, so it adapts to the text as it reads. Characters outside the\n' +
    "model's vocabulary are read as U+FFFD (if it has it: every model mlstm train makes does) and counted\n" +
    '("unknown <count>").',
  EVAL_FLAGS,
);

interface EvalCommandOptions {
  checkpointPath: string;
  textPath: string;
  /** Dynamic evaluation's SGD settings, or null without --dynamic. */
  dynamic: { lr: number; seq: number } | null;
  batch: number;
  threads: number;
  backend: BackendKind;
  json: boolean;
}

function parse({ args, f }: CommandLine): EvalCommandOptions {
  const [checkpointPath, textPath] = expectPositionals(CMD, args.positionals, ['CHECKPOINT', 'FILE']);
  const dynamic = f.flag('dynamic');
  if (!dynamic && (f.has('dynamic-lr') || f.has('dynamic-seq')))
    throw new UsageError(`${CMD}: --dynamic-lr and --dynamic-seq need --dynamic`);
  const lr = f.number('dynamic-lr', DEFAULT_DYNAMIC_LR, { min: 0, max: 100 });
  const seq = f.int('dynamic-seq', DEFAULT_DYNAMIC_SEQ, 1, 1 << 16);
  const batch = f.int('batch', 1, 1, 1 << 14);
  const backend = readBackend(f);
  const threads = readThreads(f);
  return { checkpointPath, textPath, dynamic: dynamic ? { lr, seq } : null, batch, threads, backend, json: f.flag('json') };
}

async function execute(o: EvalCommandOptions): Promise<number> {
  const { textPath } = o;
  const { model, vocab } = loadCheckpointFile(o.checkpointPath);
  const encoded = encodeFile(readInputFile(textPath, `'${textPath}'`), new TextCodec(vocab), textPath);
  const tokens = encoded.tokens;
  if (tokens.length < 2)
    throw new CliError(`'${textPath}' has ${tokens.length} ${vocab.kind === 'bytes' ? 'byte' : 'character'}; scoring needs at least 2`);
  await withThreads(
    o.threads,
    (backend) => {
      try {
        scoreAndReport(o, model, encoded, backend);
      } catch (error) {
        throw explainWorkerFault(error, CMD);
      }
    },
    o.backend,
  );
  return EXIT_OK;
}

/** Scores the text (and, with --dynamic, scores it again adapting) and prints the report. */
function scoreAndReport(o: EvalCommandOptions, model: CharLM, encoded: EncodedText, backend: Backend): void {
  const { json } = o;
  const { tokens } = encoded;
  const tape = new Tape({ backend }); // one tape for both passes: the second reuses the first's workspace buffers
  const result = evaluate(model, tokens, { batch: o.batch, tape });
  if (!json) process.stdout.write(`bpc ${result.bpc.toFixed(4)}\n${encoded.unknown > 0 ? `${unknownLine(encoded)}\n` : ''}`);
  const dyn = o.dynamic ? dynamicEvaluate(model, tokens, { ...o.dynamic, tape }) : null;
  if (dyn && !json) process.stdout.write(`dynamic bpc ${dyn.bpc.toFixed(4)}\n`);
  if (json) {
    const { bpc, nats, predictions, streams } = result;
    const report = {
      bpc,
      nats,
      predictions,
      streams,
      unknown: encoded.unknown,
      unknown_characters: encoded.unknownCharacters,
      ...(dyn ? { dynamic_bpc: dyn.bpc, dynamic_nats: dyn.nats, dynamic_predictions: dyn.predictions } : {}),
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  }
}

export const run = defineCommand({ name: CMD, flags: EVAL_FLAGS, help: EVAL_HELP, parse, execute });
