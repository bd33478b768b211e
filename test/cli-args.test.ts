import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  expectPositionals,
  FlagReader,
  formatHelp,
  HELP_FLAG,
  parseCommandLine,
  startCommand,
  switchFlag,
  valueFlag,
  type FlagSpecs,
} from '../src/cli/args.js';
import { CliError, describeError, oneLine, UsageError } from '../src/cli/errors.js';

const specs = {
  lr: { type: 'string', value: 'X', help: 'learning rate' },
  steps: { type: 'string', value: 'N', help: 'steps' },
  cell: { type: 'string', value: 'KIND', help: 'cell' },
  dynamic: { type: 'boolean', help: 'dynamic' },
  help: { type: 'boolean', short: 'h', help: 'help' },
} as const satisfies FlagSpecs;

const usage = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('parseCommandLine', () => {
  it('turns parseArgs failures into one line naming the flag and the command', () => {
    expect(usage(() => parseCommandLine('train', ['--bogus'], specs))).toBe("train: unknown option '--bogus' (see mlstm train --help)");
    expect(usage(() => parseCommandLine('train', ['--lr'], specs))).toBe('train: --lr needs a value (see mlstm train --help)');
    expect(usage(() => parseCommandLine('train', ['--lr', '-1'], specs))).toBe(
      "train: --lr needs a value (write --lr=VALUE for a value starting with '-') (see mlstm train --help)",
    );
    expect(usage(() => parseCommandLine('eval', ['--dynamic=yes'], specs))).toBe(
      'eval: --dynamic does not take a value (see mlstm eval --help)',
    );
  });

  it('accepts --flag=value, short flags and positionals', () => {
    const r = parseCommandLine('eval', ['ckpt', '--lr=-0.5', '-h', 'file'], specs);
    expect(r.positionals).toEqual(['ckpt', 'file']);
    expect(r.values['lr']).toBe('-0.5');
    expect(r.values['help']).toBe(true);
  });
});

describe('FlagReader', () => {
  const reader = (values: Record<string, string | boolean | undefined>): FlagReader => new FlagReader('train', values);

  it('parses integers in range and rejects anything else with the flag and value named', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), (n) => {
        const r = reader({ steps: String(n) });
        if (n >= 1 && n <= 500) expect(r.int('steps', 7, 1, 500)).toBe(n);
        else expect(usage(() => r.int('steps', 7, 1, 500))).toBe(`train: --steps must be between 1 and 500, got ${n}`);
      }),
    );
    for (const bad of ['abc', '1.5', '', '0x10', '12abc', 'NaN', 'Infinity']) {
      const message = usage(() => reader({ steps: bad }).int('steps', 7, 1, 500));
      expect(message).toMatch(bad === '' ? /--steps needs a non-empty value/ : new RegExp(`--steps must be an integer, got '${bad}'`));
    }
    expect(reader({ steps: '1e3' }).int('steps', 7, 1, 5000)).toBe(1000);
    expect(reader({}).int('steps', 7, 1, 500)).toBe(7);
  });

  it('parses decimal numbers only, with range checks', () => {
    fc.assert(
      fc.property(fc.double({ min: -10, max: 10, noNaN: true }), (x) => {
        const r = reader({ lr: String(x) });
        if (x > 0 && x <= 1) expect(r.number('lr', 1, { minExclusive: 0, max: 1 })).toBe(x);
        else expect(() => r.number('lr', 1, { minExclusive: 0, max: 1 })).toThrow(UsageError);
      }),
    );
    for (const bad of ['fast', '1e', '0x1', '--', 'Infinity', '1,5']) {
      expect(usage(() => reader({ lr: bad }).number('lr', 1, {}))).toBe(`train: --lr must be a number, got '${bad}'`);
    }
    expect(usage(() => reader({ lr: '0' }).number('lr', 1, { minExclusive: 0 }))).toBe('train: --lr must be greater than 0, got 0');
    expect(reader({ lr: '3e-3' }).number('lr', 1, {})).toBe(0.003);
    expect(reader({ lr: '.5' }).number('lr', 1, {})).toBe(0.5);
  });

  it('checks choices and required flags', () => {
    expect(reader({ cell: 'lstm' }).choice('cell', 'mlstm', ['mlstm', 'lstm', 'mrnn'])).toBe('lstm');
    expect(usage(() => reader({ cell: 'gru' }).choice('cell', 'mlstm', ['mlstm', 'lstm', 'mrnn']))).toBe(
      "train: --cell must be one of mlstm, lstm, mrnn, got 'gru'",
    );
    expect(usage(() => reader({}).requiredString('data', 'FILE'))).toBe('train: missing --data FILE (see mlstm train --help)');
  });
});

