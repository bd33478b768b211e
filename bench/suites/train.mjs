// train suite: characters per second of whole training steps (forward + backward + clip + Adam) of the
// char model, V=96, E=64, B=32, T=64, for mlstm and lstm at H=256 and H=512, per kernel (js: the blocked
// JavaScript kernel; wasm: the WebAssembly SIMD kernels with fused multiply-add where the machine has it;
// wasm-muladd: the mul+add module) × threads (1, 2: the worker-thread backends of mlstm/node). The wasm
// rows speed up the GEMM (and, where the nn ops call them through the Backend, the gate kernels).
//
// Each row runs in its own child process (`node bench/suites/train.mjs --row CELL HIDDEN THREADS [BACKEND]`), so the
// peak RSS it reports (process.resourceUsage().maxRSS at the end of the child) is that row's alone: the
// model, its workspaces, the optimiser state and the worker threads — not the previous rows' garbage.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { fillTokens, sampleSeconds } from '../lib/measure.mjs';

export const TRAIN_CONFIG = { vocab: 96, embed: 64, batch: 32, seq: 64 };
/** [cell, H, threads, backend]: backend 'js', 'wasm' (FMA where the machine has it) or 'wasm-muladd'. */
export const TRAIN_ROWS = [
  ['mlstm', 256, 1, 'js'],
  ['mlstm', 256, 2, 'js'],
  ['mlstm', 256, 1, 'wasm'],
  ['mlstm', 256, 2, 'wasm'],
  ['mlstm', 256, 1, 'wasm-muladd'],
  ['mlstm', 256, 2, 'wasm-muladd'],
  ['lstm', 256, 1, 'js'],
  ['lstm', 256, 2, 'js'],
  ['lstm', 256, 1, 'wasm'],
  ['lstm', 256, 2, 'wasm'],
  ['mlstm', 512, 1, 'js'],
  ['mlstm', 512, 2, 'js'],
  ['mlstm', 512, 1, 'wasm'],
  ['mlstm', 512, 2, 'wasm'],
  ['lstm', 512, 1, 'js'],
  ['lstm', 512, 2, 'js'],
];

/** The backend of a row: the default (blocked) one for js on one thread, else mlstm/node's createParallelBackend. */
function backendFor(lib, node, threads, name) {
  if (name === 'js') return threads > 1 ? node.createParallelBackend({ threads }) : null;
  if (name === 'wasm' || name === 'wasm-muladd') {
    return node.createParallelBackend({ threads, kernel: 'wasm', fma: name === 'wasm' ? 'auto' : false });
  }
  throw new Error(`bench train: unknown backend ${name} (js, wasm or wasm-muladd)`);
}

/**
 * Builds the model, optimiser and one window of tokens, and returns `step()`: one training step exactly as
 * the Trainer does it (zero grads, forward from the carried state, backward, clip to norm 1, Adam, carry
 * the detached state). Inputs are allocated here, never inside the timed function.
 */
export function makeTrainStep(lib, backend, { cell, hidden, seed = 1 }) {
  const { vocab, embed, batch: B, seq: T } = TRAIN_CONFIG;
  const model = new lib.CharLM({ cell, weightNorm: false, vocab, embed, hidden, layers: 1 }, { rng: new lib.Rng(seed) });
  const params = model.parameters();
  const opt = new lib.Adam(model.namedParameters(), { lr: 1e-3 });
  const tokens = fillTokens(new Int32Array((T + 1) * B), vocab, seed + 1); // [T+1,B], time-major
  const inputs = tokens.subarray(0, T * B); // [T,B]
  const targets = tokens.subarray(B); // [T,B], shifted by one step
  const tape = new lib.Tape({ backend });
  let state = model.zeroState(B);
  let loss = NaN;
  const step = () => {
    opt.zeroGrad();
    const r = model.loss(tape, inputs, targets, T, B, state);
    tape.backward(r.loss);
    lib.clipGradNorm(params, 1);
    opt.step();
    state = model.detachState(r.state);
    loss = r.loss.value.data[0];
  };
  return { step, charsPerStep: B * T, lastLoss: () => loss, model, opt, tape, inputs, targets };
}

/**
 * benchmark.js samples per row: a step takes 1–4 s at H=256 and 4–12 s at H=512 on a 2-core machine, and each
 * sample costs two calls (see measureRow), so H=512 rows take the median of 2 to keep `npm run bench` < 5 min.
 */
function samplesFor(hidden) {
  return hidden <= 256 ? 3 : 2;
}

/** One row in this process: returns { cell, hidden, threads, backend, chars_per_s (median), best_chars_per_s (fastest sample), step_ms, peak_rss_mb, load }. */
export async function measureRow(cell, hidden, threads, backendName = 'js', { minSamples = samplesFor(hidden), maxTime = 0.5 } = {}) {
  const lib = await import('../../dist/index.js');
  const node = await import('../../dist/node/index.js');
  const made = backendFor(lib, node, threads, backendName);
  try {
    await made?.ready();
    const backend = made ?? lib.defaultBackend;
    const { step, charsPerStep, lastLoss } = makeTrainStep(lib, backend, { cell, hidden });
    // No separate warm-up: benchmark.js calls the function once untimed before each timed sample, so the
    // first (JIT, first-use grad buffers, optimiser moments) is never in a sample.
    const { median: seconds, fastest } = sampleSeconds(`train ${cell} H=${hidden} ×${threads}`, step, { minSamples, maxTime });
    if (!Number.isFinite(lastLoss())) throw new Error(`bench train ${cell} H=${hidden}: loss is ${lastLoss()}`);
    return {
      cell,
      hidden,
      threads,
      backend: backend.describe?.() ?? backend.name,
      chars_per_s: charsPerStep / seconds,
      best_chars_per_s: charsPerStep / fastest,
      step_ms: seconds * 1e3,
      peak_rss_mb: process.resourceUsage().maxRSS / 1024, // maxRSS is in kilobytes
      load: os.loadavg()[0],
    };
  } finally {
    made?.close();
  }
}

/** Runs every row in a fresh child process (synchronously, one after another). */
export function runTrainSuite({ log = () => {}, rows = TRAIN_ROWS } = {}) {
  const self = fileURLToPath(import.meta.url);
  const out = [];
  for (const [cell, hidden, threads, backend = 'js'] of rows) {
    const child = spawnSync(process.execPath, [self, '--row', cell, String(hidden), String(threads), backend], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (child.status !== 0)
      throw new Error(`bench train ${cell} H=${hidden} ×${threads} ${backend}: child exited with ${child.status ?? child.signal}`);
    const row = JSON.parse(child.stdout.trim().split('\n').pop());
    out.push(row);
    log(row);
  }
  return out;
}

export const TRAIN_COLUMNS = [
  { key: 'cell', title: 'cell' },
  { key: 'hidden', title: 'H' },
  { key: 'threads', title: 'threads' },
  { key: 'backend', title: 'backend' },
  { key: 'chars_per_s', title: 'chars/s', digits: 0 },
  { key: 'best_chars_per_s', title: 'best chars/s', digits: 0 },
  { key: 'step_ms', title: 'ms/step', digits: 0 },
  { key: 'peak_rss_mb', title: 'peak RSS MB', digits: 1 },
  { key: 'load', title: 'load avg', digits: 2 },
];

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--row') {
  const [cell, hidden, threads, backend = 'js'] = process.argv.slice(3);
  const row = await measureRow(cell, Number(hidden), Number(threads), backend);
  process.stdout.write(`${JSON.stringify(row)}\n`);
}
