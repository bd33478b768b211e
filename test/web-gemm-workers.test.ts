import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { jsBackendBase } from './support/counting-backend.js';
import type { Backend, GemmArgs } from '../src/tensor/backend.js';
import type { Storage } from '../src/tensor/dtype.js';
import { blockedBackend } from '../src/tensor/kernels/gemm-blocked.js';
import { gemmNaive } from '../src/tensor/kernels/gemm-naive.js';
import { Rng } from '../src/tensor/rng.js';
import { createWebParallelBackend, type WebParallelBackend, type WebParallelBackendOptions } from '../src/web/gemm-workers.js';
import { ensureBuilt, ROOT } from './cli-helpers.js';
import { NodeWebWorker } from './support/web-worker-shim.mjs';

/*
 * mlstm/web's parallel GEMM in Node. The fallbacks run from the sources, with the web globals
 * (Worker, crossOriginIsolated, navigator, SharedArrayBuffer) stubbed per test. The workers
 * themselves run through a shim that gives node:worker_threads the web Worker interface and gives
 * the worker the dedicated-worker scope it expects (onmessage, postMessage, close), so the real
 * dist/web/gemm-worker.js is driven exactly as in a browser: from its event loop, returning to it
 * whenever a job needs a message. (The browser test, test/browser/demo.browser.mjs, runs the same
 * code in Chromium.)
 */

afterEach(() => {
  vi.unstubAllGlobals();
});

const identical = (x: Storage, y: Storage): boolean => x.length === y.length && x.every((v, i) => Object.is(v, y[i]));

function randomProblem(seed: number, m: number, n: number, k: number, extra: Partial<GemmArgs> = {}): GemmArgs {
  const rng = new Rng(seed);
  const fill = (len: number): Float32Array => {
    const x = new Float32Array(len);
    for (let i = 0; i < len; i++) x[i] = rng.uniform(-1, 1);
    return x;
  };
  return { m, n, k, a: fill(m * k), b: fill(k * n), c: fill(m * n), ...extra };
}

/** Runs `p` on `backend` into a copy of p.c and returns that copy. */
function run(backend: Backend, p: GemmArgs, packed = false): Storage {
  const c = p.c.slice();
  const opB = { k: p.k, n: p.n, b: p.b, ...(p.transB !== undefined && { transB: p.transB }) };
  backend.gemm({ ...p, c, ...(packed && { packedB: backend.prepareB!(opB) }) });
  return c;
}

