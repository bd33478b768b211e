// Shared by the peer measurements: benchmark.js medians and seeded inputs exactly as the main bench makes them
// (bench/lib/sampling.mjs), the work's sizes, the row printer.
import os from 'node:os';
import Benchmark from 'benchmark';
import { benchmarkMedianSeconds } from '../lib/sampling.mjs';

export { fillTokens, fillUniform } from '../lib/sampling.mjs';

/** The work, identical to the main bench's train suite (bench/suites/train.mjs). */
export const CONFIG = { vocab: 96, embed: 64, hidden: 256, batch: 32, seq: 64 };

/** Median seconds per call of `fn` under this package's own benchmark.js (see benchmarkMedianSeconds). */
export function medianSeconds(name, fn, options) {
  return benchmarkMedianSeconds(Benchmark, name, fn, options);
}

/** Prints this process's result row as one JSON line (run.mjs reads the last line). */
export function emit(row) {
  process.stdout.write(`${JSON.stringify({ ...row, peak_rss_mb: process.resourceUsage().maxRSS / 1024, load: os.loadavg()[0] })}\n`);
}
