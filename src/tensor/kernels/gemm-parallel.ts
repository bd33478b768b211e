import type { Backend, GemmArgs, PrepareBArgs, PreparedB } from '../backend.js';
import type { Storage } from '../dtype.js';
import { gemmBlocked, gemmBlockedStrided } from './gemm-blocked.js';
import { checkGemmArgs } from './gemm-check.js';
import { MR } from './gemm-panels.js';
import { BlockedPackedB, prepareBlockedB } from './gemm-prepared.js';

/*
 * Multi-threaded GEMM, runtime-neutral part: the row partition, the shared-memory job protocol
 * and both of its ends. Only ECMAScript is used (SharedArrayBuffer, Atomics); how threads are
 * started and how a new SharedArrayBuffer reaches them is the runtime adapter's business
 * (src/node/gemm-workers.ts for Node's worker_threads).
 *
 * The caller's thread computes the first block of C rows itself, each worker one further block,
 * all with gemmBlockedStrided. That kernel's arithmetic for an element of C depends only on k
 * (same k-blocks, same summation order), never on which rows it is given, so the result is
 * bit-identical to the single-thread blocked kernel.
 *
 * Protocol: one Int32Array `ctrl` on a SharedArrayBuffer. The caller writes the job's fields,
 * sets PENDING to the number of workers, increments GENERATION and notifies it; each worker,
 * parked in Atomics.wait on GENERATION, computes its rows, decrements PENDING and notifies the
 * caller when it reaches 0. Operands are copied into shared buffers (workers cannot see the
 * caller's ordinary ArrayBuffers); when a buffer must grow, its replacement is sent to every
 * worker and the job carries the buffer VERSION the worker must have received before starting.
 */

/** Problems with fewer multiply-adds stay on one thread: waking workers and copying operands costs ~0.1 ms. */
export const PARALLEL_MIN_WORK = 1 << 20;

/** Int32 slots of the control block. */
export const Slot = {
  Generation: 0, // incremented by the caller per job; workers wait on it
  Pending: 1, // workers still busy with the current job
  Command: 2, // Command.*
  Version: 3, // operand buffer version the job needs
  Error: 4, // 0, or 1 once a worker has failed
  Sleep: 5, // always 0: a worker waits on it to sleep briefly
  M: 6,
  N: 7,
  K: 8,
  ARsRow: 9,
  ACsCol: 10,
  BRsRow: 11,
  BCsCol: 12,
  Ldc: 13,
  Accumulate: 14,
  HasBias: 15,
  DtA: 16, // dtypes: 0 = float32, 1 = float64
  DtB: 17,
  DtC: 18,
  DtBias: 19,
  Rows: 20, // Rows + 2w, Rows + 2w + 1: the [start, end) rows of worker w
} as const;
export const Command = { Gemm: 0, Exit: 1 } as const;
const MAX_WORKERS = 64;
export const CONTROL_INTS = Slot.Rows + 2 * MAX_WORKERS;
/** Byte offset of the float64 alpha after the Int32 slots (8-byte aligned). */
const ALPHA_BYTE = CONTROL_INTS * 4;
export const CONTROL_BYTES = ALPHA_BYTE + 8;

/**
 * Splits rows [0, m) into at most `parts` contiguous [start, end) ranges of near-equal size, cut
 * at multiples of MR so no range but the last has a partial register tile. Fewer ranges when m
 * is too small to give each at least one tile row.
 */
export function partitionRows(m: number, parts: number): Array<[number, number]> {
  const tiles = Math.ceil(m / MR);
  const count = Math.max(1, Math.min(parts, tiles));
  const ranges: Array<[number, number]> = [];
  let start = 0;
  for (let p = 0; p < count; p++) {
    const end = p === count - 1 ? m : Math.min(m, Math.round(((p + 1) * tiles) / count) * MR);
    ranges.push([start, end]);
    start = end;
  }
  return ranges;
}

