// Shared by the peer measurements: benchmark.js medians (as the main bench does), seeded inputs, the row printer.
import os from 'node:os';
import Benchmark from 'benchmark';

/** The work, identical to the main bench's train suite (bench/suites/train.mjs). */
export const CONFIG = { vocab: 96, embed: 64, hidden: 256, batch: 32, seq: 64 };

/** Median seconds per call of `fn` under benchmark.js (synchronous). */
export function medianSeconds(name, fn, { minSamples = 5, maxTime = 2 } = {}) {
  const bench = new Benchmark(name, fn, { minSamples, maxTime, initCount: 1 });
  bench.run({ async: false });
  if (bench.error) throw bench.error;
  const sample = [...bench.stats.sample].sort((x, y) => x - y);
  const mid = sample.length >> 1;
  return sample.length % 2 ? sample[mid] : (sample[mid - 1] + sample[mid]) / 2;
}

/** Seeded uniform [-1,1) fill and seeded tokens in [0, vocab): the same LCG as bench/lib/measure.mjs. */
export function fillUniform(array, seed = 1) {
  let s = seed >>> 0;
  for (let i = 0; i < array.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    array[i] = s / 2 ** 31 - 1;
  }
  return array;
}
export function fillTokens(array, vocab, seed = 2) {
  let s = seed >>> 0;
  for (let i = 0; i < array.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    array[i] = (s >>> 8) % vocab;
  }
  return array;
}

/** Prints this process's result row as one JSON line (run.mjs reads the last line). */
export function emit(row) {
  process.stdout.write(
    `${JSON.stringify({ ...row, peak_rss_mb: process.resourceUsage().maxRSS / 1024, load: os.loadavg()[0] })}\n`,
  );
}
