/** Exit codes of the `mlstm` command. */
export const EXIT_OK = 0;
/** A bad file, corpus, checkpoint or a failed run. */
export const EXIT_FAILURE = 1;
/** Bad command line: unknown flag, missing or malformed value, out-of-range number. */
export const EXIT_USAGE = 2;
/** Stopped by Ctrl-C after saving a checkpoint (the shell convention 128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** A command-line mistake; printed as one line and exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An expected failure (bad input file, checkpoint, corpus); printed as one line and exit code 1. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = EXIT_FAILURE) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Collapse a message to one line: the user gets one clear line on stderr, never a stack trace. */
export function oneLine(message: string): string {
  return message
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .join(' ');
}

/**
 * Errors the engine raises for bad input (a file, a corpus, a checkpoint, a labelled TSV, a saved
 * probe), by name: their messages already name what was wrong, so each is that one line and exit 1.
 */
const INPUT_ERRORS: readonly string[] = [
  'InputError',
  'DataError',
  'SafetensorsError',
  'CheckpointError',
  'ShapeError',
  'RangeError',
  'ProbeFormatError',
  'GemmWorkerFault', // a worker thread of the parallel GEMM died or threw: the message says what to do next
];

/**
 * The line and exit code for any error reaching the top level: the one place where an error becomes
 * what the user sees (main() prints it; commands throw). Errors raised for bad input anywhere in
 * the engine carry a message naming what was wrong (file, offset, parameter); anything else is a bug and
 * says so (set MLSTM_DEBUG=1 to see its stack).
 */
export function describeError(err: unknown): { line: string; exitCode: number } {
  if (err instanceof UsageError) return { line: `mlstm: ${oneLine(err.message)}`, exitCode: EXIT_USAGE };
  if (err instanceof CliError) return { line: `mlstm: ${oneLine(err.message)}`, exitCode: err.exitCode };
  if (err instanceof Error) {
    if (INPUT_ERRORS.includes(err.name)) return { line: `mlstm: ${oneLine(err.message)}`, exitCode: EXIT_FAILURE };
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
      // A system error (ENOSPC, EACCES, …) from the file system: its message already names the path.
      return { line: `mlstm: ${oneLine(err.message)}`, exitCode: EXIT_FAILURE };
    }
    return { line: `mlstm: internal error (${err.name}): ${oneLine(err.message)}`, exitCode: EXIT_FAILURE };
  }
  return { line: `mlstm: internal error: ${oneLine(String(err))}`, exitCode: EXIT_FAILURE };
}
