// Timing helpers shared by the suites: benchmark.js drives the sampling, we report the median.
import Benchmark from 'benchmark';

/**
 * Runs `fn` under benchmark.js (synchronously) and returns the median seconds per call.
 * `fn` must do one complete operation on preallocated buffers (no allocation inside).
 * minSamples/maxTime bound the cost: benchmark.js keeps sampling until it has minSamples samples
 * AND maxTime seconds have elapsed, so slow operations stop at minSamples.
 */
export function medianSeconds(name, fn, { minSamples = 5, maxTime = 2 } = {}) {
  const bench = new Benchmark(name, fn, { minSamples, maxTime, initCount: 1 });
  bench.run({ async: false });
  if (bench.error) throw bench.error;
  const sample = [...bench.stats.sample].sort((x, y) => x - y); // seconds per call, one entry per cycle
  const mid = sample.length >> 1;
  return sample.length % 2 ? sample[mid] : (sample[mid - 1] + sample[mid]) / 2;
}

/** Seeded uniform [-1,1) fill (a small LCG: the bench must not depend on Math.random). */
export function fillUniform(array, seed = 1) {
  let s = seed >>> 0;
  for (let i = 0; i < array.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    array[i] = s / 2 ** 31 - 1;
  }
  return array;
}
