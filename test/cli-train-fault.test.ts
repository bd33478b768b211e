import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint } from '../src/io/checkpoint.js';
import { ensureBuilt, MAIN, ROOT, tempDir, type RunResult } from './cli-helpers.js';
import { wordCorpus } from './train-helpers.js';

/*
 * A gemm worker thread dies in the middle of `mlstm train --threads 2` (a fault drill: the worker
 * asks its supervisor to terminate it mid-job, so the death is heard exactly as a real one): one
 * line says what happened and how to go on, the exit code is 1, the run is saved at its last
 * completed step, and --resume from there ends bit-identical to a run that never failed.
 */

let dir: string;
let corpus: string;
// Large enough that the window-wide products (T·B = 512 rows) are split across the worker.
// --backend js: the fault drills are the JS threaded driver's (the wasm backend runs on one thread for now).
const SIZE = ['--hidden', '64', '--embed', '16', '--batch', '16', '--seq', '32', '--lr', '0.01', '--valid-every', '3', '--backend', 'js'];

beforeAll(() => {
  ensureBuilt();
  dir = tempDir();
  corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, wordCorpus(40_000, 3));
});

function run(args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

function tensorsOf(path: string): Record<string, number[]> {
  const { model, extraTensors } = decodeCheckpoint(readFileSync(path), { source: path });
  const out: Record<string, number[]> = {};
  for (const [n, p] of model.namedParameters()) out[n] = Array.from(p.value.data);
  for (const [n, t] of extraTensors) out[n] = Array.from(t.data);
  return out;
}

describe('a gemm worker that dies during mlstm train / eval', () => {
  it('train: one line, exit 1, the last good step saved; --resume ends bit-identical to an uninterrupted run', async () => {
    const out = join(dir, 'faulted.safetensors');
    const failed = await run(['train', '--data', corpus, '--out', out, ...SIZE, '--steps', '8', '--threads', '2'], {
      MLSTM_GEMM_DRILL: 'terminate:40',
    });
    expect(failed.code, failed.stderr).toBe(1);
    const line =
      /^mlstm: training stopped after step (\d+): gemm worker 1 of 1 was terminated in the middle of a job \(a fault drill\); saved the run at step \1 to '.*faulted\.safetensors' — continue with the same command and --resume \(add --threads 1 to train on one thread\)\n$/.exec(
        failed.stderr,
      );
    expect(line, failed.stderr).not.toBeNull();
    const at = Number(line![1]);
    expect(at).toBeGreaterThanOrEqual(1);
    expect(at).toBeLessThan(8);
    expect(failed.stderr).not.toMatch(/internal error/);

    const resumed = await run(['train', '--data', corpus, '--out', out, ...SIZE, '--steps', '8', '--threads', '2', '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`^resuming at step ${at}: `));

    const straight = join(dir, 'straight.safetensors');
    const s = await run(['train', '--data', corpus, '--out', straight, ...SIZE, '--steps', '8', '--threads', '1']);
    expect(s.code, s.stderr).toBe(0);
    expect(tensorsOf(out)).toEqual(tensorsOf(straight)); // parameters, Adam moments, carried state, bpc history
    expect(resumed.stdout.match(/validation bpc [\d.]+/g)?.at(-1)).toBe(s.stdout.match(/validation bpc [\d.]+/g)?.at(-1));
  }, 180_000);

  it('train --backend wasm: the same on the threaded wasm driver (one line, the last good step saved, --resume bit-identical)', async () => {
    const out = join(dir, 'faulted-wasm.safetensors');
    const wasm = ['--backend', 'wasm'];
    const failed = await run(['train', '--data', corpus, '--out', out, ...SIZE, ...wasm, '--steps', '6', '--threads', '2'], {
      MLSTM_GEMM_DRILL: 'terminate:3',
    });
    expect(failed.code, failed.stderr).toBe(1);
    const line =
      /^mlstm: training stopped after step (\d+): gemm worker 1 of 1 was terminated in the middle of a job \(a fault drill\); saved the run at step \1 /.exec(
        failed.stderr,
      );
    expect(line, failed.stderr).not.toBeNull();
    const resumed = await run(['train', '--data', corpus, '--out', out, ...SIZE, ...wasm, '--steps', '6', '--threads', '2', '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const straight = join(dir, 'straight-wasm.safetensors');
    const s = await run(['train', '--data', corpus, '--out', straight, ...SIZE, ...wasm, '--steps', '6', '--threads', '1']);
    expect(s.code, s.stderr).toBe(0);
    expect(tensorsOf(out)).toEqual(tensorsOf(straight));
  }, 180_000);

  it('eval: one line naming the worker, exit 1', async () => {
    const model = join(dir, 'eval-model.safetensors');
    const t = await run(['train', '--data', corpus, '--out', model, ...SIZE, '--steps', '1', '--threads', '1']);
    expect(t.code, t.stderr).toBe(0);
    const r = await run(['eval', model, corpus, '--batch', '64', '--backend', 'js', '--threads', '2'], { MLSTM_GEMM_DRILL: 'throw:3' });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /^mlstm: eval stopped: gemm worker 1 threw Error: fault drill \(throw\) at job \d+; run it again, or add --threads 1 to compute on one thread\n$/,
    );
  }, 120_000);
});
