import { existsSync } from 'node:fs';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, GemmArgs } from '../src/tensor/backend.js';
import { Rng } from '../src/tensor/rng.js';
import { ensureBuilt, ROOT } from './cli-helpers.js';

/*
 * The interleavings behind issue 11, forced on real threads: the real caller (ParallelGemm) on
 * this thread and the real worker entry on a worker thread, both from the compiled package, with
 * their Atomics operations on the control block intercepted so that the test can hold either side
 * at a protocol point (test/support/gated-gemm-worker.mjs for the worker; `intercept` below for
 * the caller). Nothing is timed: each hold is released by an event of the other side.
 *
 * Only Atomics calls are intercepted, so the same test runs against any build of the package:
 * MLSTM_DIST=/path/to/old/dist npx vitest run test/gemm-parallel-interleaving.test.ts runs it on
 * the code before the fix (commit 7e5d2ee's dist), where both tests fail: the late notify makes
 * the worker run job 1 twice and drive Pending to −1 ("−1 of 1 worker(s) did not finish"), and
 * the abandoned job's ack makes the next gemm return early with the worker's part of C missing.
 */

const DIST = process.env['MLSTM_DIST'] ?? `${ROOT}dist`;
const OP = { load: 1, store: 2, add: 3, sub: 4, wait: 5, waited: 6, notify: 7, or: 8, compareExchange: 9, any: -1 } as const;
const LOG = 16;

interface Lib {
  ParallelGemm: new (
    transport: unknown,
    control: SharedArrayBuffer,
    timeoutMs?: number,
  ) => Backend & {
    close(): void;
    ready?(): Promise<void>;
  };
  CONTROL_BYTES: number;
  CONTROL_INTS: number;
  Slot: { Generation: number; Pending: number };
  gemmBlocked: (p: GemmArgs) => void;
  prepareBlockedB: (args: { k: number; n: number; b: Float32Array; transB?: boolean }) => object;
  /** The wasm driver (absent in builds before it). */
  ParallelWasmBackend?: new (
    kernels: object,
    heap: object,
    multiplyAdd: string,
    module: object,
    transport: unknown,
    control: SharedArrayBuffer,
  ) => Backend & { close(): void; ready(): Promise<void> };
  instantiateKernelsSync?: (o: object) => { kernels: Record<string, unknown>; heap: object; multiplyAdd: string; module: object };
  createWasmBackendSync?: (o: object) => Backend;
}
let lib: Lib;

beforeAll(async () => {
  if (process.env['MLSTM_DIST'] === undefined) ensureBuilt();
  const base = existsSync(`${DIST}/parallel/gemm-parallel.js`) ? `${DIST}/parallel` : `${DIST}/tensor/kernels`;
  const parallel = (await import(`${base}/gemm-parallel.js`)) as Pick<Lib, 'ParallelGemm' | 'CONTROL_BYTES'>;
  const protocol = (await import(`${base}/gemm-parallel-protocol.js`)) as Pick<Lib, 'CONTROL_INTS' | 'Slot'>;
  const blocked = (await import(`${DIST}/tensor/kernels/gemm-blocked.js`)) as Pick<Lib, 'gemmBlocked'>;
  const prepared = (await import(`${DIST}/tensor/kernels/gemm-prepared.js`)) as Pick<Lib, 'prepareBlockedB'>;
  lib = { ...parallel, ...protocol, ...blocked, ...prepared };
  if (existsSync(`${DIST}/parallel/gemm-parallel-wasm.js`)) {
    const wasmDriver = (await import(`${DIST}/parallel/gemm-parallel-wasm.js`)) as Pick<Lib, 'ParallelWasmBackend'>;
    const wasm = (await import(`${DIST}/wasm/index.js`)) as Pick<Lib, 'instantiateKernelsSync' | 'createWasmBackendSync'>;
    Object.assign(lib, wasmDriver, wasm);
  }
}, 180_000);

/** The shared log and hold of the gated worker (layout in gated-gemm-worker.mjs). */
class Gate {
  readonly buffer = new SharedArrayBuffer(4 * (LOG + 4 * 8192));
  readonly g = new Int32Array(this.buffer);

