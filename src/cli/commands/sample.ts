/** `mlstm sample [CHECKPOINT]`: generate text from a trained model, streamed to stdout as it is drawn. */
import { describeUnknown } from '../../data/vocabulary.js';
import type { Backend } from '../../tensor/backend.js';
import { formatHelp, HELP_FLAG, valueFlag, type CommandLine, type FlagSpecs } from '../args.js';
import { defineCommand } from '../command.js';
import { EXIT_OK, UsageError } from '../errors.js';
import { loadTextModel } from '../text-model-file.js';
import { BACKEND_FLAG, readBackend, withThreads, type BackendKind } from '../threads.js';

const CMD = 'sample';
/** Output is flushed at least this often (ms) while generating, and whenever this many characters are waiting. */
const FLUSH_MS = 25;
const FLUSH_CHARS = 4096;

export const SAMPLE_FLAGS = {
  length: valueFlag('N', 'characters to generate (bytes for a byte-level model; default 500)'),
  temperature: valueFlag('X', 'softmax temperature, 0 = most likely character (default 1)'),
  'top-k': valueFlag('K', 'sample among the K most likely characters only; 0 = all (default 0)'),
  'top-p': valueFlag('P', 'nucleus: sample among the most likely characters whose probability adds up to P, in (0, 1] (default 1)'),
  stop: valueFlag('TEXT', 'stop when the text generated ends with TEXT (not printed); \\n and \\t in TEXT are a newline and a tab'),
  prime: valueFlag('TEXT', 'text to start from (printed before the generated text)'),
  seed: valueFlag('N', 'random seed: the same seed gives the same text (default 0)'),
  ...BACKEND_FLAG,
  ...HELP_FLAG,
} as const satisfies FlagSpecs;

const SAMPLE_HELP = formatHelp(
  'mlstm sample [CHECKPOINT] [options]',
  'Generate text from a trained model, printed as it is drawn. The same seed gives the same text. Without\n' +
    'CHECKPOINT, the model shipped in the package (an mLSTM trained on Moby-Dick). The model starts from a\n' +
    'newline, then reads the prime; prime characters outside its vocabulary are read as U+FFFD (counted on stderr).',
  SAMPLE_FLAGS,
);

interface SampleCommandOptions {
  /** The checkpoint, or undefined for the shipped model. */
  checkpointPath: string | undefined;
  length: number;
  temperature: number;
  topK: number;
  topP: number;
  stop: string | undefined;
  seed: number;
  prime: string;
  backend: BackendKind;
}

/** `\n`, `\t` and `\\` in a --stop text: shells pass them literally, and a stop at a line end is the common case. */
export function unescapeStop(text: string): string {
  return text.replace(/\\([nt\\])/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\'));
}

function parse({ args, f }: CommandLine): SampleCommandOptions {
  if (args.positionals.length > 1) throw new UsageError(`${CMD}: unexpected argument '${args.positionals[1]}' (only one CHECKPOINT)`);
  const stop = f.string('stop'); // an empty --stop is refused by the reader
  return {
    checkpointPath: args.positionals[0],
    length: f.int('length', 500, 0, 1e9),
    temperature: f.number('temperature', 1, { min: 0, max: 100 }),
    topK: f.int('top-k', 0, 0, 1 << 24),
    topP: f.number('top-p', 1, { minExclusive: 0, max: 1 }),
    stop: stop === undefined ? undefined : unescapeStop(stop),
    seed: f.int('seed', 0, 0, Number.MAX_SAFE_INTEGER),
    // An empty --prime is allowed (it is the default), so it is read as given.
    prime: typeof args.values['prime'] === 'string' ? args.values['prime'] : '',
    backend: readBackend(f),
  };
}

/** Resolves once stdout has taken `text` (so a slow pipe is waited for instead of buffered without bound). */
function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve())));
}

function execute(o: SampleCommandOptions): Promise<number> {
  return withThreads(1, (backend) => generate(o, backend), o.backend);
}

async function generate(o: SampleCommandOptions, backend: Backend): Promise<number> {
  const { model } = await loadTextModel(o.checkpointPath, backend);
  const generation = model.generate({
    length: o.length,
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    prime: o.prime,
    seed: o.seed,
    ...(o.stop !== undefined ? { stop: o.stop } : {}),
  });
  if (generation.unknown > 0) process.stderr.write(`sample: the prime's ${describeUnknown(generation)}\n`);
  let pending = o.prime;
  let last = o.prime.at(-1) ?? '';
  let flushed = performance.now();
  for (const chunk of generation) {
    pending += chunk;
    last = chunk.at(-1) ?? last;
    const now = performance.now();
    if (pending.length >= FLUSH_CHARS || now - flushed >= FLUSH_MS) {
      await write(pending);
      pending = '';
      flushed = now;
    }
  }
  await write(last === '\n' ? pending : `${pending}\n`);
  return EXIT_OK;
}

export const run = defineCommand({ name: CMD, flags: SAMPLE_FLAGS, help: SAMPLE_HELP, parse, execute });
