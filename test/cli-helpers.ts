import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const MAIN = join(ROOT, 'dist', 'cli', 'main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function isFresh(): boolean {
  let built: number;
  try {
    built = statSync(MAIN).mtimeMs;
  } catch {
    return false;
  }
  return built > newestSource(join(ROOT, 'src'));
}

const sleep = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * The CLI runs from the compiled output, as a user runs it. A fresh clone has it (`npm ci` runs the
 * `prepare` build); in a working tree, rebuild when any source is newer than dist/cli/main.js. Test
 * files run in parallel workers, so the build holds a lock directory: one worker builds, the others
 * wait for it instead of writing dist at the same time.
 */
export function ensureBuilt(): void {
  const lock = join(ROOT, '.cli-test-build.lock');
  const deadline = Date.now() + 120_000;
  while (!isFresh()) {
    try {
      mkdirSync(lock);
    } catch {
      if (Date.now() > deadline) throw new Error(`ensureBuilt: ${lock} held for 2 minutes (remove it if no build is running)`);
      sleep(200);
      continue;
    }
    try {
      if (isFresh()) return;
      const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      // Type errors elsewhere in a working tree still emit JavaScript; only a missing emit is fatal here.
      if (!isFresh()) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
      return;
    } finally {
      rmdirSync(lock);
    }
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run `node dist/cli/main.js …args` (not a TTY), optionally calling `onStdout` as output arrives. */
export function runCli(
  args: readonly string[],
  options: { onStdout?: (chunk: string, child: ReturnType<typeof spawn>) => void; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: options.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(chunk, child);
    });
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'mlstm-cli-'));
}
