#!/usr/bin/env node
// Where the time of one training step goes: `npm run build && node bench/profile-step.mjs [--cell mlstm]
// [--hidden 256] [--threads 1] [--backend js|wasm] [--steps 3]`, config V=96, E=64, B=32, T=64 (the bench's
// train suite). --backend wasm: the WebAssembly SIMD backend, on --threads threads (the bench's `wasm ×N` rows).
//
// Two views of the same step, each over `--steps` steps after one warm-up step:
// 1. Phases, by timers: the step's stages (forward, backward, clip, Adam, …) and, inside them, every GEMM
//    timed through a wrapping Backend and classified by its shape and the stage it runs in (input
//    projections, per-step recurrent products, head, weight gradients for the whole window, …), and every
//    tape op: its forward is the time since the previous op was recorded (ops record right after computing
//    their output), its backward the time of its backward closure. Timers cost ~1 µs per GEMM call
//    (2·T calls per window forward and again backward), under 1% of a step.
// 2. Functions, by V8's sampling profiler (node:inspector) over separate, untimed steps: self time per
//    JavaScript function (the kernels are functions: the GEMM micro-kernel, packing, the gate loops).
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { makeTrainStep } from './suites/train.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};
const cell = option('cell', 'mlstm');
const hidden = Number(option('hidden', '256'));
const threads = Number(option('threads', '1'));
const steps = Number(option('steps', '3'));
const backendName = option('backend', 'js');

const lib = await import('../dist/index.js');
const { createParallelBackend, createWasmBackendSync } = await import('../dist/node/index.js');
const inner =
  backendName === 'wasm' && threads > 1
    ? createParallelBackend({ threads, kernel: 'wasm' })
    : backendName === 'wasm'
      ? createWasmBackendSync()
      : threads > 1
        ? createParallelBackend({ threads })
        : lib.defaultBackend;
await inner.ready?.();

// ---- 1. timers ----------------------------------------------------------------------------------------
let stage = 'setup';
const gemmTime = new Map(); // category → ms
const gemmCalls = new Map();
const add = (map, key, value) => map.set(key, (map.get(key) ?? 0) + value);
const V = 96;
const TB = 32 * 64; // B·T rows of the whole-window products
function gemmCategory(a) {
  if (stage === 'forward') {
    if (a.m === TB && a.n === V) return 'forward: head logits [T·B,H]·[V,H]ᵀ';
    if (a.m === TB) return 'forward: input projections [T·B,E]·Wᵀ (whole window)';
    return 'forward: recurrent products [B,H]·Wᵀ (per step)';
  }
  if (stage === 'backward') {
    if (a.transA && a.k === TB) return 'backward: weight gradients dZᵀ·X (whole window)';
    if (a.m === TB && a.k === V) return 'backward: head input gradient dlogits·W';
    if (a.m === TB) return 'backward: input gradients dZ·W (whole window)';
    return 'backward: recurrent sweep dZ_t·W (per step)';
  }
  return `${stage}: other`;
}
function timedWindow(key, run) {
  const t0 = performance.now();
  const took = run();
  if (took) {
    add(gemmTime, key, performance.now() - t0);
    add(gemmCalls, key, 1);
  }
  return took;
}
const timedBackend = {
  name: `timed ${inner.name}`,
  gemm(a) {
    const t0 = performance.now();
    inner.gemm(a);
    const dt = performance.now() - t0;
    const key = gemmCategory(a);
    add(gemmTime, key, dt);
    add(gemmCalls, key, 1);
  },
  ...(inner.prepareB ? { prepareB: (a) => inner.prepareB(a) } : {}),
  ...(inner.releaseB ? { releaseB: (p) => inner.releaseB(p) } : {}),
  // The tape's workspace takes its buffers from here: in the wasm memory, as in the bench, the kernels use them in place.
  ...(inner.allocate ? { allocate: (n) => inner.allocate(n), free: (x) => inner.free(x) } : {}),
  recurrent: inner.recurrent, // the gate kernels: the inner backend's (the wasm ones with --backend wasm)
  // Whole time loops in one call (the wasm backends), timed as a row of their own: their products do not pass through gemm.
  ...(inner.recurrentWindows
    ? {
        recurrentWindows: {
          mlstmForward: (w) =>
            timedWindow('forward: time loop in one call (per-step products and gates)', () => inner.recurrentWindows.mlstmForward(w)),
          mlstmBackward: (w) =>
            timedWindow('backward: time loop in one call (per-step products and gates)', () => inner.recurrentWindows.mlstmBackward(w)),
        },
      }
    : {}),
  describe: () => inner.describe(),
  close: () => {},
};

