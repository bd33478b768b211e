#!/usr/bin/env node
// What copying operands into the wasm memory costs at the per-step shapes of an H = 256, B = 32 mLSTM
// (issue 12, item 5): each kernel timed on ordinary Float32Arrays (copied in and out at every call) and on
// arrays allocated in the backend's memory (used in place), beside the JS kernel. Per call: µs, medians of
// benchmark.js samples, R interleaved rounds (the machine is shared), best and median of the rounds.
//   npm run build && node bench/wasm-operands.mjs [--rounds R] [--hidden H] [--batch B]
import os from 'node:os';
import { fillUniform, medianSeconds } from './lib/measure.mjs';

const lib = await import('../dist/index.js');
const { createWasmBackendSync } = await import('../dist/node/index.js');
const kernels = {
  gates: await import('../dist/tensor/kernels/recurrent-lstm-gates.js'),
  mult: await import('../dist/tensor/kernels/recurrent-multiplicative.js'),
};

const argv = process.argv.slice(2);
const option = (flag, fallback) => Number(argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : fallback);
const rounds = option('--rounds', 3);
const H = option('--hidden', 256);
const B = option('--batch', 32);
const BH = B * H;
const wasm = createWasmBackendSync(); // fma where available

/** Buffers for one step, as ordinary arrays or in the wasm memory. */
function buffers(inMemory) {
  const make = (n, seed) => {
    const x = inMemory ? wasm.allocate(n) : new Float32Array(n);
    return fillUniform(x, seed);
  };
  return {
    h: make(BH, 1), // [B,H] h_{t−1}
    wmh: make(H * H, 2), // [H,H]
    whm: make(4 * H * H, 3), // [4H,H]
    hm: make(BH, 4),
    xm: make(BH, 5),
    m: make(BH, 6),
    z: make(4 * BH, 7), // [B,4H] the z_t product accumulates into (its values grow call after call)
    zGate: make(4 * BH, 15), // [B,4H] the gates' input, unchanged from call to call (as a fresh z_t in the loop)
    cPrev: make(BH, 8),
    c: make(BH, 9),
    hOut: make(BH, 10),
    saved: make(5 * BH, 11),
    dh: make(BH, 12),
    dc: make(BH, 13),
    dcPrev: make(BH, 16), // not in place: a dc carried through thousands of timed calls would decay into subnormals
    dz: make(4 * BH, 14),
  };
}

function stepOps(bf) {
  const hmArgs = { m: B, n: H, k: H, a: bf.h, b: bf.wmh, transB: true, c: bf.hm };
  const zArgs = { m: B, n: 4 * H, k: H, a: bf.m, b: bf.whm, transB: true, c: bf.z, accumulate: true };
  return { hmArgs, zArgs };
}

const ordinary = buffers(false);
const inMemory = buffers(true);
const rows = new Map(); // label → [µs per round]
const record = (label, seconds) => {
  if (!rows.has(label)) rows.set(label, []);
  rows.get(label).push(seconds * 1e6);
};
const time = (fn) => medianSeconds('op', fn, { minSamples: 9, maxTime: 0.5 });

console.log(`per-step operands, H = ${H}, B = ${B}: Node ${process.version}, ${rounds} rounds`);
for (let round = 1; round <= rounds; round++) {
  console.log(`round ${round}: load average ${os.loadavg()[0].toFixed(2)}`);
  for (const [where, bf] of [
    ['ordinary arrays', ordinary],
    ['in wasm memory', inMemory],
  ]) {
    const { hmArgs, zArgs } = stepOps(bf);
    const hmPrepared = { ...hmArgs, packedB: wasm.prepareB(hmArgs) };
    const zPrepared = { ...zArgs, packedB: wasm.prepareB(zArgs) };
    record(
      `wasm gemm hm_t = h·wmhᵀ [${B},${H}]·[${H},${H}], B prepared, ${where}`,
      time(() => wasm.gemm(hmPrepared)),
    );
    record(
      `wasm gemm z_t += m·whmᵀ [${B},${H}]·[${H},${4 * H}], B prepared, ${where}`,
      time(() => wasm.gemm(zPrepared)),
    );
    wasm.releaseB(hmPrepared.packedB);
    wasm.releaseB(zPrepared.packedB);
    record(
      `wasm multiplicativeForward, ${where}`,
      time(() => wasm.multiplicativeForward(BH, bf.xm, 0, bf.hm, 0, bf.m, 0)),
    );
    record(
      `wasm lstmGatesForward, ${where}`,
      time(() => wasm.lstmGatesForward(B, H, bf.zGate, 0, bf.cPrev, 0, bf.c, 0, bf.hOut, 0, bf.saved, 0)),
    );
    record(
      `wasm lstmGatesBackward, ${where}`,
      time(() => wasm.lstmGatesBackward(B, H, bf.saved, 0, bf.cPrev, 0, bf.dh, 0, bf.dc, 0, bf.dz, 0, bf.dcPrev, 0)),
    );
  }
  const bf = ordinary;
  const { hmArgs, zArgs } = stepOps(bf);
  const hmPrepared = { ...hmArgs, packedB: lib.blockedBackend.prepareB(hmArgs) };
  const zPrepared = { ...zArgs, packedB: lib.blockedBackend.prepareB(zArgs) };
  record(
    `js gemm hm_t, B prepared`,
    time(() => lib.blockedBackend.gemm(hmPrepared)),
  );
  record(
    `js gemm z_t, B prepared`,
    time(() => lib.blockedBackend.gemm(zPrepared)),
  );
  record(
    `js multiplicativeForward`,
    time(() => kernels.mult.multiplicativeForward(BH, bf.xm, 0, bf.hm, 0, bf.m, 0)),
  );
  record(
    `js lstmGatesForward`,
    time(() => kernels.gates.lstmGatesForward(B, H, bf.z, 0, bf.cPrev, 0, bf.c, 0, bf.hOut, 0, bf.saved, 0)),
  );
  record(
    `js lstmGatesBackward`,
    time(() => kernels.gates.lstmGatesBackward(B, H, bf.saved, 0, bf.cPrev, 0, bf.dh, 0, bf.dc, 0, bf.dz, 0, bf.dcPrev, 0)),
  );
}
console.log('\n| kernel | best µs | median µs |\n| --- | ---: | ---: |');
for (const [label, xs] of rows) {
  const s = [...xs].sort((p, q) => p - q);
  console.log(`| ${label} | ${s[0].toFixed(1)} | ${s[s.length >> 1].toFixed(1)} |`);
}
wasm.close();
