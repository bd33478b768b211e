// Timing helpers of the main bench's suites: benchmark.js drives the sampling, we report the median.
import Benchmark from 'benchmark';
import { benchmarkMedianSeconds, benchmarkSampleSeconds } from './sampling.mjs';

export { fillTokens, fillUniform } from './sampling.mjs';

/** Median seconds per call of `fn` under the root package's benchmark.js (see benchmarkMedianSeconds). */
export function medianSeconds(name, fn, options) {
  return benchmarkMedianSeconds(Benchmark, name, fn, options);
}

/** { median, fastest } seconds per call of `fn` (see benchmarkSampleSeconds). */
export function sampleSeconds(name, fn, options) {
  return benchmarkSampleSeconds(Benchmark, name, fn, options);
}
