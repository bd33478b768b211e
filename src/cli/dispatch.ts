import { describeError, UsageError } from './errors.js';
import { MAIN_HELP } from './help.js';
import { runTrain } from './train-command.js';
import { runSample } from './sample-command.js';
import { runEval } from './eval-command.js';
import { run as runFeatures } from './commands/features.js';
import { run as runProbe } from './commands/probe.js';

/** Subcommands by name: each takes its own argv and resolves to an exit code, or throws for main to report. */
export const COMMANDS: Readonly<Record<string, (argv: readonly string[]) => Promise<number>>> = Object.freeze({
  train: runTrain,
  sample: runSample,
  eval: runEval,
  features: runFeatures,
  probe: runProbe,
});

const NAMES = Object.keys(COMMANDS).join(', ');

/**
 * The `mlstm` command without process side effects (so tests can run it in-process): dispatch to a
 * subcommand; every failure becomes one line on stderr and an exit code (2 for usage errors).
 */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(MAIN_HELP);
      return 0;
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
