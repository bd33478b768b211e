/**
 * A GEMM worker thread whose operations on the control block can be held, for the deterministic
 * interleaving tests (test/gemm-parallel-interleaving.test.ts). It replaces Atomics.* in this
 * thread with versions that log every operation on the control block into a shared `gate` and,
 * when a hold is armed, stop before the matching operation until the test releases them; then it
 * imports the real worker entry (workerData.entry, the dist under test: the current one, or an old
 * build), which runs unchanged on top. Only Atomics calls are intercepted, so the same holds work
 * on any version of the worker code.
 *
 * gate (Int32Array): [0] log length, [1] 1 while held, [2] release count, [3] hold op (0: none,
 * -1: any), [4] hold slot, [5] hold nth (1-based count of matching operations), [6] matches so
 * far; from LOG, 4 ints per entry: op, slot, argument, result.
 */
import { workerData } from 'node:worker_threads';

export const OP = { load: 1, store: 2, add: 3, sub: 4, wait: 5, waited: 6, notify: 7, or: 8, compareExchange: 9 };
export const LOG = 16;

const gate = new Int32Array(workerData.gate);
const real = {};
for (const name of Object.keys(OP)) if (typeof Atomics[name] === 'function') real[name] = Atomics[name].bind(Atomics);
const ours = (ta) => ta instanceof Int32Array && ta.buffer === workerData.control && ta.byteOffset === 0;

function log(op, slot, arg, result) {
  const n = real.add(gate, 0, 1);
  const at = LOG + 4 * n;
  if (at + 3 >= gate.length) return;
  real.store(gate, at, op);
  real.store(gate, at + 1, slot);
  real.store(gate, at + 2, arg | 0);
  real.store(gate, at + 3, result | 0);
  real.notify(gate, 0);
}

function maybeHold(op, slot) {
  const holdOp = real.load(gate, 3);
  if (holdOp === 0 || (holdOp !== -1 && holdOp !== op) || real.load(gate, 4) !== slot) return;
  if (real.add(gate, 6, 1) + 1 !== real.load(gate, 5)) return;
  real.store(gate, 3, 0); // fires once
  const released = real.load(gate, 2);
  real.store(gate, 1, 1);
  real.notify(gate, 0); // whoever waits for a log entry re-checks
  while (real.load(gate, 2) === released) real.wait(gate, 2, released);
  real.store(gate, 1, 0);
}

const wrap = (name, op, format) => {
  Atomics[name] = (ta, slot, ...rest) => {
    if (!ours(ta)) return real[name](ta, slot, ...rest);
    maybeHold(op, slot);
    if (name === 'wait') {
      log(OP.wait, slot, rest[0], 0);
      const result = real.wait(ta, slot, ...rest);
      log(OP.waited, slot, rest[0], result === 'ok' ? 1 : result === 'not-equal' ? 2 : 3);
      return result;
    }
    const result = real[name](ta, slot, ...rest);
    log(op, slot, format(rest), typeof result === 'number' ? result : 0);
    return result;
  };
};
wrap('load', OP.load, () => 0);
wrap('store', OP.store, (r) => r[0]);
wrap('add', OP.add, (r) => r[0]);
wrap('sub', OP.sub, (r) => r[0]);
wrap('wait', OP.wait, (r) => r[0]);
wrap('notify', OP.notify, () => 0);
wrap('or', OP.or, (r) => r[0]);
wrap('compareExchange', OP.compareExchange, (r) => r[0]);

await import(workerData.entry);
