// matmul suite: GFLOP/s of the library's GEMM backends against a plain i-k-j triple loop.
import os from 'node:os';
import { fillUniform, medianSeconds, sampleSeconds } from '../lib/measure.mjs';

/** m×k·k×n problems: square ones and the shapes of one recurrent step (batch 32, H·4 outputs). */
export const MATMUL_SIZES = [
  [128, 128, 128],
  [256, 256, 256],
  [512, 512, 512],
  [1024, 1024, 1024],
  [32, 256, 1024],
  [32, 512, 2048],
];

/**
 * The per-step shapes, where B is a weight reused across the T steps of a window: these are also
 * measured with op(B) packed once (Backend.prepareB, GemmArgs.packedB), as the recurrent time loops
 * call them, for every backend that can prepare.
 */
export const PREPARED_SIZES = [
  [32, 256, 1024],
  [32, 512, 2048],
];

/** The naive loop is skipped (reported null) above this many multiply-adds: it would take > 1 s per call. */
const NAIVE_MAX_WORK = 512 ** 3;

/**
 * C[m,n] = A[m,k]·B[k,n] as a peer would write it without thinking about caches: i-k-j order
 * (unit stride over B and C in the inner loop), float32 arrays, accumulating in C.
 */
export function naiveMatmul(a, b, c, m, k, n) {
  c.fill(0);
  for (let i = 0; i < m; i++) {
    const cRow = i * n;
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p];
      const bRow = p * n;
      for (let j = 0; j < n; j++) c[cRow + j] += aip * b[bRow + j];
    }
  }
}

/**
 * Runs the suite. `lib` is the built package (dist/index.js); `backends` lists extra
 * { name, threads, backend } rows to measure beside the single-thread blocked kernel (name is what
 * the backend says it runs: describe() where it has one). Every backend runs on the same arrays in
 * the same run. Returns rows { m, k, n, threads, backend, prepared_b, gflops (median), best_gflops (fastest
 * sample), naive_gflops, peak_rss_mb (the suite's process so far), load }.
 */
export function runMatmulSuite(lib, { backends = [], log = () => {} } = {}) {
  const measured = [{ name: 'blocked', threads: 1, backend: lib.blockedBackend }, ...backends];
  const rows = [];
  for (const [m, k, n] of MATMUL_SIZES) {
    const a = fillUniform(new Float32Array(m * k), 1); // [m,k]
    const b = fillUniform(new Float32Array(k * n), 2); // [k,n]
    const c = new Float32Array(m * n); // [m,n]
    const flops = 2 * m * n * k;
    const args = { m, n, k, a, b, c }; // one argument object, reused by every call
    let naiveGflops = null;
    if (m * n * k <= NAIVE_MAX_WORK) {
      const seconds = medianSeconds(`naive ${m}x${k}x${n}`, () => naiveMatmul(a, b, c, m, k, n), { minSamples: 5, maxTime: 2 });
      naiveGflops = flops / seconds / 1e9;
    }
    const prepare = PREPARED_SIZES.some(([pm, pk, pn]) => pm === m && pk === k && pn === n);
    for (const { name, threads, backend } of measured) {
      for (const prepared of prepare && backend.prepareB ? [false, true] : [false]) {
        const packedB = prepared ? backend.prepareB(args) : undefined;
        const call = prepared ? { ...args, packedB } : args;
        const label = `${name}${prepared ? ' prepared' : ''} ${m}x${k}x${n}`;
        const { median, fastest } = sampleSeconds(label, () => backend.gemm(call), { minSamples: 7, maxTime: 3 });
        if (packedB) backend.releaseB?.(packedB);
        const row = {
          m,
          k,
          n,
          threads,
          backend: name,
          prepared_b: prepared,
          gflops: flops / median / 1e9,
          best_gflops: flops / fastest / 1e9,
          naive_gflops: naiveGflops,
          peak_rss_mb: process.resourceUsage().maxRSS / 1024, // of the whole suite so far (one process)
          load: os.loadavg()[0],
        };
        rows.push(row);
        log(row);
      }
    }
  }
  return rows;
}

export const MATMUL_COLUMNS = [
  { key: 'm', title: 'm' },
  { key: 'k', title: 'k' },
  { key: 'n', title: 'n' },
  { key: 'backend', title: 'backend' },
  { key: 'threads', title: 'threads' },
  { key: 'prepared_b', title: 'B prepared' },
  { key: 'gflops', title: 'GFLOP/s' },
  { key: 'best_gflops', title: 'best GFLOP/s' },
  { key: 'naive_gflops', title: 'naive i-k-j GFLOP/s' },
  { key: 'speedup', title: '× naive' },
  { key: 'peak_rss_mb', title: 'peak RSS so far (MB)' },
  { key: 'load', title: 'load' },
];
