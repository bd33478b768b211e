/**
 * Every subcommand has one shape: a module src/cli/commands/<name>.ts whose `run` (defineCommand) is
 * what main() dispatches to, and which prints its help and exits 0 for --help before reading anything.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { COMMANDS, main } from '../src/cli/dispatch.js';
import { defineCommand } from '../src/cli/command.js';
import { valueFlag, HELP_FLAG } from '../src/cli/args.js';
import { ROOT } from './cli-helpers.js';

const names = readdirSync(join(ROOT, 'src', 'cli', 'commands'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -'.ts'.length))
  .sort();

async function quietly<T>(fn: () => Promise<T>): Promise<{ value: T; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
  try {
    return { value: await fn(), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('the commands of src/cli/commands', () => {
  it('each module is a command main() dispatches to, by its file name', async () => {
    expect(Object.keys(COMMANDS).sort()).toEqual(names);
    for (const name of names) {
      const url = pathToFileURL(join(ROOT, 'src', 'cli', 'commands', `${name}.ts`)).href;
      const mod = (await import(/* @vite-ignore */ url)) as { run?: unknown };
      expect(mod.run, name).toBe(COMMANDS[name]);
    }
  });

  it('each prints its help for --help and exits 0, through main()', async () => {
    for (const name of names) {
      const r = await quietly(() => main([name, '--help']));
      expect(r.value, name).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(new RegExp(`^Usage: mlstm ${name} `));
    }
  });
});

describe('defineCommand', () => {
  const flags = { n: valueFlag('N', 'a number'), ...HELP_FLAG };
  it('parses the whole line before executing, and --help skips both', async () => {
    const calls: string[] = [];
    const command = defineCommand({
      name: 'demo',
      flags,
      help: 'Usage: mlstm demo\n',
      parse: ({ f }) => {
        calls.push('parse');
        return { n: f.int('n', 1, 1, 9) };
      },
      execute: async ({ n }) => {
        calls.push(`execute ${n}`);
        return n;
      },
    });
    expect(await command(['--n', '3'])).toBe(3);
    expect(calls).toEqual(['parse', 'execute 3']);
    calls.length = 0;
    const r = await quietly(() => command(['--help', '--n', 'bad']));
    expect(r.value).toBe(0);
    expect(r.stdout).toBe('Usage: mlstm demo\n');
    expect(calls).toEqual([]);
    await expect(command(['--n', '12'])).rejects.toThrow('demo: --n must be between 1 and 9, got 12');
    expect(calls).toEqual(['parse']);
  });
});
