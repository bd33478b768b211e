import type { Backend, GemmArgs, PrepareBArgs, PreparedB } from '../tensor/backend.js';
import type { Storage } from '../tensor/dtype.js';
import { gemmBlocked, gemmBlockedStrided } from '../tensor/kernels/gemm-blocked.js';
import { MR } from '../tensor/kernels/gemm-panels.js';
import { checkGemmArgs, checkPrepareBArgs } from '../tensor/kernels/gemm-check.js';
import {
  columnUnit,
  CONTROL_INTS,
  DrillKind,
  dtypeCode,
  FLOAT_BYTE,
  FLOAT_SLOTS,
  Part,
  PART_INTS,
  PARALLEL_MIN_WORK,
  partitionInto,
  sharedViews,
  Slot,
  splitsByColumns,
  viewOf,
  type OperandBuffers,
  type SharedViews,
  type UnnumberedMessage,
  type WorkerMessage,
} from './gemm-parallel-protocol.js';
import { BlockedPackedB, prepareBlockedB } from '../tensor/kernels/gemm-prepared.js';
import { jsRecurrentKernels } from '../tensor/kernels/recurrent-kernels.js';
import { SharedPackedB, SharedPacks } from './gemm-shared-packs.js';
import { AtomicControl, CallerAt, CallerProtocol, DEAD, firstFault } from './job-protocol.js';

export { CONTROL_BYTES } from './gemm-parallel-protocol.js';
export type { WorkerMessage } from './gemm-parallel-protocol.js';

/*
 * Multi-threaded GEMM, the caller's side (runtime-neutral: SharedArrayBuffer and Atomics only;
 * how threads start and how messages reach them is a runtime adapter's business, e.g.
 * src/node/gemm-workers.ts). The protocol is in gemm-parallel-protocol.ts, the workers' side in
 * gemm-parallel-worker.ts.
 *
 * C is cut into one part per thread, by rows or by columns (splitsByColumns); the caller's thread
 * computes the first part straight from and into the caller's arrays, each worker one further
 * part from shared copies of just the operand regions it reads. Every part runs
 * gemmBlockedStrided, whose arithmetic for an element of C depends only on k (same k-blocks,
 * same summation order), never on which rows or columns it is given, so the result is
 * bit-identical to the single-thread blocked kernel.
 *
 * Prepared op(B)s (the weight of a recurrent time loop, packed once per window) are packed
 * straight into shared memory: workers read the same float64 panels the caller's thread does,
 * so a per-step product copies no weight and packs nothing. Which shared slot a prepareB packs
 * into is gemm-shared-packs.ts's business: released and per-b slots are repacked in place, so
 * training allocates no new shared memory after its first step.
 */

/**
 * What a runtime adapter provides: workers started on the control block, a way to message them,
 * and a watch on them. The caller blocks in Atomics.wait while the workers compute, so it cannot
 * hear a worker's 'error' or 'exit' event itself: the adapter has something with a free event loop
 * (a supervisor thread) hear it and report it in the control block (reportFault in
 * job-protocol.ts), which wakes the caller at once. A worker that throws reports itself.
 */
export interface WorkerTransport {
  /** Number of worker threads (not counting the caller's). */
  readonly workers: number;
  /** Delivers a message to every worker; each applies it before any job that names its sequence number. */
  send(message: WorkerMessage): void;
  /** Ends the workers (after Command.Exit has been posted). */
  terminate(): void;
}

/**
 * A worker of a parallel GEMM failed (it threw, died, or was terminated) during a gemm: that
 * product was abandoned (its C is partly written: do not use it), and the backend is closed
 * (every later call throws this again). Nothing computed before is affected: go on from the last
 * good state, on one thread or on a new backend.
 */
export class GemmWorkerFault extends Error {
  /** What happened, e.g. 'gemm worker 1 of 1 exited unexpectedly (exit code 1)'. */
  readonly reason: string;
  constructor(reason: string, threads: number) {
    super(`${reason} (parallel gemm of ${threads} threads; the backend is closed)`);
    this.name = 'GemmWorkerFault';
    this.reason = reason;
  }
}

/**
 * A fault drill, for tests and for demonstrating failure handling: worker `worker` (0-based,
 * default 0), at its `afterJobs`-th parallel job from now (default 1), throws in its part
 * ('throw'), asks to be terminated mid-part and waits for it ('terminate': its supervisor
 * terminates it and hears it end, as it would any death), or stalls for `ms` before computing
 * ('stall': a descheduled worker, which the caller simply waits for). It fires once.
 */
