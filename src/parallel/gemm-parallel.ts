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
  type UnnumberedMessage,
} from './gemm-parallel-protocol.js';
import { BlockedPackedB, packedLength, prepareBlockedB } from '../tensor/kernels/gemm-prepared.js';
import { jsRecurrentKernels } from '../tensor/kernels/recurrent-kernels.js';
import { JobChannel, type FaultDrill, type WorkerTransport } from './job-channel.js';

export { CONTROL_BYTES } from './gemm-parallel-protocol.js';
export type { WorkerMessage } from './gemm-parallel-protocol.js';
export { GemmWorkerFault, JobChannel, type FaultDrill, type WorkerTransport } from './job-channel.js';

/*
 * Multi-threaded GEMM, the caller's side (runtime-neutral: SharedArrayBuffer and Atomics only;
 * how threads start and how messages reach them is a runtime adapter's business, e.g.
 * src/node/gemm-workers.ts). The protocol is in gemm-parallel-protocol.ts and job-protocol.ts (the caller's end: job-channel.ts), the workers' side in
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
 * into is SharedPacks' business (below): released and per-b slots are repacked in place, so
 * training allocates no new shared memory after its first step.
 */

/** The caller's side: a Backend whose gemm splits large problems across the transport's workers (synchronously). */
export class ParallelGemm implements Backend {
  readonly name = 'parallel';
  readonly recurrent = jsRecurrentKernels; // the gate kernels run on the calling thread
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
    this.jobs.finish(parts, posted, ownError);
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

/*
 * The prepared op(B)s of the parallel GEMM live in shared memory ("slots") that the workers were
 * sent once; this file decides which slot a prepareB packs into, so that training reuses the same
 * few slots step after step instead of allocating (and messaging) new shared memory:
 *
 * - A caller that says it is done with a prepared operand (Backend.releaseB: the recurrent ops do,
 *   after their time loop) returns its slot to a free list per layout (k, n); the next prepareB of
 *   that layout, of whatever b, repacks it. This is what keeps a weight-normalised model (a new
 *   weight array every window) from piling up slots.
 * - Otherwise a slot stays with its b and addressing and is repacked by the next prepareB of them;
 *   when that b is garbage-collected, its slots are dropped (FinalizationRegistry; only when the
 *   program returns to its event loop, hence the explicit release above).
 * A prepared operand whose slot was repacked or released since is stale: using it throws.
 */

/** One shared prepared op(B): where it lives and how often it has been (re)packed. */
export interface SharedSlot {
  readonly id: number;
  readonly k: number;
  readonly n: number;
  readonly storage: Float64Array; // over a SharedArrayBuffer the workers hold
  /** Incremented by every prepareB into this slot and by its release. */
  generation: number;
  /** The b whose slot list holds this slot now (undefined while free). */
  owner?: OwnedSlots;
  bOffset: number;
  ldb: number;
  transB: boolean;
}

interface OwnedSlots {
  slots: SharedSlot[];
  ids: number[]; // what the finalizer drops when b is collected
}

/** Slots kept per b: a caller that prepares more addressings of one b than this loses its oldest. */
const SLOTS_PER_OPERAND = 8;
/** Free slots kept per layout: enough for the weights of a deep stack released at the end of a window. */
const FREE_PER_LAYOUT = 8;

/**
 * op(B) prepared by ParallelGemm: a BlockedPackedB whose panels are in a shared slot. Valid until
 * the slot is repacked (the next prepareB of the same b and addressing) or released: using it
 * after that throws instead of silently reading other values.
 */
export class SharedPackedB extends BlockedPackedB {
  readonly generation: number;

  constructor(
    k: number,
    n: number,
    b: Storage,
    bOffset: number,
    ldb: number,
    transB: boolean,
    readonly slot: SharedSlot,
  ) {
    super(k, n, b, bOffset, ldb, transB, slot.storage);
    this.generation = slot.generation;
  }

  override check(fn: string, k: number, n: number, b: Storage, bOffset: number, ldb: number, transB: boolean): void {
    super.check(fn, k, n, b, bOffset, ldb, transB);
    if (this.slot.generation !== this.generation) {
      throw new Error(
        `${fn}: packedB is stale: op(B) ${k}×${n} was released, or this b prepared again, since it was made; ` +
          'a prepared operand is valid until its releaseB or the next prepareB of the same b on this backend',
      );
    }
  }
}

/** Which shared slot each prepareB packs into, and when the workers may drop one (see the top of this file). */
export class SharedPacks {
  private nextId = 0;
  private readonly owned = new WeakMap<Storage, OwnedSlots>();
  private readonly free = new Map<string, SharedSlot[]>();
  /** When a b with slots is garbage-collected, the workers drop those slots too. */
  private readonly finalizer = new FinalizationRegistry<number[]>((ids) => {
    for (const id of ids) this.send({ kind: 'drop', id });
  });

  constructor(private readonly send: (message: UnnumberedMessage) => void) {}

  /** Packs op(B) into a slot (its own, a free one of its layout, or a new one) and returns it prepared. */
  prepare(args: PrepareBArgs): SharedPackedB {
    const { k, n, b } = args;
    const transB = args.transB ?? false;
    const bOffset = args.bOffset ?? 0;
    const ldb = args.ldb ?? (transB ? k : n);
    let owner = this.owned.get(b);
    if (owner === undefined) {
      owner = { slots: [], ids: [] };
      this.owned.set(b, owner);
      this.finalizer.register(b, owner.ids);
    }
    let slot = owner.slots.find((s) => s.k === k && s.n === n && s.bOffset === bOffset && s.ldb === ldb && s.transB === transB);
    if (slot === undefined) {
      if (owner.slots.length === SLOTS_PER_OPERAND) this.release(owner.slots[0]!);
      slot = this.free.get(layoutKey(k, n))?.pop() ?? this.create(k, n);
      slot.bOffset = bOffset;
      slot.ldb = ldb;
      slot.transB = transB;
      slot.owner = owner;
      owner.slots.push(slot);
      owner.ids.push(slot.id);
    }
    slot.generation++;
    return new SharedPackedB(k, n, b, bOffset, ldb, transB, slot);
  }

  /** The caller is done with `prepared`: its slot goes to the free list of its layout (stale from now on). */
  releasePrepared(prepared: SharedPackedB): void {
    if (prepared.slot.generation === prepared.generation) this.release(prepared.slot);
  }

  private create(k: number, n: number): SharedSlot {
    const buffer = new SharedArrayBuffer(packedLength(k, n) * 8);
    const slot: SharedSlot = {
      id: this.nextId++,
      k,
      n,
      storage: new Float64Array(buffer),
      generation: 0,
      bOffset: 0,
      ldb: 0,
      transB: false,
    };
    this.send({ kind: 'packed', id: slot.id, buffer, k, n });
    return slot;
  }

  private release(slot: SharedSlot): void {
    slot.generation++; // whatever was prepared in it is stale now
    const owner = slot.owner;
    if (owner !== undefined) {
      owner.slots.splice(owner.slots.indexOf(slot), 1);
      owner.ids.splice(owner.ids.indexOf(slot.id), 1);
      slot.owner = undefined;
    }
    const key = layoutKey(slot.k, slot.n);
    let list = this.free.get(key);
    if (list === undefined) this.free.set(key, (list = []));
    if (list.length < FREE_PER_LAYOUT) list.push(slot);
    else this.send({ kind: 'drop', id: slot.id });
  }
}

const layoutKey = (k: number, n: number): string => `${k}x${n}`;