  /** Holds the worker before its `nth` operation `op` on `slot` from now. */
  arm(op: number, slot: number, nth = 1): void {
    Atomics.store(this.g, 6, 0);
    Atomics.store(this.g, 5, nth);
    Atomics.store(this.g, 4, slot);
    Atomics.store(this.g, 3, op);
  }
  release(): void {
    Atomics.add(this.g, 2, 1);
    Atomics.notify(this.g, 2);
  }
  /** Waits until the worker reaches the armed hold, then releases it. */
  releaseWhenHeld(): void {
    this.until(() => this.held);
    this.release();
  }
  get held(): boolean {
    return Atomics.load(this.g, 1) === 1;
  }
  entries(): Array<{ op: number; slot: number; arg: number; result: number }> {
    const n = Math.min(Atomics.load(this.g, 0), (this.g.length - LOG) / 4);
    return Array.from({ length: n }, (_, i) => ({
      op: Atomics.load(this.g, LOG + 4 * i),
      slot: Atomics.load(this.g, LOG + 4 * i + 1),
      arg: Atomics.load(this.g, LOG + 4 * i + 2),
      result: Atomics.load(this.g, LOG + 4 * i + 3),
    }));
  }
  /**
   * Blocks until `done(log)` holds; the worker logs every operation, so each new entry re-checks.
   * (A test that cannot get there fails after 30 s with the log, rather than hanging the run.)
   */
  until(done: (log: ReturnType<Gate['entries']>) => boolean): void {
    const give = Date.now() + 30_000;
    for (;;) {
      const length = Atomics.load(this.g, 0);
      if (done(this.entries())) return;
      if (Date.now() > give) throw new Error(`the worker never got there; its operations: ${this.describe()}`);
      Atomics.wait(this.g, 0, length, 1000); // wakes at the worker's next entry (the bound only re-checks)
    }
  }
  describe(): string {
    const names = Object.fromEntries(Object.entries(OP).map(([k, v]) => [v, k]));
    return this.entries()
      .map((e) => `${names[e.op]}(${e.slot}${e.op === OP.load || e.op === OP.notify ? '' : `, ${e.arg}`}) → ${e.result}`)
      .join('; ');
  }
  count(op: number, slot: number): number {
    return this.entries().filter((e) => e.op === op && e.slot === slot).length;
  }
}

/** A transport over one gated worker thread; messages can be held back and delivered later. */
class GatedTransport {
  readonly workers = 1;
  holding = false;
  private readonly held: unknown[] = [];
  private readonly port: MessagePort;
  private readonly thread: Worker;
  constructor(control: SharedArrayBuffer, gate: Gate) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.thread = new Worker(new URL('./support/gated-gemm-worker.mjs', import.meta.url), {
      workerData: { control, index: 0, port: port2, gate: gate.buffer, entry: `${DIST}/node/gemm-worker.js` },
      transferList: [port2],
    });
    this.thread.unref();
  }
  send(message: unknown): void {
    if (this.holding) this.held.push(message);
    else this.port.postMessage(message);
  }
  deliver(): void {
    this.holding = false;
    for (const message of this.held.splice(0)) this.port.postMessage(message);
  }
  terminate(): void {
    this.port.close();
    void this.thread.terminate();
  }
}

type Hooks = Partial<Record<'add' | 'wait' | 'notify', (slot: number, value: number, real: () => number | string) => number | string>>;
let restore: (() => void) | undefined;
afterEach(() => restore?.());

/** Intercepts this thread's Atomics operations on `control` (the caller's side). */
function intercept(control: SharedArrayBuffer, hooks: Hooks): void {
  const saved = { add: Atomics.add, wait: Atomics.wait, notify: Atomics.notify };
  const patch = <K extends keyof Hooks>(name: K): void => {
    const original = saved[name] as (...args: unknown[]) => number | string;
    (Atomics as unknown as Record<string, unknown>)[name] = (ta: Int32Array, slot: number, ...rest: unknown[]) => {
      const hook = hooks[name];
      const real = (): number | string => original.call(Atomics, ta, slot, ...rest);
      return hook && ta.buffer === control ? hook(slot, rest[0] as number, real) : real();
    };
  };
  patch('add');
  patch('wait');
  patch('notify');
  restore = () => Object.assign(Atomics, saved);
}