describe('createWebParallelBackend: the single-thread fallback', () => {
  const expectFallback = async (options: WebParallelBackendOptions, reason: RegExp): Promise<WebParallelBackend> => {
    const backend = await createWebParallelBackend(options);
    expect(backend.threads).toBe(1);
    expect(backend.name).toBe('blocked');
    expect(backend.reason).toMatch(reason);
    backend.close(); // a no-op, twice
    backend.close();
    return backend;
  };

  it('without a Worker global (Node, crossOriginIsolated undefined) computes on one thread and says why', async () => {
    const backend = await expectFallback({ threads: 4 }, /no Worker global/);
    // Still a working backend after close (nothing to close): the product agrees with the naive reference.
    const p = randomProblem(1, 37, 29, 41, { accumulate: true, alpha: 0.5, bias: new Float32Array(29).fill(0.25) });
    const got = run(backend, p, true);
    const want = run({ name: 'naive', gemm: gemmNaive, ...jsBackendBase }, p);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 4);
    expect(identical(got, run(blockedBackend, p))).toBe(true);
  });

  it('with threads 1 starts no worker', async () => {
    const Worker = vi.fn();
    vi.stubGlobal('Worker', Worker);
    vi.stubGlobal('crossOriginIsolated', true);
    await expectFallback({ threads: 1 }, /one thread/);
    expect(Worker).not.toHaveBeenCalled();
  });

  it('on a page that is not cross-origin isolated starts no worker and names the headers', async () => {
    const Worker = vi.fn();
    vi.stubGlobal('Worker', Worker);
    vi.stubGlobal('crossOriginIsolated', false);
    await expectFallback(
      { threads: 2 },
      /not cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/,
    );
    expect(Worker).not.toHaveBeenCalled();
  });

  it('without SharedArrayBuffer says so (and why, on a page that is not isolated)', async () => {
    vi.stubGlobal('Worker', vi.fn());
    vi.stubGlobal('SharedArrayBuffer', undefined);
    const pending = [createWebParallelBackend({ threads: 2 })]; // the checks run before the first await
    vi.stubGlobal('crossOriginIsolated', false);
    pending.push(createWebParallelBackend({ threads: 2 }));
    vi.unstubAllGlobals();
    const [runtime, page] = await Promise.all(pending);
    expect(runtime!.reason).toMatch(/SharedArrayBuffer is unavailable in this runtime/);
    expect(page!.reason).toMatch(/SharedArrayBuffer is unavailable: the page is not cross-origin isolated/);
  });

  it('defaults to navigator.hardwareConcurrency threads (one core: one thread)', async () => {
    vi.stubGlobal('Worker', vi.fn());
    vi.stubGlobal('navigator', { hardwareConcurrency: 1 });
    await expectFallback({}, /one thread/);
  });

  it('rejects a bad thread count or timeout, naming the function', async () => {
    for (const threads of [0, 1.5, 66, Number.NaN]) {
      await expect(createWebParallelBackend({ threads })).rejects.toThrow(
        /createWebParallelBackend: threads must be an integer in 1\.\.65/,
      );
    }
    await expect(createWebParallelBackend({ threads: 2, timeoutMs: 0 })).rejects.toThrow(
      /createWebParallelBackend: timeoutMs must be a positive number/,
    );
  });
});

