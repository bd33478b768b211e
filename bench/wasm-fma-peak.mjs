#!/usr/bin/env node
// What one core's 128-bit FMA can do, to read the GEMM's GFLOP/s against: chains of dependent
// `f32x4.relaxed_madd` with no loads (acc ← x·y + acc, `chains` independent accumulators, unrolled). With one or
// two chains the loop waits on the FMA's latency, so multiply-adds per second × latency / chains is the clock
// (printed for a latency of 4 cycles, Zen 4's); with 8 or more the two FMA pipes are the limit, and
// 2 FMAs/cycle × 4 lanes × 2 flops × clock is the peak the micro-kernel can approach.
//   npm run build && node bench/wasm-fma-peak.mjs
import os from 'node:os';

const { enableRelaxedSimd } = await import('../dist/node/index.js');
const { ModuleBuilder } = await import('../dist/wasm/module-builder.js');
const { i32, f32x4, v128 } = await import('../dist/wasm/expr.js');
const { detectWasmFeatures } = await import('../dist/wasm/detect.js');

enableRelaxedSimd();
if (!detectWasmFeatures().fusedMultiplyAdd) {
  console.log('wasm-fma-peak: this runtime does not fuse relaxed_madd; nothing to measure');
  process.exit(0);
}

/** run(n, out): n iterations of `unroll` rounds of one multiply-add per chain; stores the chains at out. */
function chainModule(chains, unroll) {
  const mb = new ModuleBuilder().importMemory('env', 'memory', { initial: 1 });
  mb.function('run', { n: 'i32', out: 'i32' }, [], (f, { n, out }) => {
    const acc = Array.from({ length: chains }, (_, i) => f.local('v128', `acc${i}`));
    const x = f.let(v128.splatF32(0.999), 'x');
    const y = f.let(v128.splatF32(0.001), 'y');
    f.loop((next) => {
      for (let u = 0; u < unroll; u++) for (const a of acc) f.set(a, f32x4.relaxedMadd(x, y, a));
      f.set(n, i32.sub(n, i32.const(1)));
      f.brIf(next, n);
    });
    acc.forEach((a, i) => f.emit(v128.store(out, a, { offset: 16 * i })));
  });
  return mb.build();
}

const memory = new WebAssembly.Memory({ initial: 1 });
const LATENCY = 4;
console.log(`chained f32x4.relaxed_madd, Node ${process.version}, ${os.cpus()[0]?.model}, load average ${os.loadavg()[0].toFixed(2)}`);
console.log('| chains | G multiply-adds/s | GFLOP/s | clock if the latency is 4 cycles |\n| ---: | ---: | ---: | ---: |');
for (const [chains, unroll] of [
  [1, 16],
  [2, 8],
  [4, 4],
  [8, 2],
  [10, 2],
]) {
  const { run } = new WebAssembly.Instance(new WebAssembly.Module(chainModule(chains, unroll)), { env: { memory } }).exports;
  run(1e5, 0); // reach the optimising tier
  const n = 2e6;
  const times = [];
  for (let r = 0; r < 9; r++) {
    const t0 = performance.now();
    run(n, 0);
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  const perSecond = (n * unroll * chains) / times[4]; // the median
  const clock = chains <= 2 ? `${((perSecond * LATENCY) / chains / 1e9).toFixed(2)} GHz` : '';
  console.log(`| ${chains} | ${(perSecond / 1e9).toFixed(2)} | ${((8 * perSecond) / 1e9).toFixed(1)} | ${clock} |`);
}
