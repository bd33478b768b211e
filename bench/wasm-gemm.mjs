#!/usr/bin/env node
// The wasm GEMM's target rows (issue 12) measured repeatedly, for a shared, noisy machine: R rounds, each
// measuring every backend on every shape in turn (interleaved, so a slow spell hits all of them), each
// measurement a benchmark.js median (and its fastest sample). Prints one table per round with its load
// average, then per row the best round's median, the median of the rounds, and the fastest sample seen.
//   npm run build && node bench/wasm-gemm.mjs [--rounds R] [--json FILE]
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fillUniform, sampleSeconds } from './lib/measure.mjs';

const lib = await import('../dist/index.js');
const { createWasmBackendSync, enableRelaxedSimd } = await import('../dist/node/index.js');
const { detectWasmFeatures } = await import('../dist/wasm/index.js');

const argv = process.argv.slice(2);
const option = (flag, fallback) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : fallback);
const rounds = Number(option('--rounds', '5'));
const jsonPath = option('--json', null);

enableRelaxedSimd();
const features = detectWasmFeatures();
const backends = [{ name: 'js (blocked)', backend: lib.blockedBackend }];
if (features.fusedMultiplyAdd) backends.push({ name: 'wasm-simd fma', backend: createWasmBackendSync({ fma: true }) });
backends.push({ name: 'wasm-simd (mul+add)', backend: createWasmBackendSync({ fma: false }) });

/** [m, k, n, B prepared] with the targets (fma, mul+add) where it sets them. */
const SHAPES = [
  { m: 512, k: 512, n: 512, prepared: false, target: { fma: 50, mulAdd: 38 } },
  { m: 32, k: 256, n: 1024, prepared: true, target: { fma: 45 } },
  { m: 32, k: 256, n: 1024, prepared: false },
  { m: 32, k: 512, n: 2048, prepared: true },
  { m: 1024, k: 1024, n: 1024, prepared: false },
];

const cases = SHAPES.map((s) => {
  const a = fillUniform(new Float32Array(s.m * s.k), 1);
  const b = fillUniform(new Float32Array(s.k * s.n), 2);
  const c = new Float32Array(s.m * s.n);
  return { ...s, args: { m: s.m, n: s.n, k: s.k, a, b, c } };
});

const results = []; // { backend, shape, round, gflops, load }
console.log(`wasm GEMM rows: Node ${process.version}, ${os.cpus()[0]?.model}, ${os.cpus().length} CPUs; ${rounds} rounds`);
for (let round = 1; round <= rounds; round++) {
  const load = os.loadavg()[0];
  const lines = [];
  for (const cs of cases) {
    for (const { name, backend } of backends) {
      if (cs.prepared && !backend.prepareB) continue;
      const packedB = cs.prepared ? backend.prepareB(cs.args) : undefined;
      const call = packedB ? { ...cs.args, packedB } : cs.args;
      const { median, fastest } = sampleSeconds(name, () => backend.gemm(call), { minSamples: 9, maxTime: 1.5 });
      if (packedB) backend.releaseB?.(packedB);
      const flop = 2 * cs.m * cs.n * cs.k;
      const gflops = flop / median / 1e9;
      const fastestGflops = flop / fastest / 1e9;
      const shape = `${cs.m}x${cs.k}x${cs.n}${cs.prepared ? ' B prepared' : ''}`;
      results.push({ backend: name, shape, round, gflops, fastestGflops, load });
      lines.push(
        `  ${shape.padEnd(24)} ${name.padEnd(20)} ${gflops.toFixed(1).padStart(6)} GFLOP/s median, ${fastestGflops.toFixed(1).padStart(6)} fastest sample`,
      );
    }
  }
  console.log(`round ${round} (load average ${load.toFixed(2)} at its start)\n${lines.join('\n')}`);
}

console.log(
  '\n| shape | backend | median GFLOP/s, best round | median of rounds | fastest sample | target |\n| --- | --- | ---: | ---: | ---: | ---: |',
);
for (const cs of cases) {
  const shape = `${cs.m}x${cs.k}x${cs.n}${cs.prepared ? ' B prepared' : ''}`;
  for (const { name } of backends) {
    const mine = results.filter((r) => r.shape === shape && r.backend === name);
    if (mine.length === 0) continue;
    const xs = mine.map((r) => r.gflops).sort((p, q) => p - q);
    const fastest = Math.max(...mine.map((r) => r.fastestGflops));
    const target = name.includes('fma') ? cs.target?.fma : name.includes('mul+add') ? cs.target?.mulAdd : undefined;
    console.log(
      `| ${shape} | ${name} | ${xs[xs.length - 1].toFixed(1)} | ${xs[xs.length >> 1].toFixed(1)} | ${fastest.toFixed(1)} | ${target ?? ''} |`,
    );
  }
}
if (jsonPath) writeFileSync(jsonPath, `${JSON.stringify({ node: process.version, features, results }, null, 2)}\n`);
for (const { backend } of backends) backend.close?.();