export interface FaultDrill {
  kind: 'throw' | 'terminate' | 'stall';
  worker?: number;
  afterJobs?: number;
  ms?: number;
}

/** The caller's side: a Backend whose gemm splits large problems across the transport's workers (synchronously). */
export class ParallelGemm implements Backend {
  readonly name = 'parallel';
  readonly recurrent = jsRecurrentKernels; // the gate kernels run on the calling thread
  describe = (): string => 'js';
  readonly threads: number;
  private readonly ctrl: Int32Array;
  private readonly mem: AtomicControl;
  private readonly protocol: CallerProtocol;
  /** Whether every worker has started serving: until then the caller computes alone (it never waits on a thread not yet watched). */
  private started = false;
  /** Why the backend closed itself, thrown again by every later call. */
  private failure: GemmWorkerFault | undefined;
  private readonly floats: Float64Array; // [0] alpha, [1 + w] worker w's time for its last part (ms)
  /** Relative speed of each thread, the caller's first (always 1): parts are sized in proportion (see rebalance). */
  private readonly speeds: number[];
  /** The current job's parts: part p is [bounds[p], bounds[p + 1]) of C's rows or columns (reused by every call). */
  private readonly bounds: Int32Array;
  private buffers: OperandBuffers;
  private views: { a: SharedViews; b: SharedViews; c: SharedViews; bias: SharedViews };
  private sent = 0; // sequence number of the last message sent
  private closed = false;
  private readonly packs = new SharedPacks((message) => this.send(message));

  /** `control` must be the CONTROL_BYTES SharedArrayBuffer the transport's workers were started with. */
  constructor(
    private readonly transport: WorkerTransport,
    private readonly control: SharedArrayBuffer,
  ) {
    this.ctrl = new Int32Array(control, 0, CONTROL_INTS);
    this.mem = new AtomicControl(this.ctrl);
    this.protocol = new CallerProtocol(transport.workers);
    this.floats = new Float64Array(control, FLOAT_BYTE, FLOAT_SLOTS);
    this.threads = transport.workers + 1;
    this.speeds = new Array<number>(this.threads).fill(1);
    this.bounds = new Int32Array(this.threads + 1);
    const empty = (): SharedArrayBuffer => new SharedArrayBuffer(8);
    this.buffers = { a: empty(), b: empty(), c: empty(), bias: empty() };
    this.views = {
      a: sharedViews(this.buffers.a),
      b: sharedViews(this.buffers.b),
      c: sharedViews(this.buffers.c),
      bias: sharedViews(this.buffers.bias),
    };
    this.send({ kind: 'operands', buffers: this.buffers });
  }

