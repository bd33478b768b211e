import { startCommand, type CommandLine, type FlagSpecs } from './args.js';
import { EXIT_OK } from './errors.js';

/**
 * A subcommand as main() runs it: its own argv in, an exit code out. Failures are thrown, and main()
 * turns each into one line and an exit code with describeError (errors.ts), the one place that maps
 * an error to what the user sees.
 */
export type Command = (argv: readonly string[]) => Promise<number>;

/**
 * Every subcommand has this shape (src/cli/commands/<name>.ts exports `run = defineCommand({...})`):
 * its flags and help, a `parse` that reads and checks the whole command line, and an `execute` that
 * does the work from what `parse` returned.
 */
export interface CommandSpec<Options> {
  /** As typed after `mlstm`; it also prefixes the command's usage errors. */
  name: string;
  flags: FlagSpecs;
  /** Printed for -h/--help (formatHelp of the usage line, a description and `flags`). */
  help: string;
  /**
   * Read every flag and positional into `Options`, throwing a UsageError for the first bad one. It
   * touches no file, so a command-line mistake is reported before anything is read or written.
   */
  parse(line: CommandLine): Options;
  /** Do the work; resolves to an exit code (EXIT_OK, or EXIT_FAILURE/EXIT_INTERRUPTED for a run that stopped). */
  execute(options: Options): Promise<number>;
}

/** The Command of a spec: -h/--help prints the help and exits 0; otherwise parse, then execute. */
export function defineCommand<Options>(spec: CommandSpec<Options>): Command {
  return async (argv) => {
    const line = startCommand(spec.name, argv, spec.flags, spec.help);
    if (line === null) return EXIT_OK;
    return spec.execute(spec.parse(line));
  };
}
