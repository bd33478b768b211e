#!/usr/bin/env node
// Register tiles of the wasm GEMM micro-kernel, each generated from the real template
// (defineMicroKernel in src/wasm/gemm-kernels.ts) and run alone on L1-resident packed panels (k = 256,
// the same panels again and again), so the numbers are the kernel's own speed, without packing, copies or
// cache misses: the measurement behind the 4×8 choice (V8 11.3 spills 6×8, see gemm-kernels.ts).
//   npm run build && node bench/wasm-tiles.mjs
// Medians of benchmark.js samples, GFLOP/s; the load average is printed (the machine is shared).
import os from 'node:os';
import Benchmark from 'benchmark';
import { benchmarkMedianSeconds } from './lib/sampling.mjs';

const { enableRelaxedSimd } = await import('../dist/node/index.js');
const { ModuleBuilder } = await import('../dist/wasm/module-builder.js');
const { defineMicroKernel, multiplyAdd } = await import('../dist/wasm/gemm-kernels.js');
const { i32, f32, v128 } = await import('../dist/wasm/expr.js');
const { detectWasmFeatures } = await import('../dist/wasm/detect.js');

enableRelaxedSimd();
const fused = detectWasmFeatures().fusedMultiplyAdd;
const K = 256;
const REPS = 400; // kernel calls per timed function call

/**
 * An experiment beside the template, not a kernel the backend has: an mr×8 tile (mr ≤ 5) whose A values come
 * from one v128.load of 4 rows, each broadcast by a shuffle (and row 5 by load32_splat), so that the loads
 * V8 places first in the loop are 2 B vectors and 2 A values rather than 2 + mr: 5×8 keeps its 10 accumulators
 * in registers. A panels are [k][mr]; the accumulators are stored as they are (no epilogue).
 */
function defineShuffleKernel(mb, mr, madd) {
  return mb.function(
    `shuffle_${mr}x8`,
    { k: 'i32', a: 'i32', b: 'i32', c: 'i32', ldc: 'i32', cols: 'i32', alpha: 'f32', bias: 'i32', flags: 'i32' },
    [],
    (f, { k, a, b, c }) => {
      const acc = Array.from({ length: mr }, (_, i) => [0, 1].map((h) => f.local('v128', `acc${i}${h}`)));
      const bRow = [0, 1].map((h) => f.local('v128', `b${h}`));
      const aRow = f.local('v128', 'aRow');
      const aSplat = f.local('v128', 'a');
      const bEnd = f.let(i32.add(b, i32.shl(k, i32.const(5))), 'bEnd');
      f.loop((next) => {
        for (let h = 0; h < 2; h++) f.set(bRow[h], v128.load(b, { offset: 16 * h }));
        f.set(aRow, v128.load(a));
        for (let i = 0; i < mr; i++) {
          const lane = [4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3];
          f.set(aSplat, i < 4 ? v128.shuffle(aRow, aRow, [...lane, ...lane, ...lane, ...lane]) : v128.load32Splat(a, { offset: 4 * i }));
          for (let h = 0; h < 2; h++) f.set(acc[i][h], multiplyAdd(madd, aSplat, bRow[h], acc[i][h]));
        }
        f.set(a, i32.add(a, i32.const(4 * mr)));
        f.set(b, i32.add(b, i32.const(32)));
        f.brIf(next, i32.ltU(b, bEnd));
      });
      for (let i = 0; i < mr; i++) for (let h = 0; h < 2; h++) f.emit(v128.store(c, acc[i][h], { offset: 32 * i + 16 * h }));
    },
    { export: false },
  );
}

/** A module with one mr×nr micro-kernel (the template's, or with `shuffle` the experiment above) and a driver calling it REPS times on the same panels. */
function tileModule(mr, nr, madd, shuffle = false) {
  const mb = new ModuleBuilder().importMemory('env', 'memory', { initial: 1, maximum: 65536, shared: true });
  const kernel = shuffle ? defineShuffleKernel(mb, mr, madd) : defineMicroKernel(mb, mr, nr, madd);
  mb.function('run', { reps: 'i32', a: 'i32', b: 'i32', c: 'i32' }, [], (f, { reps, a, b, c }) => {
    f.loop((next) => {
      f.call(kernel, i32.const(K), a, b, c, i32.const(4 * 8), i32.const(nr), f32.const(1), i32.const(0), i32.const(0));
      f.set(reps, i32.sub(reps, i32.const(1)));
      f.brIf(next, reps);
    });
  });
  return mb.build();
}

const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
new Float32Array(memory.buffer).fill(0.5);
const A = 1024,
  B = 65536,
  C = 512;
console.log(`wasm micro-kernel tiles, k = ${K}, Node ${process.version}, load average ${os.loadavg()[0].toFixed(2)}`);
console.log('| tile | multiply-add | GFLOP/s |\n| --- | --- | ---: |');
for (const madd of fused ? ['fma', 'mul-add'] : ['mul-add']) {
  for (const [mr, nr, shuffle = false] of [
    [4, 8],
    [6, 8],
    [5, 8],
    [3, 8],
    [2, 8],
    [1, 8],
    [4, 4],
    [4, 8, true],
    [5, 8, true],
  ]) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(tileModule(mr, nr, madd, shuffle)), { env: { memory } });
    const run = instance.exports.run;
    run(20, A, B, C); // reach the optimising tier before timing
    const seconds = benchmarkMedianSeconds(Benchmark, `${mr}x${nr}`, () => run(REPS, A, B, C), { minSamples: 9, maxTime: 1 });
    console.log(`| ${mr}×${nr}${shuffle ? ', A by shuffle' : ''} | ${madd} | ${((2 * mr * nr * K * REPS) / seconds / 1e9).toFixed(1)} |`);
  }
}
