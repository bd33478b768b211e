// `node brain-train.mjs`: chars/s of brain.js 1.6's character LSTM trained the way brain.js trains: one
// sequence at a time (batch 1), its own update rule (RMSprop with per-element gradient clipping and L2,
// `adjustWeights`), no batching. Same sizes as the main bench where brain.js lets us: embedding rows V=96
// (+1 for its start/end token) of width E=64, one LSTM layer H=256, output V=96 (+1), sequences of T=64.
// One step = `trainPattern` on one 64-character sequence (forward, backward, update) = 64 chars.
import { createRequire } from 'node:module';
import { CONFIG, emit, fillTokens, medianSeconds } from './lib.mjs';

const require = createRequire(import.meta.url);
const brain = require('brain.js');
const { version } = require('brain.js/package.json');
const { vocab: V, embed: E, hidden: H, seq: T } = CONFIG;

// Without a data formatter brain.js takes token indices directly: inputRange = vocabulary, inputSize = embedding width.
const net = new brain.recurrent.LSTM({ inputSize: E, inputRange: V, hiddenLayers: [H], outputSize: V });
net.initialize();
const sequence = Array.from(fillTokens(new Int32Array(T), V)); // indices in [0, V), allocated once
let lastError = NaN;
const step = () => {
  lastError = net.trainPattern(sequence, true);
};
step(); // warm-up (brain.js builds its per-time-step equations on first use)
const seconds = medianSeconds('brain.js LSTM train', step, { minSamples: Number(process.env.PEER_SAMPLES ?? 5), maxTime: 1 });
if (!Number.isFinite(lastError)) throw new Error(`brain-train: error is ${lastError}`);
emit({ system: `brain.js ${version} LSTM (batch 1)`, what: 'LSTM H=256 train', chars_per_s: T / seconds, step_ms: seconds * 1e3 });
