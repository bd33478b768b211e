import type { Command } from './command.js';
import { run as runCompare } from './commands/compare.js';
import { run as runEval } from './commands/eval.js';
import { run as runFeatures } from './commands/features.js';
import { run as runProbe } from './commands/probe.js';
import { run as runSample } from './commands/sample.js';
import { run as runScore } from './commands/score.js';
import { run as runTrain } from './commands/train.js';
import { describeError, EXIT_OK, UsageError } from './errors.js';

/** Subcommands by name (src/cli/commands/<name>.ts, each `run = defineCommand({...})`), in the order help lists them. */
export const COMMANDS: Readonly<Record<string, Command>> = Object.freeze({
  train: runTrain,
  sample: runSample,
  score: runScore,
  eval: runEval,
  features: runFeatures,
  probe: runProbe,
  compare: runCompare,
});

const NAMES = Object.keys(COMMANDS).join(', ');

export const MAIN_HELP = `Usage: mlstm <command> [options]

Character-level multiplicative-LSTM language models (Krause et al. 2016) in TypeScript.

Commands:
  train    train a model on a text file            mlstm train --data data/moby-dick.txt --out runs/moby.safetensors
  sample   generate text (default: shipped model)  mlstm sample runs/moby.safetensors --prime "Call me "
  score    how surprising a text is, and where     mlstm score [runs/moby.safetensors] FILE
  eval     bits/char of a text (and dynamic eval)  mlstm eval runs/moby.safetensors FILE --dynamic
  features feature vectors of labelled texts       mlstm features runs/moby.safetensors texts.tsv --out f.safetensors
  probe    which hidden units track a label        mlstm probe runs/moby.safetensors --train a.tsv --test b.tsv
  compare  mLSTM vs LSTM vs mRNN, equal parameters mlstm compare --budget 20

Run "mlstm <command> --help" for a command's options.
Exit codes: 0 success, 1 bad input or failed run, 2 bad command line, 130 interrupted (checkpoint saved).
`;

/**
 * The `mlstm` command without process side effects (so tests can run it in-process): dispatch to a
 * subcommand; every failure becomes one line on stderr and an exit code (describeError).
 */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(MAIN_HELP);
      return EXIT_OK;
    }
    if (command === undefined) throw new UsageError(`missing command: ${NAMES} (see mlstm --help)`);
    const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!run) throw new UsageError(`unknown command '${command}': expected one of ${NAMES} (see mlstm --help)`);
    return await run(rest);
  } catch (err) {
    const { line, exitCode } = describeError(err);
    process.stderr.write(`${line}\n`);
    if (process.env['MLSTM_DEBUG'] && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return exitCode;
  }
}
