import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

/** One flag of a subcommand: its parseArgs type and the help text. */
export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder shown in help, e.g. 'N', 'X', 'FILE'. */
  value?: string;
  help: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

/** A flag that takes a value; `value` is its placeholder in the help ('N', 'X', 'FILE'). */
export function valueFlag<const V extends string>(
  value: V,
  help: string,
): { readonly type: 'string'; readonly value: V; readonly help: string } {
  return { type: 'string', value, help };
}

/** A flag without a value: true when given. */
export function switchFlag(help: string): { readonly type: 'boolean'; readonly help: string } {
  return { type: 'boolean', help };
}

/** -h/--help, which every subcommand takes (spread last into its flags, so it is listed last). */
export const HELP_FLAG = { help: { type: 'boolean', short: 'h', help: 'show this help' } } as const satisfies FlagSpecs;

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * util.parseArgs in strict mode, with its multi-line messages turned into one line that names the
 * command and the flag.
 */
export function parseCommandLine(command: string, argv: readonly string[], specs: FlagSpecs): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, s] of Object.entries(specs)) options[name] = s.short ? { type: s.type, short: s.short } : { type: s.type };
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (e) {
    throw new UsageError(`${command}: ${explainParseError(e)} (see mlstm ${command} --help)`);
  }
}

/** A subcommand's parsed command line and the reader of its flags. */
export interface CommandLine {
  args: ParsedArgs;
  f: FlagReader;
  /** The arguments as given (after the command name), e.g. to record how a result was made. */
  argv: readonly string[];
}

/**
 * How every subcommand starts: parse `argv` against its flags; with -h/--help, print `help` and return
 * null (the command then exits 0 without looking at anything else on the line).
 */
export function startCommand(command: string, argv: readonly string[], specs: FlagSpecs, help: string): CommandLine | null {
  const args = parseCommandLine(command, argv, specs);
  const f = new FlagReader(command, args.values);
  if (f.flag('help')) {
    process.stdout.write(help);
    return null;
  }
  return { args, f, argv };
}

/** Exactly the positionals `names` (e.g. CHECKPOINT FILE), in order, or a usage error saying what was expected. */
export function expectPositionals<const N extends readonly string[]>(
  command: string,
  positionals: readonly string[],
  names: N,
): { [K in keyof N]: string } {
  if (positionals.length < names.length) {
    throw new UsageError(`${command}: expected ${names.join(' ')}, got ${positionals.length} argument(s) (see mlstm ${command} --help)`);
  }
  if (positionals.length > names.length) throw new UsageError(`${command}: unexpected argument '${positionals[names.length]}'`);
  return positionals.slice() as { [K in keyof N]: string };
}

function explainParseError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: string }).code;
  const flag = /'(-{1,2}[^' ]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) return `unknown option '${flag}'`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag) {
    if (/ambiguous/.test(message)) return `${flag} needs a value (write ${flag}=VALUE for a value starting with '-')`;
    if (/does not take an argument/.test(message)) return `${flag} does not take a value`;
    if (/missing/.test(message)) return `${flag} needs a value`;
  }
  return message.split('\n')[0]!;
}

/** Parse and range-check numbers and enums from flag strings, with messages naming the flag. */
export class FlagReader {
  constructor(
    private readonly command: string,
    private readonly values: ParsedArgs['values'],
  ) {}

  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  string(name: string): string | undefined {
    const v = this.values[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new UsageError(`${this.command}: --${name} needs a value`);
    if (v.length === 0) throw new UsageError(`${this.command}: --${name} needs a non-empty value`);
    return v;
  }

  requiredString(name: string, what: string): string {
    const v = this.string(name);
    if (v === undefined) throw new UsageError(`${this.command}: missing --${name} ${what} (see mlstm ${this.command} --help)`);
    return v;
  }

  /** An integer in [min, max]; `fallback` when absent. */
  int(name: string, fallback: number, min: number, max: number): number;
  int(name: string, fallback: undefined, min: number, max: number): number | undefined;
  int(name: string, fallback: number | undefined, min: number, max: number): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const trimmed = raw.trim();
    const value = /^[+-]?\d+$/.test(trimmed) ? Number(trimmed) : /^[+-]?\d+(\.\d*)?e[+-]?\d+$/i.test(trimmed) ? Number(trimmed) : NaN;
    if (!Number.isSafeInteger(value)) throw new UsageError(`${this.command}: --${name} must be an integer, got '${raw}'`);
    if (value < min || value > max) throw new UsageError(`${this.command}: --${name} must be between ${min} and ${max}, got ${value}`);
    return value;
  }

  /** A finite number in the given range (`minExclusive` for strictly-positive quantities). */
  number(name: string, fallback: number, range: { min?: number; minExclusive?: number; max?: number }): number;
  number(name: string, fallback: undefined, range: { min?: number; minExclusive?: number; max?: number }): number | undefined;
  number(name: string, fallback: number | undefined, range: { min?: number; minExclusive?: number; max?: number }): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const trimmed = raw.trim();
    // Number('') is 0 and Number('0x10') is 16: accept only decimal notation.
    const value = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(trimmed) ? Number(trimmed) : NaN;
    if (!Number.isFinite(value)) throw new UsageError(`${this.command}: --${name} must be a number, got '${raw}'`);
    const { min, minExclusive, max } = range;
    if (minExclusive !== undefined && !(value > minExclusive))
      throw new UsageError(`${this.command}: --${name} must be greater than ${minExclusive}, got ${raw}`);
    if (min !== undefined && value < min) throw new UsageError(`${this.command}: --${name} must be at least ${min}, got ${raw}`);
    if (max !== undefined && value > max) throw new UsageError(`${this.command}: --${name} must be at most ${max}, got ${raw}`);
    return value;
  }

  choice<T extends string>(name: string, fallback: T, choices: readonly T[]): T {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!(choices as readonly string[]).includes(raw)) {
      throw new UsageError(`${this.command}: --${name} must be one of ${choices.join(', ')}, got '${raw}'`);
    }
    return raw as T;
  }
}

/** The help text of a subcommand, from its usage line, description and flag specs. */
export function formatHelp(usage: string, description: string, specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const left = `${s.short ? `-${s.short}, ` : '    '}--${name}${s.value ? ` ${s.value}` : ''}`;
    return [left, s.help] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  const lines = rows.map(([l, h]) => `  ${l.padEnd(width)}${h}`);
  return `Usage: ${usage}\n\n${description}\n\nOptions:\n${lines.join('\n')}\n`;
}
