#!/usr/bin/env node
// One-row products C[1,n] = a[1,k]·B[k,n] over packed panels, the product a model stepping one token at a time
// runs (src/model/stepper.ts): the row tiles of src/wasm/gemm-row.ts (1×8P, P panels side by side, each
// generated from the real template) against the tiled driver's 1×8 edge kernel (gemm-kernels.ts), each walking
// the whole row of panels. Two sizes: n = 96 (the panels stay in L1: the kernel's own speed) and the per-character
// product of the model API at H = 256, [1,256]·[256,1056] (1 MiB of panels: L2/L3 bandwidth decides).
//   npm run build && node bench/wasm-row.mjs
// Medians of benchmark.js samples, GFLOP/s; the load average is printed (the machine is shared).
import os from 'node:os';
import Benchmark from 'benchmark';
import { benchmarkMedianSeconds } from './lib/sampling.mjs';

const { enableRelaxedSimd } = await import('../dist/node/index.js');
const { ModuleBuilder } = await import('../dist/wasm/module-builder.js');
const { defineMicroKernel } = await import('../dist/wasm/gemm-kernels.js');
const { defineRowKernel } = await import('../dist/wasm/gemm-row.js');
const { i32, f32 } = await import('../dist/wasm/expr.js');
const { detectWasmFeatures } = await import('../dist/wasm/detect.js');

enableRelaxedSimd();
const fused = detectWasmFeatures().fusedMultiplyAdd;
const K = 256;
const SIZES = [96, 1056]; // n: columns of the row

/** A module with one kernel and `run(reps, n, a, b, c)`: reps passes over the n columns of packed panels. */
function rowModule(kind, panels, madd) {
  const mb = new ModuleBuilder().importMemory('env', 'memory', { initial: 1, maximum: 65536, shared: true });
  const kernel = kind === 'row' ? defineRowKernel(mb, panels, madd) : defineMicroKernel(mb, 1, 8, madd);
  const width = 8 * panels;
  mb.function('run', { reps: 'i32', n: 'i32', a: 'i32', b: 'i32', c: 'i32' }, [], (f, { reps, n, a, b, c }) => {
    const j = f.local('i32', 'j');
    f.loop((again) => {
      f.set(j, i32.const(0));
      f.loop((next) => {
        const bPanel = i32.add(b, i32.mul(j, i32.const(4 * K)));
        const cTile = i32.add(c, i32.shl(j, i32.const(2)));
        if (kind === 'row')
          f.call(kernel, i32.const(K), a, bPanel, i32.const(32 * K), cTile, i32.const(width), f32.const(1), i32.const(0), i32.const(0));
        else f.call(kernel, i32.const(K), a, bPanel, cTile, i32.const(0), i32.const(8), f32.const(1), i32.const(0), i32.const(0));
        f.set(j, i32.add(j, i32.const(width)));
        f.brIf(next, i32.ltU(j, n));
      });
      f.set(reps, i32.sub(reps, i32.const(1)));
      f.brIf(again, reps);
    });
  });
  return mb.build();
}

const memory = new WebAssembly.Memory({ initial: 64 + (1024 * 1024 * 4 * 2) / 65536, maximum: 65536, shared: true });
new Float32Array(memory.buffer).fill(0.5);
const A = 1024,
  C = 8192,
  B = 65536;
console.log(`wasm one-row products, k = ${K}, Node ${process.version}, load average ${os.loadavg()[0].toFixed(2)}`);
console.log('| kernel | multiply-add | n | GFLOP/s |\n| --- | --- | ---: | ---: |');
for (const madd of fused ? ['fma', 'mul-add'] : ['mul-add']) {
  for (const n of SIZES) {
    for (const [kind, panels] of [
      ['edge', 1],
      ['row', 1],
      ['row', 2],
      ['row', 3],
      ['row', 4],
    ]) {
      if (n % (8 * panels) !== 0) continue;
      const instance = new WebAssembly.Instance(new WebAssembly.Module(rowModule(kind, panels, madd)), { env: { memory } });
      const run = instance.exports.run;
      const reps = Math.max(1, Math.round(400_000 / n));
      run(20, n, A, B, C); // reach the optimising tier before timing
      const seconds = benchmarkMedianSeconds(Benchmark, `${kind}${panels}`, () => run(reps, n, A, B, C), { minSamples: 9, maxTime: 1 });
      const name = kind === 'row' ? `row 1×${8 * panels}` : 'tiled 1×8 edge';
      console.log(`| ${name} | ${madd} | ${n} | ${((2 * n * K * reps) / seconds / 1e9).toFixed(1)} |`);
    }
  }
}
