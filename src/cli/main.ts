#!/usr/bin/env node
import { describeError, UsageError } from './errors.js';
import { MAIN_HELP } from './help.js';
import { runTrain } from './train-command.js';
import { runSample } from './sample-command.js';
import { runEval } from './eval-command.js';

/** The `mlstm` command: dispatch to a subcommand; every failure becomes one line on stderr and an exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'train':
        return await runTrain(rest);
      case 'sample':
        return await runSample(rest);
      case 'eval':
        return await runEval(rest);
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(MAIN_HELP);
        return 0;
      case undefined:
        throw new UsageError('missing command: train, sample or eval (see mlstm --help)');
      default:
        throw new UsageError(`unknown command '${command}': expected train, sample or eval (see mlstm --help)`);
    }
  } catch (err) {
    const { line, exitCode } = describeError(err);
    process.stderr.write(`${line}\n`);
    if (process.env['MLSTM_DEBUG'] && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return exitCode;
  }
}

// Errors that escape everything (they should not) still get one line, not a stack trace.
process.on('uncaughtException', (err) => {
  process.stderr.write(`${describeError(err).line}\n`);
  process.exit(1);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${describeError(err).line}\n`);
    process.exitCode = 1;
  },
);