/** One shared operand buffer seen as float32 and float64. */
export interface SharedOperand {
  buffer: SharedArrayBuffer;
  f32: Float32Array;
  f64: Float64Array;
}
export interface SharedOperands {
  version: number;
  a: SharedOperand;
  b: SharedOperand;
  c: SharedOperand;
  bias: SharedOperand;
}

export function sharedOperand(buffer: SharedArrayBuffer): SharedOperand {
  return { buffer, f32: new Float32Array(buffer), f64: new Float64Array(buffer) };
}

/** What a runtime adapter provides: started workers and a way to hand them new operand buffers. */
export interface WorkerTransport {
  /** Number of worker threads (not counting the caller's). */
  readonly workers: number;
  /** Delivers the operand buffers to every worker; they pick them up before the next job. */
  sendOperands(operands: SharedOperands): void;
  /** Ends the workers (after Command.Exit has been posted). */
  terminate(): void;
}

const view = (op: SharedOperand, dtype: number): Storage => (dtype === 1 ? op.f64 : op.f32);
const dtypeCode = (x: Storage): number => (x instanceof Float64Array ? 1 : 0);

/** Elements from the first to one past the last element a [rows,cols] matrix with leading dimension ld covers. */
const spanLength = (rows: number, cols: number, ld: number): number => (rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols);

/**
 * The caller's side: a Backend whose gemm splits large problems across the transport's workers
 * (synchronously: it returns when C is complete) and runs small ones on this thread.
 */
export class ParallelGemm implements Backend {
  readonly name = 'parallel';
  readonly threads: number;
  private readonly ctrl: Int32Array;
  private readonly alpha: Float64Array;
  private operands: SharedOperands;
  private closed = false;

  /** `control` must be the CONTROL_BYTES SharedArrayBuffer the transport's workers were started with. */
  constructor(private readonly transport: WorkerTransport, control: SharedArrayBuffer, private readonly timeoutMs = 60_000) {
    this.ctrl = new Int32Array(control, 0, CONTROL_INTS);
    this.alpha = new Float64Array(control, ALPHA_BYTE, 1);
    this.threads = transport.workers + 1;
    const empty = (): SharedOperand => sharedOperand(new SharedArrayBuffer(8));
    this.operands = { version: 0, a: empty(), b: empty(), c: empty(), bias: empty() };
  }

  gemm(p: GemmArgs): void {
    if (this.closed) throw new Error('ParallelGemm.gemm: the backend has been closed');
    const { m, n, k } = p;
    const ranges = this.transport.workers > 0 && m * n * k >= PARALLEL_MIN_WORK ? partitionRows(m, this.threads) : null;
    if (ranges === null || ranges.length < 2) {
      gemmBlocked(p);
      return;
    }
    checkGemmArgs(p, 'gemm');
    this.runParallel(p, ranges);
  }

  /**
   * The blocked kernel's prepared op(B). Small problems (run here by gemmBlocked) and this
   * thread's rows of a split problem read it instead of packing b; the workers still pack their
   * shared copy of b (the same values, so results stay bit-identical).
   */
  prepareB(args: PrepareBArgs): PreparedB {
    return prepareBlockedB(args);
  }

