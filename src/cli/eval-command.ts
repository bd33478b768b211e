import { Tape } from '../autograd/tape.js';
import type { Backend } from '../tensor/backend.js';
import { TextCodec } from '../data/vocabulary.js';
import { explainWorkerFault, readThreads, withThreads } from './threads.js';
import { dynamicEvaluate } from '../train/dynamic-eval.js';
import { evaluate } from '../train/evaluate.js';
import { expectPositionals, startCommand } from './args.js';
import { loadCheckpointFile } from './checkpoint-file.js';
import { CliError, UsageError } from './errors.js';
import { readInputFile, tokensOfFile } from './files.js';
import { EVAL_FLAGS, EVAL_HELP } from './help.js';

const CMD = 'eval';
export const DEFAULT_DYNAMIC_LR = 0.02;
export const DEFAULT_DYNAMIC_SEQ = 50;

export async function runEval(argv: readonly string[]): Promise<number> {
  const commandLine = startCommand(CMD, argv, EVAL_FLAGS, EVAL_HELP);
  if (commandLine === null) return 0;
  const { args, f } = commandLine;
  const [checkpointPath, textPath] = expectPositionals(CMD, args.positionals, ['CHECKPOINT', 'FILE']);
  const dynamic = f.flag('dynamic');
  if (!dynamic && (f.has('dynamic-lr') || f.has('dynamic-seq')))
    throw new UsageError(`${CMD}: --dynamic-lr and --dynamic-seq need --dynamic`);
  const dynamicLr = f.number('dynamic-lr', DEFAULT_DYNAMIC_LR, { min: 0, max: 100 });
  const dynamicSeq = f.int('dynamic-seq', DEFAULT_DYNAMIC_SEQ, 1, 1 << 16);
  const batch = f.int('batch', 1, 1, 1 << 14);
  const threads = readThreads(f);
  const json = f.flag('json');
  const { model, vocab } = loadCheckpointFile(checkpointPath);
  const tokens = tokensOfFile(readInputFile(textPath, `'${textPath}'`), new TextCodec(vocab), textPath);
  if (tokens.length < 2)
    throw new CliError(`'${textPath}' has ${tokens.length} ${vocab.kind === 'bytes' ? 'byte' : 'character'}; scoring needs at least 2`);
  await withThreads(threads, (backend) => {
    try {
      scoreAndReport(backend);
    } catch (error) {
      throw explainWorkerFault(error, CMD);
    }
  });
  return 0;

  function scoreAndReport(backend: Backend): void {
    const tape = new Tape({ backend }); // one tape for both passes: the second reuses the first's workspace buffers
    const result = evaluate(model, tokens, { batch, tape });
    if (!json) process.stdout.write(`bpc ${result.bpc.toFixed(4)}\n`);
    const dyn = dynamic ? dynamicEvaluate(model, tokens, { lr: dynamicLr, seq: dynamicSeq, tape }) : null;
    if (dyn && !json) process.stdout.write(`dynamic bpc ${dyn.bpc.toFixed(4)}\n`);
    if (json) {
      const { bpc, nats, predictions, streams } = result;
      const report = {
        bpc,
        nats,
        predictions,
        streams,
        ...(dyn ? { dynamic_bpc: dyn.bpc, dynamic_nats: dyn.nats, dynamic_predictions: dyn.predictions } : {}),
      };
      process.stdout.write(`${JSON.stringify(report)}\n`);
    }
  }
}
