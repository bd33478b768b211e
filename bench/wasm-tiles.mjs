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
const { defineMicroKernel } = await import('../dist/wasm/gemm-kernels.js');
const { i32, f32 } = await import('../dist/wasm/expr.js');
const { detectWasmFeatures } = await import('../dist/wasm/detect.js');

enableRelaxedSimd();
const fused = detectWasmFeatures().fusedMultiplyAdd;
const K = 256;
const REPS = 400; // kernel calls per timed function call

/** A module with one mr×nr micro-kernel and a driver calling it REPS times on the same panels. */
function tileModule(mr, nr, madd) {
  const mb = new ModuleBuilder().importMemory('env', 'memory', { initial: 1, maximum: 65536, shared: true });
  const kernel = defineMicroKernel(mb, mr, nr, madd);
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
  for (const [mr, nr] of [
    [4, 8],
    [6, 8],
    [5, 8],
    [3, 8],
    [2, 8],
    [1, 8],
    [4, 4],
  ]) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(tileModule(mr, nr, madd)), { env: { memory } });
    const run = instance.exports.run;
    run(20, A, B, C); // reach the optimising tier before timing
    const seconds = benchmarkMedianSeconds(Benchmark, `${mr}x${nr}`, () => run(REPS, A, B, C), { minSamples: 9, maxTime: 1 });
    console.log(`| ${mr}×${nr} | ${madd} | ${((2 * mr * nr * K * REPS) / seconds / 1e9).toFixed(1)} |`);
  }
}
