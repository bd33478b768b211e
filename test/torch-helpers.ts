/**
 * What the PyTorch test files share: the interpreter with torch, whether it is there (a suite without it is
 * reported as skipped with a console line saying why, never passed; CI sets MLSTM_REQUIRE_TORCH=1 so that a
 * missing torch fails there), and running python/mlstm_torch's modules with the package on PYTHONPATH.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The interpreter with torch; MLSTM_TORCH_PYTHON overrides it (e.g. a virtualenv, or a bad path to see the skip). */
export const PYTHON = process.env['MLSTM_TORCH_PYTHON'] ?? '/usr/bin/python3';
/** The package's directory, put on PYTHONPATH (the package needs no install). */
export const PYTHON_PACKAGE_DIR = fileURLToPath(new URL('../python/', import.meta.url));

let probed: { available: boolean; why: string } | null = null;

/** Whether PYTHON imports torch (probed once per test file); prints why not, naming the suite. */
export function torchAvailable(suite: string): boolean {
  if (!probed) {
    const r = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'pipe', timeout: 60_000 });
    const why = r.error ? r.error.message : (String(r.stderr).trim().split('\n').pop() ?? '');
    probed = { available: r.status === 0, why };
  }
  if (!probed.available) {
    console.warn(`${suite}: SKIPPED — ${PYTHON} cannot import torch (${probed.why}); install python3-torch to run the PyTorch checks`);
  }
  return probed.available;
}

/** Under MLSTM_REQUIRE_TORCH=1 (CI), a test that fails when torch is missing instead of letting the suite skip. */
export function requireTorchInCI(available: boolean): void {
  if (process.env['MLSTM_REQUIRE_TORCH'] !== '1') return;
  describe('torch is required here (MLSTM_REQUIRE_TORCH=1)', () => {
    it(`${PYTHON} imports torch`, () => {
      expect(available, `${PYTHON} cannot import torch`).toBe(true);
    });
  });
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The command line, for failure messages. */
  command: string;
}

/** Run PYTHON with `args` (e.g. ['-m', 'mlstm_torch.train', ...]) and the package on PYTHONPATH; never rejects. */
export function runPython(args: readonly string[], options: { env?: Record<string, string> } = {}): Promise<ProcessResult> {
  const env = { ...process.env, PYTHONPATH: PYTHON_PACKAGE_DIR, ...options.env };
  const command = `PYTHONPATH=python ${PYTHON} ${args.join(' ')}`;
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (s: string) => (stdout += s));
    child.stderr.on('data', (s: string) => (stderr += s));
    child.on('error', (e) => resolve({ code: null, stdout, stderr: `${stderr}${e.message}`, command }));
    child.on('close', (code) => resolve({ code, stdout, stderr, command }));
  });
}

/** ‖a − ref‖₂ / ‖ref‖₂ in float64 (‖a − ref‖₂ when ref is 0). */
export function relativeError(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(a.length).toBe(ref.length);
  let d = 0;
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    d += (a[i]! - ref[i]!) ** 2;
    n += ref[i]! ** 2;
  }
  return n > 0 ? Math.sqrt(d / n) : Math.sqrt(d);
}

/** A TCP port free right now on localhost (for a torchrun rendezvous that must not collide with a parallel one). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
