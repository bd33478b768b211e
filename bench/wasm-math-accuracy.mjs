#!/usr/bin/env node
// Exhaustive accuracy of the wasm kernels' vector σ, tanh and exp (src/wasm/vector-math.ts): every
// float32 input, against the float64 Math functions, in float32 ulps of the correctly rounded result.
// A measurement, not a test (it takes minutes): its maxima are what VECTOR_MATH_ACCURACY states, and
// test/wasm-vector-math.test.ts checks a sweep of 2^22 inputs against them on every run.
//   npm run build && node bench/wasm-math-accuracy.mjs [sigmoid|tanh|expNonPositive]...
const { createWasmBackendSync } = await import('../dist/node/index.js');

const backend = createWasmBackendSync({ fma: false }); // the gate kernels do not use the fused multiply-add
const CHUNK = 1 << 22;
const bits = new Uint32Array(CHUNK);
const x = new Float32Array(bits.buffer);
const y = new Float32Array(CHUNK);

/** Width of one float32 ulp at the correctly rounded value of r (the subnormal spacing below 2^-126). */
function ulp(r) {
  const a = Math.abs(Math.fround(r));
  return a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
}

const sigmoid = (z) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));
// σ and exp return 0 below x = −87.3 (src/wasm/vector-math.ts): there the check is that the result is 0 and the
// true value is below e^−87.3, not an ulp count.
const FLUSH_ARG = Math.fround(-87.3);
const FUNCTIONS = {
  sigmoid: { ref: sigmoid, domain: () => true, flushes: true },
  tanh: { ref: Math.tanh, domain: () => true, flushes: false },
  expNonPositive: { ref: Math.exp, domain: (v) => v <= 0, flushes: true },
};

const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(FUNCTIONS);
for (const name of names) {
  const { ref, domain, flushes } = FUNCTIONS[name];
  let worst = 0,
    worstAt = 0,
    worstSubnormal = 0,
    nanMismatch = 0,
    flushed = 0,
    badFlush = 0;
  const start = Date.now();
  for (let base = 0; base < 2 ** 32; base += CHUNK) {
    for (let i = 0; i < CHUNK; i++) bits[i] = base + i;
    backend.elementwise(name, x, y);
    for (let i = 0; i < CHUNK; i++) {
      const v = x[i];
      if (!domain(v)) continue;
      const r = ref(v);
      if (Number.isNaN(r) !== Number.isNaN(y[i])) nanMismatch++;
      if (Number.isNaN(r)) continue;
      if (flushes && v < FLUSH_ARG) {
        flushed++;
        if (y[i] !== 0 || r >= Math.exp(-87.3)) badFlush++;
        continue;
      }
      const e = Math.abs(y[i] - r);
      if (Math.abs(r) < 2 ** -126) worstSubnormal = Math.max(worstSubnormal, e / 2 ** -149);
      else if (e / ulp(r) > worst) {
        worst = e / ulp(r);
        worstAt = v;
      }
    }
  }
  console.log(
    `${name}: worst ${worst.toFixed(3)} ulps (at x = ${worstAt}), results below 2^-126 within ${worstSubnormal.toFixed(3)} subnormal ulps, ` +
      `NaN mismatches ${nanMismatch}${flushes ? `, ${flushed} inputs below −87.3 flushed to 0 (${badFlush} wrongly)` : ''}; ` +
      `${((Date.now() - start) / 1000).toFixed(0)} s`,
  );
}
backend.close();