  private runParallel(p: GemmArgs, ranges: Array<[number, number]>): void {
    const { m, n, k, a, b, c } = p;
    const transA = p.transA ?? false;
    const transB = p.transB ?? false;
    const lda = p.lda ?? (transA ? m : k);
    const ldb = p.ldb ?? (transB ? k : n);
    const ldc = p.ldc ?? n;
    const aOff = p.aOffset ?? 0, bOff = p.bOffset ?? 0, cOff = p.cOffset ?? 0;
    const accumulate = p.accumulate ?? false;
    const alpha = p.alpha ?? 1;
    const bias = p.bias;
    const biasOff = p.biasOffset ?? 0;
    const rsA = transA ? 1 : lda, csA = transA ? lda : 1;
    const rsB = transB ? 1 : ldb, csB = transB ? ldb : 1;
    const packed = p.packedB instanceof BlockedPackedB ? p.packedB : undefined;
    if (packed !== undefined) packed.check('gemm', k, n, b, bOff, ldb, transB); // before any worker starts

    // Copy the inputs' spans to shared memory (index 0 = the operand's offset).
    const aLen = spanLength(transA ? k : m, transA ? m : k, lda);
    const bLen = spanLength(transB ? n : k, transB ? k : n, ldb);
    const cLen = spanLength(m, n, ldc);
    this.reserve(aLen * 8, bLen * 8, cLen * 8, bias ? n * 8 : 8);
    const ops = this.operands;
    const sa = view(ops.a, dtypeCode(a)), sb = view(ops.b, dtypeCode(b)), sc = view(ops.c, dtypeCode(c));
    sa.set(a.subarray(aOff, aOff + aLen));
    sb.set(b.subarray(bOff, bOff + bLen));
    const firstWorkerRow = ranges[1]![0];
    if (accumulate) copyRows(c, cOff, sc, 0, firstWorkerRow, m, n, ldc);
    if (bias) view(ops.bias, dtypeCode(bias)).set(bias.subarray(biasOff, biasOff + n));

    const ctrl = this.ctrl;
    ctrl[Slot.Command] = Command.Gemm;
    ctrl[Slot.Version] = ops.version;
    ctrl[Slot.Error] = 0;
    ctrl[Slot.M] = m; ctrl[Slot.N] = n; ctrl[Slot.K] = k;
    ctrl[Slot.ARsRow] = rsA; ctrl[Slot.ACsCol] = csA; ctrl[Slot.BRsRow] = rsB; ctrl[Slot.BCsCol] = csB;
    ctrl[Slot.Ldc] = ldc;
    ctrl[Slot.Accumulate] = accumulate ? 1 : 0; ctrl[Slot.HasBias] = bias ? 1 : 0;
    ctrl[Slot.DtA] = dtypeCode(a); ctrl[Slot.DtB] = dtypeCode(b); ctrl[Slot.DtC] = dtypeCode(c); ctrl[Slot.DtBias] = bias ? dtypeCode(bias) : 0;
    this.alpha[0] = alpha;
    for (let w = 0; w < this.transport.workers; w++) {
      const range = ranges[w + 1];
      ctrl[Slot.Rows + 2 * w] = range ? range[0] : 0;
      ctrl[Slot.Rows + 2 * w + 1] = range ? range[1] : 0; // idle workers get an empty range
    }
    Atomics.store(ctrl, Slot.Pending, this.transport.workers);
    Atomics.add(ctrl, Slot.Generation, 1); // publishes the fields above (Atomics are sequentially consistent)
    Atomics.notify(ctrl, Slot.Generation);

    // This thread's rows, straight from and into the caller's arrays.
    const [r0, r1] = ranges[0]!;
    gemmBlockedStrided(r1 - r0, n, k, a, aOff + r0 * rsA, rsA, csA, b, bOff, rsB, csB, c, cOff + r0 * ldc, ldc, alpha, accumulate, bias, biasOff, packed);

    this.join();
    copyRows(sc, 0, c, cOff, firstWorkerRow, m, n, ldc);
  }