function problem(seed: number, m: number, n: number, k: number): GemmArgs {
  const rng = new Rng(seed);
  const fill = (len: number): Float32Array => Float32Array.from({ length: len }, () => rng.uniform(-1, 1));
  return { m, n, k, a: fill(m * k), b: fill(k * n), c: new Float32Array(m * n), transB: false };
}
/** The two drivers of the job protocol: the JS kernel's (ParallelGemm) and the wasm kernel's (ParallelWasmBackend). */
type Driver = 'js' | 'wasm';
let wasmSingle: Backend | undefined;
/** The single-thread product each driver must match bit for bit: the blocked kernel, or the wasm backend (mul+add). */
const referenceOf = (driver: Driver, p: GemmArgs): Float32Array => {
  const c = new Float32Array(p.c.length);
  if (driver === 'js') lib.gemmBlocked({ ...p, c });
  else (wasmSingle ??= lib.createWasmBackendSync!({ fma: false })).gemm({ ...p, c });
  return c;
};
const run = (backend: Backend, p: GemmArgs): { c: Float32Array; error?: string } => {
  const c = new Float32Array(p.c.length);
  try {
    backend.gemm({ ...p, c });
    return { c };
  } catch (error) {
    return { c, error: error instanceof Error ? error.message : String(error) };
  }
};
const sameBits = (x: Float32Array, y: Float32Array): boolean => x.every((v, i) => Object.is(v, y[i]));

/** Kernel exports whose gemm_f32 throws once `fail.armed` is set (the wasm caller's own part). */
const fail = { armed: false };

function start(driver: Driver): {
  backend: InstanceType<Lib['ParallelGemm']>;
  transport: GatedTransport;
  gate: Gate;
  control: SharedArrayBuffer;
} {
  const control = new SharedArrayBuffer(lib.CONTROL_BYTES);
  const gate = new Gate();
  const transport = new GatedTransport(control, gate);
  if (driver === 'js') {
    const backend = new lib.ParallelGemm(transport, control, 3000); // the old code's join gives up after 3 s instead of 60
    return { backend, transport, gate, control };
  }
  const k = lib.instantiateKernelsSync!({ fma: false, memory: { shared: true } });
  const real = k.kernels['gemm_f32'] as (...args: unknown[]) => void;
  const kernels = {
    ...k.kernels,
    gemm_f32: (...args: unknown[]) => {
      if (fail.armed) {
        fail.armed = false;
        throw new Error("the caller's own part failed");
      }
      real(...args);
    },
  };
  const backend = new lib.ParallelWasmBackend!(kernels, k.heap, k.multiplyAdd, k.module, transport, control);
  return { backend, transport, gate, control };
}