describe('errors', () => {
  it('maps every error to one line and an exit code (2 for usage)', () => {
    expect(describeError(new UsageError('x'))).toEqual({ line: 'mlstm: x', exitCode: 2 });
    expect(describeError(new CliError('bad file'))).toEqual({ line: 'mlstm: bad file', exitCode: 1 });
    const range = new RangeError('evaluate: need at least 2 tokens');
    expect(describeError(range)).toEqual({ line: 'mlstm: evaluate: need at least 2 tokens', exitCode: 1 });
    const bug = new TypeError('x is undefined\n    at foo (bar.js:1:1)');
    expect(describeError(bug).line).toBe('mlstm: internal error (TypeError): x is undefined at foo (bar.js:1:1)');
    expect(describeError('weird').exitCode).toBe(1);
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(oneLine(s)).not.toMatch(/[\r\n]/);
      }),
    );
  });
});

describe('formatHelp', () => {
  it('lists every flag with its help', () => {
    const text = formatHelp('mlstm train [options]', 'Trains.', specs);
    for (const [name, s] of Object.entries(specs)) {
      expect(text).toContain(`--${name}`);
      expect(text).toContain(s.help);
    }
    expect(text).toContain('-h, --help');
  });
});

describe('flag constructors', () => {
  it('build the same specs as the literal form, so tables written either way parse and print alike', () => {
    const built = {
      lr: valueFlag('X', 'learning rate'),
      steps: valueFlag('N', 'steps'),
      cell: valueFlag('KIND', 'cell'),
      dynamic: switchFlag('dynamic'),
      ...HELP_FLAG,
    };
    const literal = { ...specs, help: { type: 'boolean', short: 'h', help: 'show this help' } } as const satisfies FlagSpecs;
    expect(JSON.stringify(built)).toBe(JSON.stringify(literal));
    expect(formatHelp('u', 'd', built)).toBe(formatHelp('u', 'd', literal));
  });
});

describe('startCommand', () => {
  it('prints the help and returns null on -h/--help, otherwise returns the parsed line and its reader', () => {
    let printed = '';
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
    try {
      expect(startCommand('eval', ['ckpt', '-h', '--lr', '2'], specs, 'HELP TEXT\n')).toBeNull();
    } finally {
      process.stdout.write = write;
    }
    expect(printed).toBe('HELP TEXT\n');
    const line = startCommand('eval', ['ckpt', '--lr', '2'], specs, 'unused')!;
    expect(line.args.positionals).toEqual(['ckpt']);
    expect(line.f.number('lr', 1, {})).toBe(2);
    expect(usage(() => startCommand('eval', ['--bogus'], specs, 'unused'))).toBe("eval: unknown option '--bogus' (see mlstm eval --help)");
  });
});

describe('expectPositionals', () => {
  it('returns exactly the named positionals, or says what was expected or which argument is extra', () => {
    expect(expectPositionals('eval', ['m', 'f'], ['CHECKPOINT', 'FILE'])).toEqual(['m', 'f']);
    expect(usage(() => expectPositionals('eval', [], ['CHECKPOINT', 'FILE']))).toBe(
      'eval: expected CHECKPOINT FILE, got 0 argument(s) (see mlstm eval --help)',
    );
    expect(usage(() => expectPositionals('features', ['m'], ['CHECKPOINT', 'FILE.tsv']))).toBe(
      'features: expected CHECKPOINT FILE.tsv, got 1 argument(s) (see mlstm features --help)',
    );
    expect(usage(() => expectPositionals('eval', ['m', 'f', 'x', 'y'], ['CHECKPOINT', 'FILE']))).toBe("eval: unexpected argument 'x'");
  });
});