const run = makeTrainStep(lib, timedBackend, { cell, hidden });
const { model, opt, tape } = run;
const stageTime = new Map();
const opForward = new Map();
const opBackward = new Map();
let lastMark = 0;
const record = tape.record.bind(tape);
tape.record = (op, inputs, outputs, backward, release) => {
  const now = performance.now();
  add(opForward, op, now - lastMark);
  lastMark = now;
  return record(
    op,
    inputs,
    outputs,
    () => {
      const t0 = performance.now();
      backward();
      add(opBackward, op, performance.now() - t0);
    },
    release,
  );
};
const params = model.parameters();
const B = 32;
const T = 64;
let state = model.zeroState(B);
const timed = (name, fn) => {
  stage = name;
  const t0 = performance.now();
  const out = fn();
  add(stageTime, name, performance.now() - t0);
  return out;
};
run.step(); // warm-up (JIT, first-use gradient buffers, optimiser moments)
// The same step as makeTrainStep's, split into stages, on the same preallocated window.
const { inputs, targets } = run;
for (const m of [gemmTime, gemmCalls, stageTime, opForward, opBackward]) m.clear();
const wall0 = performance.now();
for (let s = 0; s < steps; s++) {
  timed('zeroGrad', () => opt.zeroGrad());
  lastMark = performance.now();
  const r = timed('forward', () => model.loss(tape, inputs, targets, T, B, state));
  timed('backward', () => tape.backward(r.loss));
  timed('clip', () => lib.clipGradNorm(params, 1));
  timed('Adam', () => opt.step());
  state = timed('detach state', () => model.detachState(r.state));
}
const wall = (performance.now() - wall0) / steps;
const per = (ms) => ms / steps;
const pct = (ms) => `${((100 * per(ms)) / wall).toFixed(1).padStart(5)}%`;
const msCol = (ms) => per(ms).toFixed(1).padStart(8);
const print = (title, map, extra = () => '') => {
  console.log(`\n${title}`);
  for (const [k, v] of [...map].sort((x, y) => y[1] - x[1])) console.log(`  ${pct(v)} ${msCol(v)} ms  ${k}${extra(k)}`);
};
console.log(
  `profile of one ${cell} H=${hidden} training step, V=96 E=64 B=${B} T=${T}, ${threads} thread(s), ` +
    `${steps} steps after a warm-up; load average ${os.loadavg()[0].toFixed(2)}`,
);
console.log(`wall ${wall.toFixed(0)} ms/step = ${((B * T) / (wall / 1e3)).toFixed(0)} chars/s (with timers)`);
print('stages (share of the step, ms per step)', stageTime);
print('GEMM by role (calls per step)', gemmTime, (k) => `  ×${gemmCalls.get(k) / steps}`);
const gemmTotal = [...gemmTime.values()].reduce((x, y) => x + y, 0);
console.log(`  ${pct(gemmTotal)} ${msCol(gemmTotal)} ms  all GEMM`);
print('tape ops, forward (time since the previous op was recorded)', opForward);
print('tape ops, backward closures', opBackward);

// ---- 2. V8 sampling profile ---------------------------------------------------------------------------
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 200 }); // µs
await session.post('Profiler.start');
for (let s = 0; s < steps; s++) run.step();
const { profile } = await session.post('Profiler.stop');
session.disconnect();
const selfUs = new Map();
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const dts = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const n = byId.get(profile.samples[i]);
  const { functionName, url, lineNumber } = n.callFrame;
  const file = url ? url.replace(/^.*\/(dist|bench|node_modules)\//, '$1/') : '';
  const key = `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
  add(selfUs, key, dts[i] ?? 0);
}
const totalUs = [...selfUs.values()].reduce((x, y) => x + y, 0);
console.log(
  `\nfunctions by self time (V8 sampling profiler, ${steps} untimed steps, ${(totalUs / 1e3 / steps).toFixed(0)} ms/step sampled)`,
);
for (const [k, v] of [...selfUs].sort((x, y) => y[1] - x[1]).slice(0, 18)) {
  console.log(`  ${((100 * v) / totalUs).toFixed(1).padStart(5)}% ${(v / 1e3 / steps).toFixed(1).padStart(8)} ms  ${k}`);
}
inner.close?.();
