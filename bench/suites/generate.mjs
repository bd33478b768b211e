// generate suite: the model API on one stream, on the JS kernel (the blocked single-thread backend) and on the
// single-thread WebAssembly SIMD backend (createWasmBackendSync of mlstm/node: the step's buffers in its memory,
// its one-row product kernel):
// - generate: characters per second of TextModel.generate's per-character work (Generation.advance: draw
//   with temperature 1, read the character), the median and 99th percentile of one character's latency, and
//   the bytes it allocates per character (young-generation growth over a run without a scavenge);
// - score: characters per second of TextModel.score over a 4,000-character text.
// Both also report the process's CPU time per character over a fixed run (process.cpuUsage: user + system): on a
// shared machine the wall clock counts the time other processes held the core, the CPU time does not.
// mLSTM, 1 layer, V = 84 (the bundled Moby-Dick's vocabulary with U+FFFD), E = 64, at H = 256 and H = 512.
// The weights are random (speed does not depend on them). Each row runs in its own child process
// (`node bench/suites/generate.mjs --row KIND HIDDEN BACKEND`): a fresh isolate, as an app that loads one model.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';
import os from 'node:os';
import { fillTokens, medianSeconds } from '../lib/measure.mjs';

export const GENERATE_CONFIG = { vocab: 84, embed: 64, layers: 1 };
export const GENERATE_ROWS = ['js', 'wasm'].flatMap((backend) => [
  ['generate', 256, backend],
  ['generate', 512, backend],
  ['score', 256, backend],
  ['score', 512, backend],
]);
const CHARS_PER_CALL = 1000; // generated per benchmark.js call
const SCORE_TEXT = 4000;

function modelOf(lib, hidden, backend) {
  const { vocab: V, embed, layers } = GENERATE_CONFIG;
  const symbols = Array.from({ length: V }, (_, i) => String.fromCodePoint(i === V - 1 ? 0xfffd : 32 + i));
  symbols[0] = '\n';
  const vocab = { kind: 'chars', symbols };
  const model = new lib.CharLM({ cell: 'mlstm', weightNorm: false, vocab: V, embed, hidden, layers }, { rng: new lib.Rng(1) });
  return { api: new lib.TextModel(model, vocab, { backend }), symbols };
}

const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_used_size;

/** One row in this process. */
export async function measureRow(kind, hidden, backendKind = 'js') {
  const lib = await import('../../dist/index.js');
  // Each row names its kernels: the model API's own default is selectBackend()'s (wasm where SIMD validates).
  const backend = backendKind === 'wasm' ? (await import('../../dist/node/index.js')).createWasmBackendSync() : lib.blockedBackend;
  const { api, symbols } = modelOf(lib, hidden, backend);
  const row = {
    kind,
    hidden,
    backend: backend.describe(),
    chars_per_s: null,
    cpu_us_per_char: null,
    median_us: null,
    p99_us: null,
    alloc_b_per_char: null,
    load: os.loadavg()[0],
  };
  /** CPU µs per character of `run(n)` characters: the user + system time this process spent, not the wall clock. */
  const cpuPerChar = (run, n) => {
    const before = process.cpuUsage();
    run(n);
    const used = process.cpuUsage(before);
    return (used.user + used.system) / n;
  };
  if (kind === 'generate') {
    const generation = api.generate({ seed: 1, length: Number.MAX_SAFE_INTEGER });
    const run = (n) => {
      for (let i = 0; i < n; i++) generation.advance();
    };
    const seconds = medianSeconds(`generate H=${hidden}`, () => run(CHARS_PER_CALL), { minSamples: 7, maxTime: 2 });
    row.chars_per_s = CHARS_PER_CALL / seconds;
    row.cpu_us_per_char = cpuPerChar(run, 20000);
    // Latency of single characters (as a page sees them), after the timed runs have compiled everything.
    const times = new Float64Array(3000);
    for (let i = 0; i < times.length; i++) {
      const t0 = performance.now();
      generation.advance();
      times[i] = performance.now() - t0;
    }
    times.sort();
    row.median_us = times[times.length >> 1] * 1e3;
    row.p99_us = times[Math.floor(times.length * 0.99)] * 1e3;
    for (let attempt = 0; attempt < 6; attempt++) {
      const before = newSpace();
      run(20000);
      const after = newSpace();
      if (after >= before) {
        row.alloc_b_per_char = (after - before) / 20000;
        break;
      }
    }
  } else {
    const tokens = fillTokens(new Int32Array(SCORE_TEXT), symbols.length, 3);
    const text = Array.from(tokens, (t) => symbols[t]).join('');
    const seconds = medianSeconds(
      `score H=${hidden}`,
      () => {
        api.reset();
        api.score(text);
      },
      { minSamples: 5, maxTime: 2 },
    );
    row.chars_per_s = SCORE_TEXT / seconds;
    row.cpu_us_per_char = cpuPerChar((n) => {
      for (let i = 0; i < n / SCORE_TEXT; i++) {
        api.reset();
        api.score(text);
      }
    }, 5 * SCORE_TEXT);
  }
  return row;
}

/** Runs every row in a fresh child process (synchronously, one after another). */
export function runGenerateSuite({ log = () => {}, rows = GENERATE_ROWS } = {}) {
  const self = fileURLToPath(import.meta.url);
  return rows.map(([kind, hidden, backend]) => {
    const child = spawnSync(process.execPath, [self, '--row', kind, String(hidden), backend], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (child.status !== 0)
      throw new Error(`bench generate ${kind} H=${hidden} ${backend}: child exited with ${child.status ?? child.signal}`);
    const row = JSON.parse(child.stdout.trim().split('\n').pop());
    log(row);
    return row;
  });
}

export const GENERATE_COLUMNS = [
  { key: 'kind', title: 'what' },
  { key: 'hidden', title: 'H' },
  { key: 'backend', title: 'backend' },
  { key: 'chars_per_s', title: 'chars/s', digits: 0 },
  { key: 'cpu_us_per_char', title: 'CPU µs/char', digits: 1 },
  { key: 'median_us', title: 'median µs/char', digits: 1 },
  { key: 'p99_us', title: 'p99 µs/char', digits: 1 },
  { key: 'alloc_b_per_char', title: 'alloc B/char', digits: 2 },
  { key: 'load', title: 'load avg', digits: 2 },
];

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--row') {
  const [kind, hidden, backend] = process.argv.slice(3);
  const row = await measureRow(kind, Number(hidden), backend);
  process.stdout.write(`${JSON.stringify(row)}\n`);
}
