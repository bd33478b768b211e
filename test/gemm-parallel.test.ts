import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Backend, GemmArgs, PreparedB } from '../src/tensor/backend.js';
import type { Storage } from '../src/tensor/dtype.js';
import { Rng } from '../src/tensor/rng.js';
import { MR, NC, NR } from '../src/tensor/kernels/gemm-panels.js';
import { PARALLEL_MIN_WORK } from '../src/parallel/gemm-parallel-protocol.js';
import { chooseSplit, partitionColumns, partitionRange, partitionRows } from './support/partitions.js';
import { ensureBuilt, ROOT } from './cli-helpers.js';

/*
 * The worker-thread GEMM against the single-thread blocked kernel: results must be bit-identical
 * (every thread runs the same kernel on whole rows). Worker threads run JavaScript, so this test
 * uses the compiled package (dist/, rebuilt when stale) for both sides of the comparison.
 */

interface Built {
  createParallelBackend: (o?: { threads?: number }) => Backend & { threads: number; close(): void; ready(): Promise<void> };
  blockedBackend: Backend;
}

let lib: Built;
let parallel: Backend & { threads: number; close(): void; ready(): Promise<void> };

beforeAll(async () => {
  ensureBuilt();
  const workers = (await import(`${ROOT}dist/node/gemm-workers.js`)) as Pick<Built, 'createParallelBackend'>;
  const blocked = (await import(`${ROOT}dist/tensor/kernels/gemm-blocked.js`)) as Pick<Built, 'blockedBackend'>;
  lib = { ...workers, ...blocked };
  parallel = lib.createParallelBackend({ threads: 3 });
  await parallel.ready(); // every worker serving: the products below really are split
}, 180_000);

afterAll(() => parallel?.close());

const identical = (x: Storage, y: Storage): boolean => x.length === y.length && x.every((v, i) => Object.is(v, y[i]));

function problem(
  seed: number,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  f64: boolean,
  accumulate: boolean,
  withBias: boolean,
  pad: number,
): { args: GemmArgs; c: Storage } {
  const rng = new Rng(seed);
  const make = (len: number): Storage => {
    const x = f64 ? new Float64Array(len) : new Float32Array(len);
    for (let i = 0; i < len; i++) x[i] = rng.uniform(-1, 1);
    return x;
  };
  const lda = (transA ? m : k) + pad,
    ldb = (transB ? k : n) + pad,
    ldc = n + pad;
  const args: GemmArgs = {
    m,
    n,
    k,
    transA,
    transB,
    lda,
    ldb,
    ldc,
    accumulate,
    alpha: rng.uniform(-2, 2),
    a: make(pad + ((transA ? k : m) - 1) * lda + (transA ? m : k)),
    aOffset: pad,
    b: make(pad + ((transB ? n : k) - 1) * ldb + (transB ? k : n)),
    bOffset: pad,
    c: new Float32Array(0),
    cOffset: pad,
  };
  if (withBias) args.bias = make(n);
  return { args, c: make(pad + (m - 1) * ldc + n + pad) };
}

/** The parallel backend's C equals the single-thread kernel's, bit for bit, on this problem. */
function splitMatchesSingle({ args, c }: { args: GemmArgs; c: Storage }): boolean {
  const single = c.slice();
  const split = c.slice();
  lib.blockedBackend.gemm({ ...args, c: single });
  parallel.gemm({ ...args, c: split });
  return identical(single, split);
}