  /** Blocks until every worker has finished the current job. */
  private join(): void {
    const ctrl = this.ctrl;
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const pending = Atomics.load(ctrl, Slot.Pending);
      if (pending === 0) break;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(`ParallelGemm.gemm: ${pending} of ${this.transport.workers} worker(s) did not finish within ${this.timeoutMs} ms`);
      }
      Atomics.wait(ctrl, Slot.Pending, pending, remaining);
    }
    if (Atomics.load(ctrl, Slot.Error) !== 0) throw new Error('ParallelGemm.gemm: a worker failed (see its error output)');
  }

  /** Grows the shared operand buffers (never shrinks) and ships replacements to the workers. */
  private reserve(aBytes: number, bBytes: number, cBytes: number, biasBytes: number): void {
    const ops = this.operands;
    const fits = (op: SharedOperand, bytes: number): boolean => op.buffer.byteLength >= bytes;
    if (fits(ops.a, aBytes) && fits(ops.b, bBytes) && fits(ops.c, cBytes) && fits(ops.bias, biasBytes)) return;
    const grow = (op: SharedOperand, bytes: number): SharedOperand =>
      fits(op, bytes) ? op : sharedOperand(new SharedArrayBuffer(Math.ceil((bytes * 1.25) / 8) * 8));
    this.operands = { version: ops.version + 1, a: grow(ops.a, aBytes), b: grow(ops.b, bBytes), c: grow(ops.c, cBytes), bias: grow(ops.bias, biasBytes) };
    this.transport.sendOperands(this.operands);
  }

  /** Stops the workers. Safe to call twice; gemm throws afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctrl[Slot.Command] = Command.Exit;
    Atomics.add(this.ctrl, Slot.Generation, 1);
    Atomics.notify(this.ctrl, Slot.Generation);
    this.transport.terminate();
  }
}

/** dst rows [from, to) of C (n elements each, row stride ldc) ← src rows, element by element (no views allocated). */
function copyRows(src: Storage, srcOff: number, dst: Storage, dstOff: number, from: number, to: number, n: number, ldc: number): void {
  for (let i = from; i < to; i++) {
    const s = srcOff + i * ldc, d = dstOff + i * ldc;
    for (let j = 0; j < n; j++) dst[d + j] = src[s + j]!;
  }
}

/**
 * The worker's side: waits for jobs on `control` and computes its rows until Command.Exit.
 * `receiveOperands` must return operand buffers sent by sendOperands (undefined when none has
 * arrived yet); the worker keeps the newest and waits for the version a job names.
 */
export function serveGemmJobs(control: SharedArrayBuffer, worker: number, receiveOperands: () => SharedOperands | undefined): void {
  const ctrl = new Int32Array(control, 0, CONTROL_INTS);
  const alpha = new Float64Array(control, ALPHA_BYTE, 1);
  let operands: SharedOperands | undefined;
  let seen = 0; // the generation the control block was created with: a job posted before this thread started is not missed
  for (;;) {
    Atomics.wait(ctrl, Slot.Generation, seen);
    seen = Atomics.load(ctrl, Slot.Generation);
    if (ctrl[Slot.Command] === Command.Exit) return;
    try {
      while (operands === undefined || operands.version < ctrl[Slot.Version]!) {
        const next = receiveOperands();
        if (next) operands = next;
        else Atomics.wait(ctrl, Slot.Sleep, 0, 1); // the buffers are in flight: sleep 1 ms
      }
      runRows(ctrl, alpha[0]!, operands, worker);
    } catch (error) {
      // Reported to the caller through the Error slot (its gemm throws); this thread keeps serving.
      Atomics.store(ctrl, Slot.Error, 1);
      console.error(`gemm worker ${worker}:`, error);
    } finally {
      if (Atomics.sub(ctrl, Slot.Pending, 1) === 1) Atomics.notify(ctrl, Slot.Pending);
    }
  }
}

function runRows(ctrl: Int32Array, alpha: number, ops: SharedOperands, worker: number): void {
  const r0 = ctrl[Slot.Rows + 2 * worker]!, r1 = ctrl[Slot.Rows + 2 * worker + 1]!;
  if (r1 <= r0) return;
  const n = ctrl[Slot.N]!, k = ctrl[Slot.K]!;
  const rsA = ctrl[Slot.ARsRow]!, csA = ctrl[Slot.ACsCol]!, rsB = ctrl[Slot.BRsRow]!, csB = ctrl[Slot.BCsCol]!, ldc = ctrl[Slot.Ldc]!;
  const bias = ctrl[Slot.HasBias] === 1 ? view(ops.bias, ctrl[Slot.DtBias]!) : undefined;
  gemmBlockedStrided(r1 - r0, n, k, view(ops.a, ctrl[Slot.DtA]!), r0 * rsA, rsA, csA, view(ops.b, ctrl[Slot.DtB]!), 0, rsB, csB,
    view(ops.c, ctrl[Slot.DtC]!), r0 * ldc, ldc, alpha, ctrl[Slot.Accumulate] === 1, bias, 0);
}
