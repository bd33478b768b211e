// `node tfjs-matmul.mjs cpu|wasm [N]`: GFLOP/s of tfjs's N³ fp32 matMul (default 512), median of benchmark.js samples.
// tfjs allocates the output tensor on every call (its API has no out= argument); we dispose it inside the call.
import { createRequire } from 'node:module';
import { emit, fillUniform, medianSeconds } from './lib.mjs';

const require = createRequire(import.meta.url);
const [backendName = 'cpu', sizeArg = '512'] = process.argv.slice(2);
const n = Number(sizeArg);
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
if (backendName === 'wasm') require('@tensorflow/tfjs-backend-wasm');
if (!(await tf.setBackend(backendName))) throw new Error(`tfjs-matmul: backend ${backendName} did not initialise`);
await tf.ready();

const a = tf.tensor2d(fillUniform(new Float32Array(n * n), 1), [n, n]); // [n,n]
const b = tf.tensor2d(fillUniform(new Float32Array(n * n), 2), [n, n]); // [n,n]
const multiply = () => {
  const c = tf.matMul(a, b);
  c.dataSync(); // wait for the result (both backends are synchronous, but this makes it explicit)
  c.dispose();
};
multiply();
const seconds = medianSeconds(`tfjs-${backendName} matmul ${n}`, multiply, { minSamples: 7, maxTime: 3 });
emit({ system: `tfjs ${tf.version_core} ${tf.getBackend()}`, what: `matmul ${n}³`, gflops: (2 * n ** 3) / seconds / 1e9 });