describe('parallel GEMM (worker_threads)', () => {
  it('uses the requested threads', () => {
    expect(parallel.threads).toBe(3);
  });

  it('is bit-identical to the single-thread blocked kernel on problems large enough to split', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2 * MR, max: 160 }),
        fc.integer({ min: 1, max: 300 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 1e9 }),
        (m, n, transA, transB, f64, accumulate, withBias, pad, seed) => {
          const k = Math.max(1, Math.ceil(PARALLEL_MIN_WORK / (m * n))) + (seed % 5); // at least the split threshold
          if (k > 4000) return true; // n too small for a splittable problem of reasonable size
          return splitMatchesSingle(problem(seed, m, n, k, transA, transB, f64, accumulate, withBias, pad));
        },
      ),
      { numRuns: 12 },
    );
  }, 120_000);

  it('with a prepared B (read by the calling thread, packed from b by the workers) is bit-identical to the single-thread kernel', () => {
    for (const [seed, m, n, k, transB] of [
      [1, 32, 256, 256, true],
      [2, 32, 200, 1030, false],
      [3, 7, 9, 11, true],
    ] as const) {
      const { args, c } = problem(seed, m, n, k, false, transB, false, seed === 2, false, 1);
      const single = c.slice();
      lib.blockedBackend.gemm({ ...args, c: single });
      const prepared = parallel.prepareB!(args);
      for (let call = 0; call < 2; call++) {
        const split = c.slice();
        parallel.gemm({ ...args, c: split, packedB: prepared });
        expect(identical(single, split)).toBe(true);
      }
    }
    const { args } = problem(4, 32, 256, 256, false, true, false, false, false, 0);
    const other = parallel.prepareB!({ ...args, b: args.b.slice() });
    expect(() => parallel.gemm({ ...args, c: new Float32Array(32 * 256), packedB: other })).toThrow(/gemm: packedB .* from another b/);
  });

  it('splits wide products by columns, also past one column block (n > NC), bit-identically', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: NC + 1, max: 2 * NC + 60 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 1e9 }),
        (m, n, transA, transB, f64, accumulate, withBias, pad, seed) => {
          const k = Math.ceil(PARALLEL_MIN_WORK / (m * n)) + (seed % 7);
          expect(chooseSplit(m, n, 3, false).byColumns).toBe(true);
          return splitMatchesSingle(problem(seed, m, n, k, transA, transB, f64, accumulate, withBias, pad));
        },
      ),
      { numRuns: 8 },
    );
  }, 120_000);

  it('a prepared B lives in shared memory: workers read it, the next prepareB of that b repacks it, the old one is refused', () => {
    // The recurrent loop's pattern: prepare, T gemms, optimiser step changes b, prepare again.
    for (const [seed, m, n, k, transB] of [
      [11, 32, 1024, 64, true],
      [12, 8, 2 * NC + 8, 80, false],
      [13, 200, 48, 160, true],
    ] as const) {
      const { args, c } = problem(seed, m, n, k, false, transB, false, false, seed === 12, 0);
      for (let round = 0; round < 2; round++) {
        if (round === 1) for (let i = 0; i < args.b.length; i++) args.b[i] = -0.5 * args.b[i]! + 0.25; // the "optimiser step"
        const prepared = parallel.prepareB!(args);
        const single = c.slice();
        lib.blockedBackend.gemm({ ...args, c: single });
        for (let call = 0; call < 2; call++) {
          const split = c.slice();
          parallel.gemm({ ...args, c: split, packedB: prepared });
          expect(identical(single, split)).toBe(true);
        }
        if (round === 1) continue;
        const again = parallel.prepareB!(args); // same b and addressing: same slot, so `prepared` is stale now
        expect(() => parallel.gemm({ ...args, c: c.slice(), packedB: prepared })).toThrow(/gemm: packedB is stale/);
        const split = c.slice();
        parallel.gemm({ ...args, c: split, packedB: again });
        expect(identical(single, split)).toBe(true);
      }
    }
  });

  it('releaseB returns a slot for the next prepareB of that layout, whatever its b: a new weight per window reuses one slot', () => {
    // A weight-normalised layer computes a new weight array every window; without release each would get new shared memory.
    const slotIds = new Set<number>();
    let previous: PreparedB | undefined;
    for (let window = 0; window < 5; window++) {
      const { args, c } = problem(100 + window, 32, 512, 128, false, true, false, false, false, 0);
      const prepared = parallel.prepareB!(args);
      slotIds.add((prepared as unknown as { slot: { id: number } }).slot.id);
      const single = c.slice(),
        split = c.slice();
      lib.blockedBackend.gemm({ ...args, c: single });
      parallel.gemm({ ...args, c: split, packedB: prepared });
      expect(identical(single, split)).toBe(true);
      parallel.releaseB!(prepared);
      parallel.releaseB!(prepared); // twice is harmless
      expect(() => parallel.gemm({ ...args, c: c.slice(), packedB: prepared })).toThrow(
        /gemm: packedB is stale: op\(B\) 128×512 was released/,
      );
      if (previous) expect(() => parallel.gemm({ ...args, c: c.slice(), packedB: previous })).toThrow(/stale|another b/);
      previous = prepared;
    }
    expect(slotIds.size).toBe(1);
    parallel.releaseB!(lib.blockedBackend.prepareB!({ k: 4, n: 4, b: new Float32Array(16) })); // another backend's: ignored
  });

  it('runs small problems on the calling thread with the same result', () => {
    const { args, c } = problem(7, 5, 9, 11, false, true, false, true, true, 1);
    const single = c.slice(),
      split = c.slice();
    lib.blockedBackend.gemm({ ...args, c: single });
    parallel.gemm({ ...args, c: split });
    expect(identical(single, split)).toBe(true);
  });

  it('validates arguments like the single-thread kernel', () => {
    const m = 128,
      n = 128,
      k = 128;
    expect(() =>
      parallel.gemm({ m, n, k, a: new Float32Array(m * k - 1), b: new Float32Array(k * n), c: new Float32Array(m * n) }),
    ).toThrow(/gemm: a stored as \[128,128\].*needs 16384 elements, has 16383/);
  });

  it('threads: 1 is the single-thread kernel; close() is idempotent and gemm refuses afterwards', () => {
    const one = lib.createParallelBackend({ threads: 1 });
    expect(one.threads).toBe(1);
    expect(one.prepareB).toBe(lib.blockedBackend.prepareB); // the recurrent loops still pack their weights once
    one.close();
    const two = lib.createParallelBackend({ threads: 2 });
    two.close();
    two.close();
    const m = 128;
    expect(() => two.gemm({ m, n: m, k: m, a: new Float32Array(m * m), b: new Float32Array(m * m), c: new Float32Array(m * m) })).toThrow(
      /closed/,
    );
  });
});

