#!/usr/bin/env node
// Benchmarks of the built package: `node bench/run.mjs [--suite NAME]... [--json FILE]`.
// Build first (npm run build): this imports ../dist, never the TypeScript sources.
// Each suite is a module in bench/suites exporting a run function; register it in SUITES below.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { formatTable } from './lib/table.mjs';
import { MATMUL_COLUMNS, runMatmulSuite } from './suites/matmul.mjs';
import { TRAIN_COLUMNS, runTrainSuite } from './suites/train.mjs';
import { GENERATE_COLUMNS, runGenerateSuite } from './suites/generate.mjs';

const lib = await import('../dist/index.js');
// The worker-thread GEMM lives in the Node layer (until mlstm/node re-exports it, import its module).
const { createParallelBackend } = await import('../dist/node/gemm-workers.js');
// The WebAssembly SIMD backend: mlstm/node's factory enables relaxed SIMD on Node 20 before detecting.
const { enableRelaxedSimd } = await import('../dist/node/index.js');
const { detectWasmFeatures } = await import('../dist/wasm/index.js');

/**
 * The wasm backends this machine runs, on 1 and 2 threads: the fused multiply-add module where it
 * exists, and the mul+add one (mlstm/node's createParallelBackend with kernel 'wasm').
 */
async function wasmBackends() {
  enableRelaxedSimd();
  const features = detectWasmFeatures();
  if (!features.simd) return [];
  const made = [];
  for (const fma of features.fusedMultiplyAdd ? [true, false] : [false]) {
    for (const threads of [1, 2]) made.push(createParallelBackend({ threads, kernel: 'wasm', fma }));
  }
  for (const backend of made) await backend.ready();
  return made;
}

/** name → { run(lib) → rows, columns for the table, decorate(row) for derived table cells }. */
const SUITES = {
  matmul: {
    run: async (library) => {
      const parallel = createParallelBackend({ threads: 2 });
      await parallel.ready();
      const wasm = await wasmBackends();
      try {
        return runMatmulSuite(library, {
          backends: [
            { name: parallel.describe(), threads: parallel.threads, backend: parallel },
            ...wasm.map((backend) => ({ name: backend.describe(), threads: backend.threads, backend })),
          ],
          log: (r) =>
            process.stderr.write(
              `  ${r.backend}${r.backend.includes('×') ? '' : ` ×${r.threads}`} ${r.m}x${r.k}x${r.n}${r.prepared_b ? ' (B prepared)' : ''}: ${r.gflops.toFixed(2)} GFLOP/s\n`,
            ),
        });
      } finally {
        parallel.close();
        for (const backend of wasm) backend.close();
      }
    },
    columns: MATMUL_COLUMNS,
    decorate: (r) => ({ ...r, speedup: r.naive_gflops ? r.gflops / r.naive_gflops : null }),
  },
  // Each training row runs in a child process of its own (clean peak RSS); see suites/train.mjs.
  train: {
    run: () =>
      runTrainSuite({
        log: (r) =>
          process.stderr.write(
            `  ${r.cell} H=${r.hidden} ×${r.threads} ${r.backend}: ${r.chars_per_s.toFixed(0)} chars/s, ${r.peak_rss_mb.toFixed(1)} MB (load ${r.load.toFixed(2)})\n`,
          ),
      }),
    columns: TRAIN_COLUMNS,
  },
  // The model API on one stream (generation and scoring), each row in a child process; see suites/generate.mjs.
  generate: {
    run: () =>
      runGenerateSuite({
        log: (r) =>
          process.stderr.write(`  ${r.kind} H=${r.hidden} ${r.backend}: ${r.chars_per_s.toFixed(0)} chars/s (load ${r.load.toFixed(2)})\n`),
      }),
    columns: GENERATE_COLUMNS,
  },
};

function parseArgs(argv) {
  const options = { json: null, suites: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') options.json = argv[++i];
    else if (arg === '--suite') options.suites.push(argv[++i]);
    else throw new Error(`bench/run.mjs: unknown argument ${JSON.stringify(arg)} (expected --suite NAME or --json FILE)`);
    if (options.json === undefined || options.suites.includes(undefined)) throw new Error(`bench/run.mjs: ${arg} needs a value`);
  }
  for (const name of options.suites) {
    if (!(name in SUITES))
      throw new Error(`bench/run.mjs: unknown suite ${JSON.stringify(name)} (have: ${Object.keys(SUITES).join(', ')})`);
  }
  if (options.suites.length === 0) options.suites = Object.keys(SUITES);
  return options;
}

const options = parseArgs(process.argv.slice(2));
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const load = os.loadavg()[0].toFixed(2);
// Wall-clock medians: other processes on the machine slow them down; the load average says how busy it was.
console.log(
  `mlstm bench — Node ${process.version}, ${cpu}, ${os.cpus().length} logical CPUs, load average ${load}; medians of benchmark.js samples`,
);
const results = {};
for (const name of options.suites) {
  const suite = SUITES[name];
  process.stderr.write(`[${name}]\n`);
  const rows = await suite.run(lib);
  results[name] = rows;
  console.log(`\n${name}\n${formatTable(suite.columns, rows.map(suite.decorate ?? ((r) => r)))}`);
}
if (options.json) {
  writeFileSync(options.json, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${options.json}`);
}