  gemm(p: GemmArgs): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error('ParallelGemm.gemm: the backend has been closed');
    const { m, n, k } = p;
    if (this.transport.workers === 0 || m * n * k < PARALLEL_MIN_WORK || !this.workersStarted()) {
      gemmBlocked(p);
      return;
    }
    checkGemmArgs(p, 'gemm');
    const packed = p.packedB instanceof BlockedPackedB ? p.packedB : undefined;
    const transB = p.transB ?? false;
    if (packed !== undefined) packed.check('gemm', k, n, p.b, p.bOffset ?? 0, p.ldb ?? (transB ? k : n), transB); // before any worker starts
    const prepared = packed !== undefined;
    const byColumns = splitsByColumns(m, n, this.threads, prepared);
    const parts = partitionInto(this.bounds, byColumns ? n : m, this.speeds, byColumns ? columnUnit(n, prepared) : MR);
    if (parts < 2) {
      gemmBlocked(p);
      return;
    }
    this.runParallel(p, byColumns, parts, packed);
  }

  /**
   * op(B) packed once for many gemms (see Backend.prepareB), into a shared slot the workers read.
   * Without workers (or after close) the blocked kernel's own prepared operand.
   */
  prepareB(args: PrepareBArgs): PreparedB {
    checkPrepareBArgs(args, 'prepareB');
    if (this.failure) throw this.failure;
    if (this.closed || this.transport.workers === 0) return prepareBlockedB(args);
    return this.packs.prepare(args);
  }

  /** The caller will not use `prepared` again: its shared slot may serve the next prepareB of the same layout. */
  releaseB(prepared: PreparedB): void {
    if (prepared instanceof SharedPackedB) this.packs.releasePrepared(prepared);
  }

  private send(message: UnnumberedMessage): void {
    if (this.closed) return;
    this.sent++;
    this.transport.send({ ...message, seq: this.sent } as WorkerMessage);
  }

  private runParallel(p: GemmArgs, byColumns: boolean, parts: number, packed: BlockedPackedB | undefined): void {
    const { m, n, k, a, b, c } = p;
    const transA = p.transA ?? false;
    const transB = p.transB ?? false;
    const lda = p.lda ?? (transA ? m : k);
    const ldb = p.ldb ?? (transB ? k : n);
    const ldc = p.ldc ?? n;
    const aOff = p.aOffset ?? 0,
      bOff = p.bOffset ?? 0,
      cOff = p.cOffset ?? 0;
    const accumulate = p.accumulate ?? false;
    const alpha = p.alpha ?? 1;
    const bias = p.bias;
    const biasOff = p.biasOffset ?? 0;
    const shared = packed instanceof SharedPackedB ? packed : undefined; // else the workers pack B themselves
    const bounds = this.bounds;
    const w0 = bounds[1]!; // where the workers' parts start: rows [w0, m) or columns [w0, n)

    // The workers' regions, copied densely into shared memory: op(A) rows [w0, m) or all of op(A);
    // op(B) whole or its columns [w0, n) (nothing with a shared prepared op(B)); C likewise.
    const aRows = byColumns ? m : m - w0; // rows of op(A) the workers read
    const bCols = byColumns ? n - w0 : n; // columns of op(B) they read
    const cRows = aRows,
      cCols = bCols; // the workers' block of C
    this.reserve(aRows * k, a, shared ? 0 : k * bCols, b, cRows * cCols, c, bias ? cCols : 0, bias);
    const sa = viewOf(this.views.a, dtypeCode(a)),
      sb = viewOf(this.views.b, dtypeCode(b)),
      sc = viewOf(this.views.c, dtypeCode(c));
    const aFirst = byColumns ? 0 : w0,
      bFirst = byColumns ? w0 : 0;
    // Stored A is [m,k] (or [k,m] with transA); its region starts at row (column) aFirst. Likewise B.
    if (transA) copyMatrix(a, aOff + aFirst, lda, sa, 0, aRows, k, aRows);
    else copyMatrix(a, aOff + aFirst * lda, lda, sa, 0, k, aRows, k);
    if (!shared) {
      if (transB) copyMatrix(b, bOff + bFirst * ldb, ldb, sb, 0, k, bCols, k);
      else copyMatrix(b, bOff + bFirst, ldb, sb, 0, bCols, k, bCols);
    }
    const cStart = cOff + (byColumns ? w0 : w0 * ldc); // the workers' block of the caller's C
    if (accumulate) copyMatrix(c, cStart, ldc, sc, 0, cCols, cRows, cCols);
    if (bias) {
      const sbias = viewOf(this.views.bias, dtypeCode(bias));
      for (let j = 0; j < cCols; j++) sbias[j] = bias[biasOff + (byColumns ? w0 : 0) + j]!;
    }

    const ctrl = this.ctrl;
    ctrl[Slot.Seq] = this.sent;
    ctrl[Slot.K] = k;
    ctrl[Slot.RsA] = transA ? 1 : k;
    ctrl[Slot.CsA] = transA ? aRows : 1;
    ctrl[Slot.RsB] = transB ? 1 : bCols;
    ctrl[Slot.CsB] = transB ? k : 1;
    ctrl[Slot.Ldc] = cCols;
    ctrl[Slot.Accumulate] = accumulate ? 1 : 0;
    ctrl[Slot.HasBias] = bias ? 1 : 0;
    ctrl[Slot.DtA] = dtypeCode(a);
    ctrl[Slot.DtB] = dtypeCode(b);
    ctrl[Slot.DtC] = dtypeCode(c);
    ctrl[Slot.DtBias] = bias ? dtypeCode(bias) : 0;
    ctrl[Slot.PackedId] = shared ? shared.slot.id : -1;
    this.floats[0] = alpha;
    for (let w = 0; w < this.transport.workers; w++) {
      const part = Slot.Parts + PART_INTS * w;
      if (w + 1 >= parts) {
        ctrl[part + Part.M] = 0; // idle: fewer parts than threads
        continue;
      }
      const s = bounds[w + 1]!,
        e = bounds[w + 2]!;
      const r = s - w0; // where the part starts in the workers' region
      ctrl[part + Part.M] = byColumns ? m : e - s;
      ctrl[part + Part.N] = byColumns ? e - s : n;
      ctrl[part + Part.AOff] = byColumns ? 0 : transA ? r : r * k;
      ctrl[part + Part.BOff] = byColumns ? (transB ? r * k : r) : 0;
      ctrl[part + Part.COff] = byColumns ? r : r * cCols;
      ctrl[part + Part.BiasOff] = byColumns ? r : 0;
      ctrl[part + Part.J0] = byColumns ? s : 0;
      ctrl[part + Part.J1] = byColumns ? e : n;
    }
    this.protocol.post(); // publishes the fields above (Atomics are sequentially consistent)
    this.advance();
    if (this.protocol.pc === CallerAt.Failed) this.fail();

    // This thread's part, straight from and into the caller's arrays. Whatever happens here, the
    // job is joined before this call returns or throws: an abandoned job's ack would count against the next.
    const posted = performance.now();
    let ownError: { error: unknown } | undefined;
    try {
      const rsA = transA ? 1 : lda,
        csA = transA ? lda : 1;
      const rsB = transB ? 1 : ldb,
        csB = transB ? ldb : 1;
      if (byColumns) {
        gemmBlockedStrided(
          m,
          w0,
          k,
          a,
          aOff,
          rsA,
          csA,
          b,
          bOff,
          rsB,
          csB,
          c,
          cOff,
          ldc,
          alpha,
          accumulate,
          bias,
          biasOff,
          packed?.columns(0, w0),
        );
      } else {
        gemmBlockedStrided(w0, n, k, a, aOff, rsA, csA, b, bOff, rsB, csB, c, cOff, ldc, alpha, accumulate, bias, biasOff, packed);
      }
    } catch (error) {
      ownError = { error };
    }
    const mine = performance.now() - posted;
    this.protocol.join();
    this.advance();
    if (this.protocol.pc === CallerAt.Failed) this.fail();
    if (ownError) throw ownError.error;
    this.rebalance(parts, mine, performance.now() - posted - mine);
    copyMatrix(sc, 0, cCols, c, cStart, ldc, cRows, cCols);
  }

  /**
   * Re-estimates each worker's speed relative to this thread's from the job just done, so that the
   * next split gives every thread a share it finishes at the same moment. Static halves left this
   * thread waiting ~15% of a training step on a quiet 2-vCPU machine (the worker starts after the
   * operand copies, and a virtual CPU is not always there), more under load. A worker reports its
   * own time; a start delay shows as this thread waiting in join, and is added to the slowest.
   * Smoothed (a quarter per job) and clamped to [1/4, 4], so one odd job cannot starve a thread.
   * Only the split moves: every element of C is computed the same way whoever computes it.
   */
  private rebalance(parts: number, mine: number, waited: number): void {
    if (mine < 0.05) return; // too short to time
    const bounds = this.bounds; // part p has bounds[p + 1] − bounds[p] rows or columns: its work is proportional
    const myRate = (bounds[1]! - bounds[0]!) / mine;
    let slowest = 0;
    for (let w = 0; w + 1 < parts; w++) slowest = Math.max(slowest, this.floats[1 + w]!);
    // Waiting (beyond the ~µs of a join that finds the job done) means the slowest worker ended at mine + waited.
    const delay = waited > 0.02 ? Math.max(0, mine + waited - slowest) : 0;
    for (let w = 0; w + 1 < parts; w++) {
      const took = this.floats[1 + w]! + delay;
      if (!(took > 0)) continue;
      const relative = Math.min(4, Math.max(0.25, (bounds[w + 2]! - bounds[w + 1]!) / took / myRate));
      this.speeds[w + 1] = 0.75 * this.speeds[w + 1]! + 0.25 * relative;
    }
  }

  /** Runs the caller's protocol to its next point (Working, Done, Failed, Closed): waits for the workers in Sleep, however long they take. */
  private advance(): void {
    while (this.protocol.step(this.mem));
  }

  /** Whether every worker has started serving; a fault reported before that (a worker that could not start) is thrown. */
  private workersStarted(): boolean {
    if (this.started) return true;
    if ((Atomics.load(this.ctrl, Slot.Pending) & DEAD) !== 0) this.fail();
    this.started = Atomics.load(this.ctrl, Slot.Started) === this.transport.workers;
    return this.started;
  }

  /** The protocol failed (a fault reported, or a count that cannot be): close the backend and throw why. */
  private fail(): never {
    const broken = this.protocol.broken;
    const why =
      broken !== undefined
        ? `a protocol error: ${broken} worker(s) pending where ${this.transport.workers} or fewer can be`
        : (firstFault(this.control) ?? 'a gemm worker failed');
    this.failure = new GemmWorkerFault(why, this.threads);
    this.close();
    throw this.failure;
  }

  /**
   * Resolves once every worker has started serving (until then gemm computes on the calling
   * thread alone: the same numbers); rejects with the GemmWorkerFault if one could not start.
   */
  async ready(): Promise<void> {
    while (!this.closed && !this.workersStarted()) await new Promise((resolve) => setTimeout(resolve, 2));
    if (this.failure) throw this.failure;
  }

  /** Arms a fault drill (see FaultDrill). */
  drill(drill: FaultDrill): void {
    const worker = drill.worker ?? 0;
    if (!Number.isInteger(worker) || worker < 0 || worker >= this.transport.workers) {
      throw new RangeError(`ParallelGemm.drill: worker must be an integer in 0..${this.transport.workers - 1}, got ${worker}`);
    }
    const ctrl = this.ctrl; // plain writes, published by the next post
    ctrl[Slot.DrillKind] = drill.kind === 'throw' ? DrillKind.Throw : drill.kind === 'terminate' ? DrillKind.Terminate : DrillKind.Stall;
    ctrl[Slot.DrillMs] = Math.max(0, Math.round(drill.ms ?? 0));
    ctrl[Slot.DrillJob] = ctrl[Slot.Generation]! + Math.max(1, Math.round(drill.afterJobs ?? 1));
    ctrl[Slot.DrillWorker] = worker + 1;
  }

  /**
   * Grows the shared operand buffers to hold the given element counts of each operand's dtype
   * (never shrinks) and sends replacements to the workers.
   */
  private reserve(
    aLen: number,
    a: Storage,
    bLen: number,
    b: Storage,
    cLen: number,
    c: Storage,
    biasLen: number,
    bias: Storage | undefined,
  ): void {
    const need = (len: number, x: Storage | undefined): number => Math.ceil((len * (x ? x.BYTES_PER_ELEMENT : 4)) / 8) * 8;
    const bytes = { a: need(aLen, a), b: need(bLen, b), c: need(cLen, c), bias: need(biasLen, bias) };
    const old = this.buffers;
    if (old.a.byteLength >= bytes.a && old.b.byteLength >= bytes.b && old.c.byteLength >= bytes.c && old.bias.byteLength >= bytes.bias)
      return;
    // 25% headroom so a slowly growing sequence of problems does not resend buffers every call.
    const grow = (buffer: SharedArrayBuffer, want: number): SharedArrayBuffer =>
      buffer.byteLength >= want ? buffer : new SharedArrayBuffer(Math.ceil((want * 1.25) / 8) * 8);
    this.buffers = { a: grow(old.a, bytes.a), b: grow(old.b, bytes.b), c: grow(old.c, bytes.c), bias: grow(old.bias, bytes.bias) };
    const v = this.views;
    const refresh = (buffer: SharedArrayBuffer, view: SharedViews): SharedViews =>
      view.f32.buffer === buffer ? view : sharedViews(buffer);
    this.views = {
      a: refresh(this.buffers.a, v.a),
      b: refresh(this.buffers.b, v.b),
      c: refresh(this.buffers.c, v.c),
      bias: refresh(this.buffers.bias, v.bias),
    };
    this.send({ kind: 'operands', buffers: this.buffers });
  }

  /** Stops the workers. Safe to call twice; gemm throws afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.protocol.close();
    this.advance();
    this.transport.terminate();
  }
}

/**
 * dst[rows,cols] (row stride dstLd, from dstOff) ← src[rows,cols] (row stride srcLd, from srcOff):
 * one stored region of an operand, element by element (no views allocated per call).
 */
function copyMatrix(
  src: Storage,
  srcOff: number,
  srcLd: number,
  dst: Storage,
  dstOff: number,
  dstLd: number,
  rows: number,
  cols: number,
): void {
  for (let i = 0; i < rows; i++) {
    const s = srcOff + i * srcLd,
      d = dstOff + i * dstLd;
    for (let j = 0; j < cols; j++) dst[d + j] = src[s + j]!;
  }
}