describe('createWebParallelBackend with workers (dist/web/gemm-worker.js through a web Worker shim)', () => {
  type Built = {
    createWebParallelBackend: typeof createWebParallelBackend;
    blockedBackend: Backend;
    createWasmBackendSync: (o: { fma: boolean }) => Backend & { close(): void };
  };
  let lib: Built;

  beforeAll(async () => {
    ensureBuilt();
    const web = (await import(`${ROOT}dist/web/index.js`)) as Pick<Built, 'createWebParallelBackend'>;
    const blocked = (await import(`${ROOT}dist/tensor/kernels/gemm-blocked.js`)) as Pick<Built, 'blockedBackend'>;
    const wasm = (await import(`${ROOT}dist/wasm/index.js`)) as Pick<Built, 'createWasmBackendSync'>;
    lib = { ...web, ...blocked, ...wasm };
  }, 180_000);

  it("kernel 'wasm': the workers instantiate the caller's module over its shared memory; bit-identical to the single-thread wasm backend, and a drill still closes it", async () => {
    vi.stubGlobal('Worker', NodeWebWorker);
    const single = lib.createWasmBackendSync({ fma: false });
    const backend = await lib.createWebParallelBackend({ threads: 3, kernel: 'wasm', fma: false, timeoutMs: 20_000 });
    try {
      expect(backend.threads).toBe(3);
      expect(backend.describe?.()).toBe('wasm-simd ×3');
      const tall = randomProblem(2, 240, 96, 64, { transA: true, accumulate: true, alpha: -1.5 });
      expect(identical(run(backend, tall), run(single, tall))).toBe(true);
      const wide = randomProblem(3, 32, 600, 128, { transB: true, bias: new Float32Array(600).fill(-0.5) });
      expect(identical(run(backend, wide, true), run(single, wide, true))).toBe(true);
      backend.drill!({ kind: 'terminate', worker: 1 });
      expect(() => run(backend, wide)).toThrow(/^gemm worker 2 of 2 was terminated in the middle of a job \(a fault drill\)/);
      expect(() => run(backend, wide)).toThrow(/the backend is closed/);
    } finally {
      backend.close();
      single.close();
    }
  }, 60_000);

  it('splits tall and wide (prepared) products over 3 threads, bit-identical to the single-thread kernel', async () => {
    vi.stubGlobal('Worker', NodeWebWorker);
    NodeWebWorker.started = 0;
    const backend = await lib.createWebParallelBackend({ threads: 3, timeoutMs: 20_000 });
    try {
      expect(backend.threads).toBe(3);
      expect(backend.reason).toBeUndefined();
      expect(NodeWebWorker.started).toBe(1); // the supervisor: it starts the two GEMM workers itself
      const tall = randomProblem(2, 240, 96, 64, { transA: true, accumulate: true, alpha: -1.5 }); // 1.5 M multiply-adds
      expect(identical(run(backend, tall), run(lib.blockedBackend, tall))).toBe(true);
      const wide = randomProblem(3, 32, 600, 128, { transB: true, bias: new Float32Array(600).fill(-0.5) }); // 2.5 M
      for (let round = 0; round < 2; round++) {
        wide.b = wide.b.map((v) => v * 0.5 + round); // a changed b, prepared again: the shared slot is repacked in place
        expect(identical(run(backend, wide, true), run(lib.blockedBackend, wide, true))).toBe(true);
      }
    } finally {
      backend.close();
    }
    expect(() => backend.gemm(randomProblem(4, 2, 2, 2))).toThrow(/closed/);
  }, 60_000);

  it('a worker terminated in the middle of a job, or throwing in it, makes the blocked gemm throw at once and closes the backend', async () => {
    vi.stubGlobal('Worker', NodeWebWorker);
    const p = randomProblem(5, 64, 300, 100); // 1.9 M multiply-adds
    for (const [drill, reason] of [
      [{ kind: 'terminate', afterJobs: 2 }, /^gemm worker 1 of 1 was terminated in the middle of a job \(a fault drill\)$/],
      [{ kind: 'throw' }, /^gemm worker 1 threw Error: fault drill \(throw\) at job 1$/],
    ] as const) {
      const backend = await lib.createWebParallelBackend({ threads: 2 });
      try {
        backend.drill!(drill);
        const want = run(lib.blockedBackend, p);
        if (drill.kind === 'terminate') expect(identical(run(backend, p), want)).toBe(true); // the job before the drill's
        let error: unknown;
        try {
          run(backend, p);
        } catch (e) {
          error = e;
        }
        expect((error as Error).name).toBe('GemmWorkerFault');
        expect((error as { reason: string }).reason).toMatch(reason);
        expect(() => run(backend, p)).toThrow(/the backend is closed/);
      } finally {
        backend.close();
      }
    }
  }, 60_000);

  it('a worker that stalls for 1 s in the middle of its part is waited for', async () => {
    vi.stubGlobal('Worker', NodeWebWorker);
    const backend = await lib.createWebParallelBackend({ threads: 2 });
    try {
      const p = randomProblem(6, 64, 300, 100);
      backend.drill!({ kind: 'stall', ms: 1000 });
      const t0 = performance.now();
      expect(identical(run(backend, p), run(lib.blockedBackend, p))).toBe(true);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(900);
    } finally {
      backend.close();
    }
  }, 60_000);

  it('rejects, naming the script, when a worker cannot load', async () => {
    vi.stubGlobal('Worker', NodeWebWorker);
    const workerUrl = new URL('dist/web/no-such-worker.js', `file://${ROOT}`);
    await expect(lib.createWebParallelBackend({ threads: 2, workerUrl, timeoutMs: 20_000 })).rejects.toThrow(
      /gemm worker 1 \(file:.*no-such-worker\.js\)/,
    );
  });

  it('rejects when a worker never reports ready (a script that is not the gemm worker)', async () => {
    vi.stubGlobal('Worker', NodeWebWorker);
    const workerUrl = new URL('dist/web/index.js', `file://${ROOT}`);
    await expect(lib.createWebParallelBackend({ threads: 2, workerUrl, timeoutMs: 300 })).rejects.toThrow(
      /the 1 gemm worker\(s\) \(file:.*dist\/web\/index\.js\) did not report ready within 300 ms/,
    );
  });
});