const DRIVERS: Driver[] = ['js', 'wasm'];
for (const driver of DRIVERS)
  describe(`the caller and a worker held at protocol points (real threads, real code): the ${driver} driver`, () => {
    const reference = (p: GemmArgs): Float32Array => referenceOf(driver, p);
    const skip = driver === 'wasm' && process.env['MLSTM_DIST'] !== undefined; // old builds have no wasm driver
    it.skipIf(skip)(
      'a notify that arrives after the worker already ran and acked its job does not make it run the job again',
      async () => {
        const { backend, gate, control } = start(driver);
        const { Generation, Pending } = lib.Slot;
        try {
          // Hold the worker at its first operation on Generation, so that it is awake, not asleep,
          // when the caller advances Generation: it will see the job without being woken.
          gate.arm(OP.any, Generation);
          await backend.ready?.(); // the current code posts once the worker has started serving
          if (!backend.ready) gate.until(() => gate.held);
          let late = 0;
          let parksBeforeLateNotify = 0;
          intercept(control, {
            notify: (slot, _value, real) => {
              if (slot !== Generation || late++ > 0) return real();
              // The caller, between its add and its notify of job 1 (descheduled there, say): let the
              // worker see the job, run it, ack it and go to sleep on the new generation…
              gate.release();
              gate.until((log) => {
                const ack = log.findIndex((e) => e.op === OP.sub && e.slot === Pending);
                return ack >= 0 && log.slice(ack).some((e) => e.op === OP.wait && e.slot === Generation);
              });
              // …and only then deliver the notify, once the worker really sleeps in Atomics.wait.
              parksBeforeLateNotify = gate.count(OP.wait, Generation);
              let woken: number | string;
              while ((woken = real()) === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
              return woken;
            },
          });
          const p = problem(1, 32, 512, 96); // 1.5 M multiply-adds: split in two by columns
          const first = run(backend, p);
          // The worker's reaction to the late notify is over when it goes to sleep again.
          gate.until(() => gate.count(OP.wait, Generation) > parksBeforeLateNotify);
          restore?.();
          expect(late).toBe(1);
          expect(first.error).toBeUndefined();
          expect(sameBits(first.c, reference(p))).toBe(true);
          expect(gate.count(OP.sub, Pending)).toBe(1); // one job, one ack (the old worker acked it twice)
          expect(Atomics.load(new Int32Array(control), Pending)).toBe(0);
          const second = run(backend, problem(2, 32, 512, 96));
          expect(second.error).toBeUndefined();
          expect(sameBits(second.c, reference(problem(2, 32, 512, 96)))).toBe(true);
          expect(gate.count(OP.sub, Pending)).toBe(2);
        } finally {
          backend.close();
        }
      },
      60_000,
    );

    it.skipIf(skip)(
      "a job whose caller's own part throws is joined before the throw: its ack never counts against the next job",
      async () => {
        const { backend, transport, gate, control } = start(driver);
        const { Generation, Pending } = lib.Slot;
        try {
          await backend.ready?.();
          // The caller's own part of job 1 throws after the job was posted: for the JS driver, a
          // prepared op(B) whose columns the caller cannot read (the workers copy B and pack it
          // themselves); for the wasm driver, its kernel instance's gemm_f32 (the workers have their own).
          const p1 = problem(3, 32, 512, 96);
          let packedB: object | undefined;
          if (driver === 'js') {
            packedB = lib.prepareBlockedB({ k: p1.k, n: p1.n, b: p1.b as Float32Array });
            Object.setPrototypeOf(
              packedB,
              Object.create(Object.getPrototypeOf(packedB) as object, {
                columns: {
                  value: () => {
                    throw new Error("the caller's own part failed");
                  },
                },
              }),
            );
          } else fail.armed = true;
          // Hold the worker before its ack of job 1 until the caller either joins job 1 (the current
          // code) or posts job 2 (the old code, which skipped the join).
          gate.arm(OP.sub, Pending);
          let adds = 0;
          let postedOverRunningJob = false;
          let released = false;
          const releaseOnce = (): void => {
            if (released) return;
            released = true;
            gate.releaseWhenHeld();
          };
          intercept(control, {
            add: (slot, _value, real) => {
              if (slot === Generation && ++adds === 2 && !released) {
                // Only the old code gets here: it posts job 2 while job 1 is still running (its worker
                // is held before the ack). Let the run go on (it fails in one way or another).
                postedOverRunningJob = true;
                transport.deliver();
                releaseOnce();
              }
              return real();
            },
            wait: (slot, value, real) => {
              if (slot === Pending) releaseOnce(); // the current code, joining job 1
              // Job 2's message is held back (below) until the caller really waits for job 2, i.e. after
              // job 1's ack, with job 2 pending: then the worker cannot have computed job 2 before the
              // caller copies C out, unless the caller waited for it.
              if (
                slot === Pending &&
                transport.holding &&
                gate.count(OP.sub, Pending) >= 1 &&
                Atomics.load(new Int32Array(control), Pending) === value
              ) {
                transport.deliver();
              }
              return real();
            },
          });
          const first = run(backend, { ...p1, packedB } as GemmArgs);
          expect(first.error).toBe("the caller's own part failed");
          transport.holding = true; // job 2 is larger: for the JS driver, its new operand buffers are a message the worker must apply first
          const p2 = problem(4, 32, 512, 200);
          const second = run(backend, p2);
          transport.deliver();
          restore?.();
          expect(postedOverRunningJob).toBe(false); // the old code: job 2 posted over the abandoned job 1
          expect(second.error).toBeUndefined();
          expect(sameBits(second.c, reference(p2))).toBe(true); // the old code returned before the worker's part
          gate.until(() => gate.count(OP.sub, Pending) >= 2);
          const third = run(backend, problem(5, 32, 512, 96));
          expect(third.error).toBeUndefined(); // the old code: "-1 of 1 worker(s) did not finish within 3000 ms"
          expect(gate.count(OP.sub, Pending)).toBe(3);
          expect(Atomics.load(new Int32Array(control), Pending)).toBe(0);
        } finally {
          backend.close();
        }
      },
      60_000,
    );
  });
