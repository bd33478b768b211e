/** `mlstm sample CHECKPOINT`: generate text from a trained model. */
import { sample } from '../../train/sample.js';
import { formatHelp, HELP_FLAG, valueFlag, type CommandLine, type FlagSpecs } from '../args.js';
import { loadCheckpointFile } from '../checkpoint-file.js';
import { defineCommand } from '../command.js';
import { EXIT_OK, UsageError } from '../errors.js';

const CMD = 'sample';

export const SAMPLE_FLAGS = {
  length: valueFlag('N', 'characters to generate (bytes for a byte-level model; default 500)'),
  temperature: valueFlag('X', 'softmax temperature, 0 = most likely character (default 1)'),
  'top-k': valueFlag('K', 'sample among the K most likely characters only; 0 = all (default 0)'),
  prime: valueFlag('TEXT', 'text to start from (printed before the generated text)'),
  seed: valueFlag('N', 'random seed: the same seed gives the same text (default 0)'),
  ...HELP_FLAG,
} as const satisfies FlagSpecs;

const SAMPLE_HELP = formatHelp(
  'mlstm sample CHECKPOINT [options]',
  'Generate text from a trained model. The same seed gives the same text.',
  SAMPLE_FLAGS,
);

interface SampleCommandOptions {
  checkpointPath: string;
  length: number;
  temperature: number;
  topK: number;
  seed: number;
  prime: string;
}

function parse({ args, f }: CommandLine): SampleCommandOptions {
  if (args.positionals.length === 0) throw new UsageError(`${CMD}: missing CHECKPOINT (see mlstm ${CMD} --help)`);
  if (args.positionals.length > 1) throw new UsageError(`${CMD}: unexpected argument '${args.positionals[1]}' (only one CHECKPOINT)`);
  return {
    checkpointPath: args.positionals[0]!,
    length: f.int('length', 500, 0, 1e7),
    temperature: f.number('temperature', 1, { min: 0, max: 100 }),
    topK: f.int('top-k', 0, 0, 1 << 24),
    seed: f.int('seed', 0, 0, Number.MAX_SAFE_INTEGER),
    // An empty --prime is allowed (it is the default), so it is read as given.
    prime: typeof args.values['prime'] === 'string' ? args.values['prime'] : '',
  };
}

async function execute(o: SampleCommandOptions): Promise<number> {
  const { model, vocab } = loadCheckpointFile(o.checkpointPath);
  const text = sample(model, vocab, { length: o.length, temperature: o.temperature, topK: o.topK, prime: o.prime, seed: o.seed });
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  return EXIT_OK;
}

export const run = defineCommand({ name: CMD, flags: SAMPLE_FLAGS, help: SAMPLE_HELP, parse, execute });
