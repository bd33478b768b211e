// `node tfjs-train.mjs cpu|wasm`: chars/s of training tfjs's nearest peer of the mLSTM char model on the same
// work: embedding V=96→E=64, one LSTM layer H=256 (tfjs has no mLSTM), dense head to V=96 logits,
// softmax cross-entropy, B=32, T=64, gradients clipped to global norm 1, Adam(1e-3). One step = B·T chars.
// Differences from mlstm's step, all of which favour tfjs slightly: each window starts from a zero state
// (a stateful tfjs LSTM would need a fixed batchInputShape and carries nothing through the gradient anyway),
// and the clip reads the gradient norm back with one dataSync.
// The embedding is a bias-free dense layer on one-hot inputs (the same function and gradient): tfjs's
// embedding layer back-propagates through UnsortedSegmentSum, which the wasm backend 4.22 does not have
// ("Kernel 'UnsortedSegmentSum' not registered for backend 'wasm'"). Both backends run this same model.
import { createRequire } from 'node:module';
import { CONFIG, emit, fillTokens, medianSeconds } from './lib.mjs';

const require = createRequire(import.meta.url);
const backendName = process.argv[2] ?? 'cpu';
const tf = require('@tensorflow/tfjs');
if (backendName === 'wasm') require('@tensorflow/tfjs-backend-wasm');
if (!(await tf.setBackend(backendName))) throw new Error(`tfjs-train: backend ${backendName} did not initialise`);
await tf.ready();
tf.util.seedrandom?.('1');

const { vocab: V, embed: E, hidden: H, batch: B, seq: T } = CONFIG;
const model = tf.sequential({
  layers: [
    tf.layers.dense({ units: E, useBias: false, inputShape: [T, V] }), // embedding: one-hot [B,T,V] → [B,T,E]
    tf.layers.lstm({ units: H, returnSequences: true }),
    tf.layers.dense({ units: V }), // logits [B,T,V]
  ],
});
const tokens = fillTokens(new Int32Array(B * (T + 1)), V); // [B,T+1], batch-major as tfjs layers want
const inputIds = new Int32Array(B * T);
const targetIds = new Int32Array(B * T);
for (let b = 0; b < B; b++) {
  for (let t = 0; t < T; t++) {
    inputIds[b * T + t] = tokens[b * (T + 1) + t];
    targetIds[b * T + t] = tokens[b * (T + 1) + t + 1];
  }
}
const inputs = tf.oneHot(tf.tensor2d(inputIds, [B, T], 'int32'), V).toFloat(); // [B,T,V]
const targets = tf.oneHot(tf.tensor1d(targetIds, 'int32'), V); // [B*T,V]
const optimizer = tf.train.adam(1e-3);
const variables = model.trainableWeights.map((w) => w.read());
let lastLoss = NaN;

const step = () => {
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.apply(inputs, { training: true }).reshape([B * T, V]);
    return tf.losses.softmaxCrossEntropy(targets, logits); // mean over the B·T predictions
  }, variables);
  const names = Object.keys(grads);
  const norm = tf.tidy(() => tf.sqrt(tf.addN(names.map((k) => tf.sum(tf.square(grads[k]))))).dataSync()[0]);
  const scale = Math.min(1, 1 / (norm + 1e-6));
  const clipped = {};
  for (const k of names) clipped[k] = tf.mul(grads[k], scale);
  optimizer.applyGradients(clipped);
  lastLoss = value.dataSync()[0];
  tf.dispose([value, grads, clipped]);
};
// No separate warm-up: benchmark.js calls `step` once untimed before each timed sample.
const seconds = medianSeconds(`tfjs-${backendName} train`, step, { minSamples: Number(process.env.PEER_SAMPLES ?? 2), maxTime: 0.1 });
if (!Number.isFinite(lastLoss)) throw new Error(`tfjs-train: loss is ${lastLoss}`);
const simd =
  backendName === 'wasm'
    ? ` (SIMD ${await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')}, threads ${await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')})`
    : '';
emit({
  system: `tfjs ${tf.version.tfjs} ${tf.getBackend()}${simd}`,
  what: 'LSTM H=256 train',
  chars_per_s: (B * T) / seconds,
  step_ms: seconds * 1e3,
});
