// The measuring that bench/ and bench/peers/ share. No package imports here: bench/peers is a package of its
// own (`npm --prefix bench/peers ci`), so a clean clone may have its node_modules and not the root's; each side
// passes in the benchmark.js it installed.

/**
 * Runs `fn` under benchmark.js (`Benchmark`, the constructor; synchronously) and returns the median seconds per
 * call. `fn` must do one complete operation on preallocated buffers (no allocation inside).
 * minSamples/maxTime bound the cost: benchmark.js keeps sampling until it has minSamples samples AND maxTime
 * seconds have elapsed, so slow operations stop at minSamples.
 */
export function benchmarkMedianSeconds(Benchmark, name, fn, options) {
  return benchmarkSampleSeconds(Benchmark, name, fn, options).median;
}

/**
 * benchmarkMedianSeconds, also returning the fastest sample: on a shared machine the median says what
 * a user gets under that load, the fastest sample approaches what the code does with a core to itself.
 */
export function benchmarkSampleSeconds(Benchmark, name, fn, { minSamples = 5, maxTime = 2 } = {}) {
  const bench = new Benchmark(name, fn, { minSamples, maxTime, initCount: 1 });
  bench.run({ async: false });
  if (bench.error) throw bench.error;
  const sample = [...bench.stats.sample].sort((x, y) => x - y); // seconds per call, one entry per cycle
  const mid = sample.length >> 1;
  return { median: sample.length % 2 ? sample[mid] : (sample[mid - 1] + sample[mid]) / 2, fastest: sample[0] };
}

/** The next state of the small LCG behind the seeded fills (the bench must not depend on Math.random). */
function nextLcg(s) {
  return (Math.imul(s, 1664525) + 1013904223) >>> 0;
}

/** Seeded uniform [-1,1) fill. */
export function fillUniform(array, seed = 1) {
  let s = seed >>> 0;
  for (let i = 0; i < array.length; i++) {
    s = nextLcg(s);
    array[i] = s / 2 ** 31 - 1;
  }
  return array;
}

/** Seeded tokens in [0, vocab). */
export function fillTokens(array, vocab, seed = 2) {
  let s = seed >>> 0;
  for (let i = 0; i < array.length; i++) {
    s = nextLcg(s);
    array[i] = (s >>> 8) % vocab;
  }
  return array;
}