describe('partitionColumns / chooseSplit', () => {
  it('cuts columns at whole panels, or at whole column blocks for a prepared op(B) wider than NC', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 9 }), fc.boolean(), (n, parts, prepared) => {
        const ranges = partitionColumns(n, parts, prepared);
        const unit = prepared && n > NC ? NC : NR;
        expect(ranges[0]![0]).toBe(0);
        expect(ranges.at(-1)![1]).toBe(n);
        expect(ranges.length).toBe(Math.min(parts, Math.ceil(n / unit)));
        for (let i = 0; i < ranges.length; i++) {
          const [s, e] = ranges[i]!;
          expect(e).toBeGreaterThan(s);
          expect(s % unit).toBe(0);
          if (i > 0) expect(s).toBe(ranges[i - 1]![1]);
        }
      }),
    );
  });

  it('splits by columns only when C is wider than tall and that gives at least as many parts', () => {
    expect(chooseSplit(32, 1024, 2, true)).toEqual({
      byColumns: true,
      ranges: [
        [0, 512],
        [512, 1024],
      ],
    });
    expect(chooseSplit(2048, 96, 2, false).byColumns).toBe(false);
    expect(chooseSplit(1024, 1024, 2, false).byColumns).toBe(false);
    expect(chooseSplit(32, 1500, 2, true).ranges).toEqual([
      [0, 1024],
      [1024, 1500],
    ]); // prepared, n > NC: whole blocks
    expect(chooseSplit(11, 12, 4, false).byColumns).toBe(false); // 3 panels but 4 row tiles: rows give more parts
  });
});

describe('partitionRange with thread speeds', () => {
  it('sizes the parts in proportion to the weights (within a unit or two), each at least one unit, covering [0, size)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.array(fc.double({ min: 0.25, max: 4, noNaN: true }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 8 }),
        (size, weights, unit) => {
          const ranges = partitionRange(size, weights, unit);
          const units = Math.ceil(size / unit);
          expect(ranges.length).toBe(Math.min(weights.length, units));
          expect(ranges[0]![0]).toBe(0);
          expect(ranges.at(-1)![1]).toBe(size);
          const used = weights.slice(0, ranges.length);
          const total = used.reduce((x, y) => x + y, 0);
          ranges.forEach(([s, e], p) => {
            if (p > 0) expect(s).toBe(ranges[p - 1]![1]);
            expect(s % unit).toBe(0);
            expect(e).toBeGreaterThan(s);
            // Ideal share of the units, give or take the rounding of both ends and the one-unit minimum.
            expect(Math.abs(Math.ceil((e - s) / unit) - (units * used[p]!) / total)).toBeLessThanOrEqual(Math.max(2, ranges.length));
          });
        },
      ),
    );
    expect(partitionRange(32, [1, 3], 4)).toEqual([
      [0, 8],
      [8, 32],
    ]);
    expect(partitionRange(1024, [1, 1], 4)).toEqual(partitionRange(1024, 2, 4));
  });
});

describe('partitionRows', () => {
  it('covers [0, m) with contiguous ranges cut at multiples of MR', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 9 }), (m, parts) => {
        const ranges = partitionRows(m, parts);
        expect(ranges.length).toBeGreaterThanOrEqual(1);
        expect(ranges.length).toBeLessThanOrEqual(parts);
        expect(ranges[0]![0]).toBe(0);
        expect(ranges.at(-1)![1]).toBe(m);
        for (let i = 0; i < ranges.length; i++) {
          const [s, e] = ranges[i]!;
          expect(e).toBeGreaterThan(s);
          if (i > 0) expect(s).toBe(ranges[i - 1]![1]);
          if (i < ranges.length - 1) expect(e % MR).toBe(0);
        }
        // Balanced: sizes differ by at most one register tile (plus the ragged last tile).
        const sizes = ranges.map(([s, e]) => e - s);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(2 * MR);
      }),
    );
  });
});
