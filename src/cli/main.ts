#!/usr/bin/env node
/** The `mlstm` executable (package.json "bin"): runs the command line and sets the exit code. */
import { describeError } from './errors.js';
import { main } from './dispatch.js';

// `mlstm sample … | head` closes the pipe early: that is not an error worth a message.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

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
