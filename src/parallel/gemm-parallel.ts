import type { Backend, GemmArgs, PrepareBArgs, PreparedB } from '../tensor/backend.js';
import type { Storage } from '../tensor/dtype.js';
import { gemmBlocked, gemmBlockedStrided } from '../tensor/kernels/gemm-blocked.js';
import { MR } from '../tensor/kernels/gemm-panels.js';
import { checkGemmArgs, checkPrepareBArgs } from '../tensor/kernels/gemm-check.js';
import {
  columnUnit,
  dtypeCode,
  Kernel,
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
} from './gemm-parallel-protocol.js';
import { BlockedPackedB, prepareBlockedB } from '../tensor/kernels/gemm-prepared.js';
import { SharedPackedB, SharedPacks } from './gemm-shared-packs.js';
import { JobChannel, type FaultDrill, type WorkerTransport } from './job-channel.js';

export { CONTROL_BYTES } from './gemm-parallel-protocol.js';
export type { WorkerMessage } from './gemm-parallel-protocol.js';
export { GemmWorkerFault, JobChannel, type FaultDrill, type WorkerTransport } from './job-channel.js';

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

/** The caller's side: a Backend whose gemm splits large problems across the transport's workers (synchronously). */
export class ParallelGemm implements Backend {
  readonly name = 'parallel';
  readonly threads: number;
  private readonly jobs: JobChannel;
  private buffers: OperandBuffers;
  private views: { a: SharedViews; b: SharedViews; c: SharedViews; bias: SharedViews };
  private readonly packs: SharedPacks;

  /** `control` must be the CONTROL_BYTES SharedArrayBuffer the transport's workers were started with. */
  constructor(transport: WorkerTransport, control: SharedArrayBuffer) {
    this.jobs = new JobChannel(transport, control);
    this.threads = this.jobs.threads;
    this.packs = new SharedPacks((message) => this.jobs.send(message));
    const empty = (): SharedArrayBuffer => new SharedArrayBuffer(8);
    this.buffers = { a: empty(), b: empty(), c: empty(), bias: empty() };
    this.views = {
      a: sharedViews(this.buffers.a),
      b: sharedViews(this.buffers.b),
      c: sharedViews(this.buffers.c),
      bias: sharedViews(this.buffers.bias),
    };
    this.jobs.send({ kind: 'operands', buffers: this.buffers });
  }

  /** Which kernels run on how many threads. */
  describe(): string {
    return `js ×${this.threads}`;
  }

  gemm(p: GemmArgs): void {
    this.jobs.checkOpen('ParallelGemm.gemm');
    const { m, n, k } = p;
    if (this.jobs.workers === 0 || m * n * k < PARALLEL_MIN_WORK || !this.jobs.workersStarted()) {
      gemmBlocked(p);
      return;
    }
    checkGemmArgs(p, 'gemm');
    const packed = p.packedB instanceof BlockedPackedB ? p.packedB : undefined;
    const transB = p.transB ?? false;
    if (packed !== undefined) packed.check('gemm', k, n, p.b, p.bOffset ?? 0, p.ldb ?? (transB ? k : n), transB); // before any worker starts
    const prepared = packed !== undefined;
    const byColumns = splitsByColumns(m, n, this.threads, prepared);
    const parts = partitionInto(this.jobs.bounds, byColumns ? n : m, this.jobs.speeds, byColumns ? columnUnit(n, prepared) : MR);
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
    const failure = this.jobs.fault;
    if (failure) throw failure;
    if (this.jobs.closed || this.jobs.workers === 0) return prepareBlockedB(args);
    return this.packs.prepare(args);
  }

  /** The caller will not use `prepared` again: its shared slot may serve the next prepareB of the same layout. */
  releaseB(prepared: PreparedB): void {
    if (prepared instanceof SharedPackedB) this.packs.releasePrepared(prepared);
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
    const bounds = this.jobs.bounds;
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

    const ctrl = this.jobs.ctrl;
    ctrl[Slot.Kernel] = Kernel.Js;
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
    this.jobs.floats[0] = alpha;
    for (let w = 0; w < this.jobs.workers; w++) {
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
    this.jobs.post();

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
    this.jobs.join();
    if (ownError) throw ownError.error;
    this.jobs.rebalance(parts, mine, performance.now() - posted - mine);
    copyMatrix(sc, 0, cCols, c, cStart, ldc, cRows, cCols);
  }

  /**
   * Resolves once every worker has started serving (until then gemm computes on the calling
   * thread alone: the same numbers); rejects with the GemmWorkerFault if one could not start.
   */
  ready(): Promise<void> {
    return this.jobs.ready();
  }

  /** Arms a fault drill (see FaultDrill). */
  drill(drill: FaultDrill): void {
    this.jobs.drill(drill);
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
    this.jobs.send({ kind: 'operands', buffers: this.buffers });
  }

  /** Stops the workers. Safe to call twice; gemm throws afterwards. */
  close(): void {
    this.jobs.close();
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
