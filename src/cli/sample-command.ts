import { sample } from '../train/sample.js';
import { startCommand } from './args.js';
import { loadCheckpointFile } from './checkpoint-file.js';
import { UsageError } from './errors.js';
import { SAMPLE_FLAGS, SAMPLE_HELP } from './help.js';

const CMD = 'sample';

export async function runSample(argv: readonly string[]): Promise<number> {
  const commandLine = startCommand(CMD, argv, SAMPLE_FLAGS, SAMPLE_HELP);
  if (commandLine === null) return 0;
  const { args, f } = commandLine;
  if (args.positionals.length === 0) throw new UsageError(`${CMD}: missing CHECKPOINT (see mlstm ${CMD} --help)`);
  if (args.positionals.length > 1) throw new UsageError(`${CMD}: unexpected argument '${args.positionals[1]}' (only one CHECKPOINT)`);
  const length = f.int('length', 500, 0, 1e7);
  const temperature = f.number('temperature', 1, { min: 0, max: 100 });
  const topK = f.int('top-k', 0, 0, 1 << 24);
  const seed = f.int('seed', 0, 0, Number.MAX_SAFE_INTEGER);
  const prime = typeof args.values['prime'] === 'string' ? args.values['prime'] : '';
  const { model, vocab } = loadCheckpointFile(args.positionals[0]!);
  const text = sample(model, vocab, { length, temperature, topK, prime, seed });
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  return 0;
}
