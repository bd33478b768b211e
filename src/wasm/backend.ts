import type {
  Backend,
  GemmArgs,
  LSTMBackwardWindow,
  LSTMForwardWindow,
  MLSTMBackwardWindow,
  MLSTMForwardWindow,
  MRNNBackwardWindow,
  MRNNForwardWindow,
  PrepareBArgs,
  PreparedB,
  RecurrentKernels,
  RecurrentWindows,
} from '../tensor/backend.js';
import type { Storage } from '../tensor/dtype.js';
import { checkGemmArgs, checkPrepareBArgs } from '../tensor/kernels/gemm-check.js';
import { gemmBlocked } from '../tensor/kernels/gemm-blocked.js';
import { checkPreparedFor, prepareBlockedB } from '../tensor/kernels/gemm-prepared.js';
import { lstmGatesBackward, lstmGatesForward, LSTM_SAVED_PER_UNIT } from '../tensor/kernels/recurrent-lstm-gates.js';
import { multiplicativeBackward, multiplicativeForward } from '../tensor/kernels/recurrent-multiplicative.js';
import { tanhBackward, tanhForward } from '../tensor/kernels/recurrent-tanh.js';
import { VECTOR_MATH_ACCURACY } from './accuracy.js';
import { GEMM_FLAGS, type MultiplyAdd } from './gemm-kernels.js';
import { alignUp, DeferPack, gemmPacked, gemmRowsPackingA, rowBlock, slotBytesFor } from './gemm-driver.js';
import { packedABytes, packedBBytes } from './gemm-packing.js';
import type { WasmHeap } from './heap.js';
import type { KernelExports } from './kernel-module.js';
import { runWindowRows, Win, WINDOW_INTS, WINDOW_OPS, WindowLoop } from './recurrent-window.js';

/**
 * The single-thread WebAssembly SIMD backend: the Backend contract (gemm, prepareB, releaseB) on
 * the kernels of kernel-module.ts, and the recurrent gate kernels (gate-kernels.ts) as its
 * `recurrent` table, with the flat-array signatures of src/tensor/kernels/recurrent-*.ts.
 *
 * Where operands live. Kernels read and write only the wasm memory. An operand that is an
 * ordinary Float32Array is copied in (and an output copied back) at every call, into a scratch
 * block reused from call to call; an operand allocated by `allocate` (a view into the shared
 * memory) is used in place, without copies. Only float32 runs in wasm: a call with any float64
 * operand (gradient checks) runs the JS kernel instead, with identical semantics (gemm: the blocked
 * kernel; the gates: jsRecurrentKernels), so a float64 gradient check on this backend checks the
 * same float64 arithmetic as on the JS one.
 *
 * Accuracy (accuracy.ts): GEMM elements within γ_{k+3}·M of exact, summed in float32 in a fixed
 * order that depends only on k (so any split of a product by rows or columns is bit-identical);
 * σ, tanh within VECTOR_MATH_ACCURACY ulps.
 */

/** op(B) packed into this backend's memory by prepareB (opaque to callers). */
export class WasmPackedB implements PreparedB {
  released = false;
  constructor(
    readonly owner: WasmBackend,
    /** Byte address of the packed panels (0 when k·n = 0). */
    readonly addr: number,
    readonly k: number,
    readonly n: number,
    readonly source: Storage,
    readonly bOffset: number,
    readonly ldb: number,
    readonly transB: boolean,
  ) {}
}

/** Any of the whole-window loops' arguments (Backend.recurrentWindows). */
export type AnyWindow =
  MLSTMForwardWindow | MLSTMBackwardWindow | LSTMForwardWindow | LSTMBackwardWindow | MRNNForwardWindow | MRNNBackwardWindow;

/** A product staged in the memory (WasmBackend.stageGemm): byte addresses, and the caller's C when it lives outside. */
export interface StagedGemm {
  m: number;
  n: number;
  k: number;
  pa: number;
  pb: number;
  cAddr: number;
  ldcBytes: number;
  alpha: number;
  biasAddr: number;
  flags: number;
  /**
   * One row of A used as it lies (m = 1, A not transposed): gemm runs the one-row kernel (gemm-row.ts).
   * pa is then the row itself, which is also its packed panel ([k][1]), so a threaded driver may still
   * split the product by columns with gemmPacked: the same sums, bit for bit.
   */
  row: boolean;
  /** The caller's C when the product is computed in scratch (copied back by finishGemm), else null. */
  c: Float32Array | null;
  cOff: number;
  ldc: number;
  /**
   * The operand stageGemm left unpacked (DeferPack), for the parts that compute the product to pack
   * as they go: None; A, op(A) at `src`, packed by gemmRowsPackingA a block of rows at a time into
   * `pa`, which is then `slots` blocks of `slotBytes`, one per part, instead of all of op(A) packed;
   * or B, op(B) at `src`, each part of a column split packing its own columns into their place in
   * `pb` (packColumnsPart). op(X)(r, c) = f32 at src + r·rs + c·cs.
   */
  deferred: number;
  src: number;
  rs: number;
  cs: number;
  slotBytes: number;
}

/** Largest number of output slots one call copies back (lstm gates backward has 2, forward 3). */
const MAX_PENDING = 8;

export class WasmBackend implements Backend {
  readonly name = 'wasm';
  private closed = false;
  private scratchAddr = 0;
  private scratchSize = 0;
  private top = 0;
  // Outputs of the current call that live in JS arrays: copied back by flushOutputs.
  private readonly pendingArray: (Float32Array | null)[] = new Array<Float32Array | null>(MAX_PENDING).fill(null);
  private readonly pendingOffset = new Int32Array(MAX_PENDING);
  private readonly pendingLength = new Int32Array(MAX_PENDING);
  private readonly pendingAddr = new Float64Array(MAX_PENDING);
  private pending = 0;
  /** The product stageGemm staged: the arguments of gemmPacked, and where a scratch C goes back. */
  protected readonly staged: StagedGemm = {
    m: 0,
    n: 0,
    k: 0,
    pa: 0,
    pb: 0,
    cAddr: 0,
    ldcBytes: 0,
    alpha: 1,
    biasAddr: 0,
    flags: 0,
    row: false,
    c: null,
    cOff: 0,
    ldc: 0,
    deferred: DeferPack.None,
    src: 0,
    rs: 0,
    cs: 0,
    slotBytes: 0,
  };
  /**
   * Frees the block of a prepared operand the garbage collector found unreachable without a
   * releaseB (wasm memory is not collected). Safe for prepared operands only: they are opaque, so
   * nothing else can point into their block. Arrays from `allocate` must be freed explicitly (a
   * subarray of one may outlive the original view).
   */
  private readonly unreleased = new FinalizationRegistry<number>((addr) => {
    if (!this.closed) this.heap.release(addr);
  });

  constructor(
    /** The exports of the instantiated kernel module. */
    protected readonly kernels: KernelExports,
    readonly heap: WasmHeap,
    readonly multiplyAdd: MultiplyAdd,
  ) {
    this.recurrent = Object.freeze({
      lstmGatesForward: this.lstmGatesForward.bind(this),
      lstmGatesBackward: this.lstmGatesBackward.bind(this),
      multiplicativeForward: this.multiplicativeForward.bind(this),
      multiplicativeBackward: this.multiplicativeBackward.bind(this),
      tanhForward: this.tanhForward.bind(this),
      tanhBackward: this.tanhBackward.bind(this),
      accuracy: WASM_GATE_ACCURACY,
    });
  }

  /** The gate kernels for the nn ops (Backend.recurrent): this backend's methods below. */
  readonly recurrent: RecurrentKernels;

  /** Which kernels run: 'wasm-simd fma' (fused multiply-add) or 'wasm-simd' (separate multiply and add). */
  describe(): string {
    return this.multiplyAdd === 'fma' ? 'wasm-simd fma' : 'wasm-simd';
  }

  /**
   * A zero-filled float32 array that kernels use in place (no per-call copy): a view into the
   * backend's shared memory, valid until freed or the backend is closed. Where the memory cannot be
   * shared, an ordinary Float32Array (then copied per call as any other).
   */
  allocate(length: number): Float32Array {
    this.checkOpen('allocate');
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`allocate: length must be a non-negative integer, got ${length}`);
    return this.heap.allocFloat32(length) ?? new Float32Array(length);
  }

  /** Gives back an array from allocate (ordinary arrays are left to the garbage collector). */
  free(array: Float32Array): void {
    if (this.heap.contains(array)) this.heap.freeFloat32(array);
  }

  /** Whether `x` lives in this backend's memory (kernels then read it in place). */
  owns(x: Storage): boolean {
    return this.heap.contains(x);
  }

  /** Ends the backend: its memory (and every prepared operand and allocated array in it) may go. */
  close(): void {
    this.closed = true;
  }

  // ---------------------------------------------------------------- GEMM

  gemm(p: GemmArgs): void {
    // More rows than one block: op(A) is packed block by block as the product goes (gemmRowsPackingA).
    if (!this.stageGemm(p, p.m > rowBlock(p.k) ? DeferPack.A : DeferPack.None)) return;
    const g = this.staged;
    const kx = this.kernels;
    if (g.row) kx.gemm_f32_row(g.n, g.k, g.pa, g.pb, g.cAddr, g.alpha, g.biasAddr, g.flags);
    else if (g.deferred === DeferPack.A) {
      gemmRowsPackingA(kx, g.n, g.k, g.src, g.rs, g.cs, 0, g.m, g.pa, g.pb, g.cAddr, g.ldcBytes, g.alpha, g.biasAddr, g.flags);
    } else gemmPacked(kx, g.m, g.n, g.k, g.pa, g.pb, g.cAddr, g.ldcBytes, g.alpha, g.biasAddr, g.flags);
    this.finishGemm();
  }

  /**
   * Checks a product and stages it in the memory for gemmPacked (into `staged`): A packed, B
   * packed (or the prepared panels), C in place or in scratch (with its values when it
   * accumulates), the bias. Returns false when nothing is left to compute in wasm: float64
   * operands (the JS kernel ran), an empty C, or k = 0. The staging stays valid until the next
   * call of this backend; finishGemm copies a scratch C back. `defer` (DeferPack) leaves op(A) or an
   * unprepared op(B) in the memory unpacked, for the parts that compute the product to pack
   * (gemmRowsPackingA with `slots` blocks for A, one per part; packColumnsPart for B).
   */
  protected stageGemm(p: GemmArgs, defer: number = DeferPack.None, slots = 1): boolean {
    this.checkOpen('gemm');
    checkGemmArgs(p, 'gemm');
    const { m, n, k, a, b, c, bias } = p;
    if (!(
      a instanceof Float32Array &&
      b instanceof Float32Array &&
      c instanceof Float32Array &&
      (bias === undefined || bias instanceof Float32Array)
    )) {
      gemmBlocked(p); // float64 operands: the JS kernel (it ignores a packedB of ours)
      return false;
    }
    if (m === 0 || n === 0) return false;
    if (k === 0) {
      gemmBlocked(p); // C = (accumulate ? C : 0) + bias, no product
      return false;
    }
    const transA = p.transA ?? false;
    const transB = p.transB ?? false;
    const lda = p.lda ?? (transA ? m : k);
    const ldb = p.ldb ?? (transB ? k : n);
    const ldc = p.ldc ?? n;
    const aOff = p.aOffset ?? 0;
    const bOff = p.bOffset ?? 0;
    const cOff = p.cOffset ?? 0;
    const accumulate = p.accumulate ?? false;
    const packed = this.ownPacked(p.packedB, k, n, b, bOff, ldb, transB);
    const heap = this.heap;
    const aRows = transA ? k : m,
      aCols = transA ? m : k;
    const bRows = transB ? n : k,
      bCols = transB ? k : n;
    const cInMemory = heap.contains(c);
    // One row of A is its own packed panel ([k][1]): used as it lies, by the one-row kernel (gemm-row.ts).
    const row = m === 1 && !transA;
    const aInMemory = heap.contains(a);
    const bInMemory = heap.contains(b);
    const deferA = defer === DeferPack.A && !row;
    const packedA = row ? 0 : deferA ? slots * slotBytesFor(k) : alignUp(packedABytes(m, k));
    let need = packedA + (aInMemory ? 0 : matrixCopyBytes(aRows, aCols, lda));
    if (packed === undefined) need += alignUp(packedBBytes(k, n)) + (bInMemory ? 0 : matrixCopyBytes(bRows, bCols, ldb));
    if (!cInMemory) need += alignUp(m * n * 4);
    if (bias !== undefined && !heap.contains(bias)) need += alignUp(n * 4);
    this.beginScratch(need);

    const kx = this.kernels;
    const g = this.staged;
    g.deferred = DeferPack.None;
    g.slotBytes = deferA ? slotBytesFor(k) : 0;
    const aLd = stagedStride(aInMemory, aRows, aCols, lda);
    const aAddr = this.matrixIn(a, aOff, aRows, aCols, lda);
    const pa = row ? aAddr : this.bump(packedA);
    if (!row) {
      const rs = transA ? 4 : aLd * 4,
        cs = transA ? aLd * 4 : 4;
      if (deferA) this.defer(DeferPack.A, aAddr, rs, cs);
      else kx.packA_rowPanels4(aAddr, rs, cs, m, k, pa);
    }
    let pb: number;
    if (packed !== undefined) pb = packed.addr;
    else {
      const bLd = stagedStride(bInMemory, bRows, bCols, ldb);
      const bAddr = this.matrixIn(b, bOff, bRows, bCols, ldb);
      pb = this.bump(packedBBytes(k, n));
      const rs = transB ? 4 : bLd * 4,
        cs = transB ? bLd * 4 : 4;
      if (defer === DeferPack.B) this.defer(DeferPack.B, bAddr, rs, cs);
      else kx.packB_columnPanels8(bAddr, rs, cs, k, n, pb);
    }
    let cAddr: number;
    let ldcBytes: number;
    if (cInMemory) {
      cAddr = c.byteOffset + cOff * 4;
      ldcBytes = ldc * 4;
      this.checkInMemoryOverlap(c, cAddr, ldc, m, n, 'a', a, aOff, lda, aRows, aCols);
      if (packed === undefined) this.checkInMemoryOverlap(c, cAddr, ldc, m, n, 'b', b, bOff, ldb, bRows, bCols);
    } else {
      cAddr = this.bump(m * n * 4);
      ldcBytes = n * 4;
      if (accumulate) this.copyRowsIn(c, cOff, m, n, ldc, cAddr);
    }
    const biasAddr = bias === undefined ? 0 : this.input(bias, p.biasOffset ?? 0, n);
    const flags = (accumulate ? GEMM_FLAGS.accumulate : 0) | (bias !== undefined ? GEMM_FLAGS.bias : 0);
    const alpha = p.alpha ?? 1;
    g.m = m;
    g.n = n;
    g.k = k;
    g.pa = pa;
    g.pb = pb;
    g.cAddr = cAddr;
    g.ldcBytes = ldcBytes;
    g.alpha = alpha;
    g.biasAddr = biasAddr;
    g.flags = flags;
    g.row = row;
    g.c = cInMemory ? null : c;
    g.cOff = cOff;
    g.ldc = ldc;
    return true;
  }

  private defer(which: number, src: number, rs: number, cs: number): void {
    const g = this.staged;
    g.deferred = which;
    g.src = src;
    g.rs = rs;
    g.cs = cs;
  }

  /** Copies the staged product's C back to the caller's array when it was computed in scratch. */
  protected finishGemm(): void {
    const g = this.staged;
    if (g.c !== null) this.copyRowsOut(g.c, g.cOff, g.m, g.n, g.ldc, g.cAddr);
    g.c = null;
  }

  /** Packs op(B) once into the wasm memory (float32 b; a float64 b gets the JS kernel's prepared form). */
  prepareB(p: PrepareBArgs): PreparedB {
    this.checkOpen('prepareB');
    checkPrepareBArgs(p, 'prepareB');
    const { k, n, b } = p;
    if (!(b instanceof Float32Array)) return prepareBlockedB(p);
    const transB = p.transB ?? false;
    const bOff = p.bOffset ?? 0;
    const ldb = p.ldb ?? (transB ? k : n);
    if (k === 0 || n === 0) return new WasmPackedB(this, 0, k, n, b, bOff, ldb, transB);
    const addr = this.heap.alloc(packedBBytes(k, n));
    const rows = transB ? n : k,
      cols = transB ? k : n;
    this.beginScratch(this.heap.contains(b) ? 0 : matrixCopyBytes(rows, cols, ldb));
    const bLd = stagedStride(this.heap.contains(b), rows, cols, ldb);
    const bAddr = this.matrixIn(b, bOff, rows, cols, ldb);
    this.kernels.packB_columnPanels8(bAddr, transB ? 4 : bLd * 4, transB ? bLd * 4 : 4, k, n, addr);
    const prepared = new WasmPackedB(this, addr, k, n, b, bOff, ldb, transB);
    this.unreleased.register(prepared, addr, prepared);
    return prepared;
  }

  /** Frees a prepared operand's memory (others' prepared operands, and the JS kernel's, are left alone). */
  releaseB(prepared: PreparedB): void {
    if (!(prepared instanceof WasmPackedB) || prepared.owner !== this) return;
    if (prepared.released) throw new Error('releaseB: this prepared operand was already released');
    prepared.released = true;
    this.unreleased.unregister(prepared);
    if (prepared.addr !== 0 && !this.closed) this.heap.release(prepared.addr);
  }

  // ---------------------------------------------------------------- whole-window time loops

  /** The cells' time loops in one call each (recurrent-window.ts): Backend.recurrentWindows. */
  readonly recurrentWindows: RecurrentWindows = Object.freeze({
    mlstmForward: (w: MLSTMForwardWindow): boolean => this.runWindow(WindowLoop.MlstmForward, w),
    mlstmBackward: (w: MLSTMBackwardWindow): boolean => this.runWindow(WindowLoop.MlstmBackward, w),
    lstmForward: (w: LSTMForwardWindow): boolean => this.runWindow(WindowLoop.LstmForward, w),
    lstmBackward: (w: LSTMBackwardWindow): boolean => this.runWindow(WindowLoop.LstmBackward, w),
    mrnnForward: (w: MRNNForwardWindow): boolean => this.runWindow(WindowLoop.MrnnForward, w),
    mrnnBackward: (w: MRNNBackwardWindow): boolean => this.runWindow(WindowLoop.MrnnBackward, w),
  });
  /** The descriptor of this thread's window call (one thread: all rows). */
  private readonly window = new Int32Array(WINDOW_INTS);

  /** Runs a window's loop over all its rows; false (nothing done) when it cannot run here (see stageWindow). */
  protected runWindow(loop: number, w: AnyWindow): boolean {
    if (!this.stageWindow(loop, w, this.window, 0, 1)) return false;
    runWindowRows(loop, this.kernels, this.window, 0, 0, w.B, this.window[Win.Slots]! >>> 0);
    return true;
  }

  /**
   * Writes the descriptor of window `w` for `loop` (WindowLoop.*) at d[at…] and reserves a packing block for
   * each of `parts` threads in scratch. False when the window cannot run in the kernels: a buffer that is not a
   * float32 array in this memory, or a weight not prepared by this backend for that shape (the caller's loop
   * then runs, with the same bits). A buffer too short for the sizes is a caller's bug: thrown.
   */
  protected stageWindow(loop: number, w: AnyWindow, d: Int32Array, at: number, parts: number): boolean {
    const op = WINDOW_OPS[loop]!;
    this.checkOpen(op);
    const { T, B, H } = w;
    if (![T, B, H].every((v) => Number.isInteger(v) && v >= 1))
      throw new RangeError(`${op}: T, B, H must be positive integers, got ${T}, ${B}, ${H}`);
    const forward = loop === WindowLoop.MlstmForward || loop === WindowLoop.LstmForward || loop === WindowLoop.MrnnForward;
    const gated = loop !== WindowLoop.MrnnForward && loop !== WindowLoop.MrnnBackward; // the LSTM gates: c, saved values, G = 4H
    const multiplicative = loop !== WindowLoop.LstmForward && loop !== WindowLoop.LstmBackward; // m = XM ⊙ HM
    const G = gated ? 4 * H : H,
      BH = B * H,
      SBH = B * LSTM_SAVED_PER_UNIT * H;
    const f = w as Partial<MLSTMForwardWindow & MRNNForwardWindow>; // the fields of every window kind, read as the loop's kind has them
    const b = w as Partial<MLSTMBackwardWindow & MRNNBackwardWindow>;
    const hmStride = forward && multiplicative ? f.hmStride! : BH;
    const savedStride = forward && gated ? f.savedStride! : SBH;
    // [descriptor field, name, buffer, the elements it must hold]
    const buffers: [number, string, Storage | null, number][] = [
      [Win.Mask, 'mask', w.mask, BH],
      [Win.Z, forward ? 'Z' : 'DZ', forward ? f.Z! : b.DZ!, T * B * G],
    ];
    if (gated) buffers.push([Win.Cbuf, 'Cbuf', f.Cbuf!, (T + 1) * BH], [Win.S, 'S', f.S!, savedStride === 0 ? SBH : T * SBH]);
    if (multiplicative) buffers.push([Win.XM, 'XM', f.XM!, T * BH], [Win.HM, 'HM', f.HM!, hmStride === 0 ? BH : T * BH]);
    if (forward) buffers.push([Win.Hin, 'Hin', f.Hin!, (T + 1) * BH], [Win.Hbuf, 'Hbuf', f.Hbuf!, (T + 1) * BH]);
    if (forward && multiplicative) buffers.push([Win.M, 'M', f.M!, T * BH]);
    if (!forward) {
      buffers.push(
        [Win.DH, 'DH', b.DH!, (T + 1) * BH],
        [Win.DhCell, 'dhCell', b.dhCell!, BH],
        [Win.DhCellLast, 'dhCellLast', b.dhCellLast!, BH],
      );
      if (gated) buffers.push([Win.Dc, 'dc', b.dc!, BH]);
      else buffers.push([Win.Hbuf, 'Hbuf', b.Hbuf!, (T + 1) * BH]); // tanh′ reads h_t
      if (multiplicative) buffers.push([Win.Dm, 'dm', b.dm!, BH], [Win.DXM, 'DXM', b.DXM!, T * BH], [Win.DHM, 'DHM', b.DHM!, T * BH]);
      if (w.mask !== null && (b.dhCell === null || b.dhCellLast === null))
        throw new RangeError(`${op}: a mask needs dhCell and dhCellLast`);
    }
    // [descriptor field, prepared weight, its k, its n]
    const weights: [number, PreparedB, number, number][] = multiplicative
      ? [
          [Win.Wmh, f.wmh!, H, H],
          [Win.Whm, f.whm!, forward ? H : G, forward ? G : H],
        ]
      : [[Win.Whm, (w as LSTMForwardWindow | LSTMBackwardWindow).wh, forward ? H : G, forward ? G : H]];
    for (const [, , x] of buffers) if (x !== null && !(x instanceof Float32Array && this.heap.contains(x))) return false;
    for (const [, x, k, n] of weights)
      if (!(x instanceof WasmPackedB && x.owner === this && !x.released && x.k === k && x.n === n)) return false;
    for (const [, name, x, len] of buffers) {
      if (x !== null && x.length < len) throw new RangeError(`${op}: ${name} has ${x.length} elements; T=${T}, B=${B}, H=${H} need ${len}`);
    }
    d.fill(0, at, at + WINDOW_INTS);
    d[at + Win.Loop] = loop;
    d[at + Win.T] = T;
    d[at + Win.B] = B;
    d[at + Win.H] = H;
    d[at + Win.HmStride] = hmStride * 4;
    d[at + Win.SavedStride] = savedStride * 4;
    d[at + Win.NeedH0] = !forward && b.needH0 ? 1 : 0;
    for (const [field, , x] of buffers) d[at + field] = x === null ? 0 : x.byteOffset;
    for (const [field, x] of weights) d[at + field] = (x as WasmPackedB).addr;
    const slotBytes = slotBytesFor(forward ? H : G); // the largest k of the loop's products
    this.beginScratch(parts * slotBytes);
    d[at + Win.Slots] = this.bump(parts * slotBytes);
    d[at + Win.SlotBytes] = slotBytes;
    return true;
  }

  // ---------------------------------------------------------------- recurrent gate kernels

  /** lstmGatesForward of recurrent-lstm-gates.ts (same buffers, offsets and aliasing), in wasm SIMD for float32. */
  lstmGatesForward(
    B: number,
    H: number,
    z: Storage,
    zOff: number,
    cPrev: Storage,
    cPrevOff: number,
    c: Storage,
    cOff: number,
    h: Storage,
    hOff: number,
    saved: Storage,
    savedOff: number,
  ): void {
    if (!(
      z instanceof Float32Array &&
      cPrev instanceof Float32Array &&
      c instanceof Float32Array &&
      h instanceof Float32Array &&
      saved instanceof Float32Array
    )) {
      lstmGatesForward(B, H, z, zOff, cPrev, cPrevOff, c, cOff, h, hOff, saved, savedOff);
      return;
    }
    const op = 'lstmGatesForward';
    this.checkOpen(op);
    const BH = checkRows(op, B, H);
    if (BH === 0) return;
    const S = LSTM_SAVED_PER_UNIT * BH;
    this.beginScratch(
      this.operandBytes(op, z, zOff, 4 * BH) +
        this.operandBytes(op, cPrev, cPrevOff, BH) +
        this.operandBytes(op, c, cOff, BH) +
        this.operandBytes(op, h, hOff, BH) +
        this.operandBytes(op, saved, savedOff, S),
    );
    const zA = this.input(z, zOff, 4 * BH);
    const cpA = this.input(cPrev, cPrevOff, BH);
    const cA = this.output(c, cOff, BH);
    const hA = this.output(h, hOff, BH);
    const sA = this.output(saved, savedOff, S);
    this.kernels.lstm_gates_forward(B, H, zA, cpA, cA, hA, sA);
    this.flushOutputs();
  }

  /** lstmGatesBackward of recurrent-lstm-gates.ts (dcPrev may be dcNext, in place), in wasm SIMD for float32. */
  lstmGatesBackward(
    B: number,
    H: number,
    saved: Storage,
    savedOff: number,
    cPrev: Storage,
    cPrevOff: number,
    dh: Storage,
    dhOff: number,
    dcNext: Storage,
    dcNextOff: number,
    dz: Storage,
    dzOff: number,
    dcPrev: Storage,
    dcPrevOff: number,
  ): void {
    if (!(
      saved instanceof Float32Array &&
      cPrev instanceof Float32Array &&
      dh instanceof Float32Array &&
      dcNext instanceof Float32Array &&
      dz instanceof Float32Array &&
      dcPrev instanceof Float32Array
    )) {
      lstmGatesBackward(B, H, saved, savedOff, cPrev, cPrevOff, dh, dhOff, dcNext, dcNextOff, dz, dzOff, dcPrev, dcPrevOff);
      return;
    }
    const op = 'lstmGatesBackward';
    this.checkOpen(op);
    const BH = checkRows(op, B, H);
    if (BH === 0) return;
    const S = LSTM_SAVED_PER_UNIT * BH;
    this.beginScratch(
      this.operandBytes(op, saved, savedOff, S) +
        this.operandBytes(op, cPrev, cPrevOff, BH) +
        this.operandBytes(op, dh, dhOff, BH) +
        this.operandBytes(op, dcNext, dcNextOff, BH) +
        this.operandBytes(op, dz, dzOff, 4 * BH) +
        this.operandBytes(op, dcPrev, dcPrevOff, BH),
    );
    const sA = this.input(saved, savedOff, S);
    const cpA = this.input(cPrev, cPrevOff, BH);
    const dhA = this.input(dh, dhOff, BH);
    const dcnA = this.input(dcNext, dcNextOff, BH);
    const dzA = this.output(dz, dzOff, 4 * BH);
    const dcpA = this.output(dcPrev, dcPrevOff, BH);
    this.kernels.lstm_gates_backward(B, H, sA, cpA, dhA, dcnA, dzA, dcpA);
    this.flushOutputs();
  }

  /** multiplicativeForward of recurrent-multiplicative.ts: m = xm ⊙ hm over n elements. */
  multiplicativeForward(n: number, xm: Storage, xmOff: number, hm: Storage, hmOff: number, m: Storage, mOff: number): void {
    if (!(xm instanceof Float32Array && hm instanceof Float32Array && m instanceof Float32Array)) {
      multiplicativeForward(n, xm, xmOff, hm, hmOff, m, mOff);
      return;
    }
    const op = 'multiplicativeForward';
    this.checkOpen(op);
    if (checkCount(op, n) === 0) return;
    this.beginScratch(this.operandBytes(op, xm, xmOff, n) + this.operandBytes(op, hm, hmOff, n) + this.operandBytes(op, m, mOff, n));
    const xA = this.input(xm, xmOff, n);
    const hA = this.input(hm, hmOff, n);
    const mA = this.output(m, mOff, n);
    this.kernels.multiplicative_forward(n, xA, hA, mA);
    this.flushOutputs();
  }

  /** multiplicativeBackward of recurrent-multiplicative.ts: dxm = dm ⊙ hm, dhm = dm ⊙ xm. */
  multiplicativeBackward(
    n: number,
    dm: Storage,
    dmOff: number,
    xm: Storage,
    xmOff: number,
    hm: Storage,
    hmOff: number,
    dxm: Storage,
    dxmOff: number,
    dhm: Storage,
    dhmOff: number,
  ): void {
    if (!(
      dm instanceof Float32Array &&
      xm instanceof Float32Array &&
      hm instanceof Float32Array &&
      dxm instanceof Float32Array &&
      dhm instanceof Float32Array
    )) {
      multiplicativeBackward(n, dm, dmOff, xm, xmOff, hm, hmOff, dxm, dxmOff, dhm, dhmOff);
      return;
    }
    const op = 'multiplicativeBackward';
    this.checkOpen(op);
    if (checkCount(op, n) === 0) return;
    this.beginScratch(
      this.operandBytes(op, dm, dmOff, n) +
        this.operandBytes(op, xm, xmOff, n) +
        this.operandBytes(op, hm, hmOff, n) +
        this.operandBytes(op, dxm, dxmOff, n) +
        this.operandBytes(op, dhm, dhmOff, n),
    );
    const dmA = this.input(dm, dmOff, n);
    const xA = this.input(xm, xmOff, n);
    const hA = this.input(hm, hmOff, n);
    const dxA = this.output(dxm, dxmOff, n);
    const dhA = this.output(dhm, dhmOff, n);
    this.kernels.multiplicative_backward(n, dmA, xA, hA, dxA, dhA);
    this.flushOutputs();
  }

  /** tanhForward of recurrent-tanh.ts: h = tanh(z) over n elements. */
  tanhForward(n: number, z: Storage, zOff: number, h: Storage, hOff: number): void {
    if (!(z instanceof Float32Array && h instanceof Float32Array)) {
      tanhForward(n, z, zOff, h, hOff);
      return;
    }
    this.map('tanhForward', 'tanh_forward', n, z, zOff, h, hOff);
  }

  /** tanhBackward of recurrent-tanh.ts: dz = dh ⊙ (1 − h²) (dz may be dh, in place). */
  tanhBackward(n: number, h: Storage, hOff: number, dh: Storage, dhOff: number, dz: Storage, dzOff: number): void {
    if (!(h instanceof Float32Array && dh instanceof Float32Array && dz instanceof Float32Array)) {
      tanhBackward(n, h, hOff, dh, dhOff, dz, dzOff);
      return;
    }
    const op = 'tanhBackward';
    this.checkOpen(op);
    if (checkCount(op, n) === 0) return;
    this.beginScratch(this.operandBytes(op, h, hOff, n) + this.operandBytes(op, dh, dhOff, n) + this.operandBytes(op, dz, dzOff, n));
    const hA = this.input(h, hOff, n);
    const dhA = this.input(dh, dhOff, n);
    const dzA = this.output(dz, dzOff, n);
    this.kernels.tanh_backward(n, hA, dhA, dzA);
    this.flushOutputs();
  }

  /** y = f(x) elementwise with the kernels' vector σ, tanh or exp (exp only for x ≤ 0): what the accuracy tests sweep. */
  elementwise(fn: 'sigmoid' | 'tanh' | 'expNonPositive', x: Float32Array, y: Float32Array): void {
    const n = x.length;
    if (y.length !== n) throw new RangeError(`elementwise: y has ${y.length} elements, x ${n}`);
    const name = fn === 'sigmoid' ? 'sigmoid_map' : fn === 'tanh' ? 'tanh_forward' : 'exp_nonpositive_map';
    this.map(`elementwise(${fn})`, name, n, x, 0, y, 0);
  }

  private map(
    op: string,
    kernel: 'tanh_forward' | 'sigmoid_map' | 'exp_nonpositive_map',
    n: number,
    x: Float32Array,
    xOff: number,
    y: Float32Array,
    yOff: number,
  ): void {
    this.checkOpen(op);
    if (checkCount(op, n) === 0) return;
    this.beginScratch(this.operandBytes(op, x, xOff, n) + this.operandBytes(op, y, yOff, n));
    const xA = this.input(x, xOff, n);
    const yA = this.output(y, yOff, n);
    this.kernels[kernel](n, xA, yA);
    this.flushOutputs();
  }

  // ---------------------------------------------------------------- operands in and out of the memory

  private checkOpen(op: string): void {
    if (this.closed) throw new Error(`${op}: the wasm backend is closed`);
  }

  /** Checks each [array, offset, length] and reserves scratch for those that must be copied. */
  /**
   * Checks that operand x[off, off + len) exists and returns the scratch bytes it needs: 0 when it lives in
   * the memory, else its aligned size (it is copied in). Called once per operand, not with a list of them,
   * so that a per-step kernel call allocates nothing.
   */
  private operandBytes(op: string, x: Float32Array, off: number, len: number): number {
    if (!Number.isInteger(off) || off < 0 || off + len > x.length) {
      throw new RangeError(`${op}: an operand needs ${len} elements from offset ${off}, but its array has ${x.length}`);
    }
    return this.heap.contains(x) ? 0 : alignUp(len * 4);
  }

  /** Makes the scratch block at least `bytes` long and starts bump allocation from its beginning. */
  private beginScratch(bytes: number): void {
    this.pending = 0;
    if (bytes > this.scratchSize) {
      if (this.scratchAddr !== 0) this.heap.release(this.scratchAddr);
      this.scratchSize = alignUp(Math.max(bytes, Math.ceil(this.scratchSize * 1.5)));
      this.scratchAddr = this.heap.alloc(this.scratchSize);
    }
    this.top = this.scratchAddr;
  }

  private bump(bytes: number): number {
    const addr = this.top;
    this.top += alignUp(bytes);
    if (this.top > this.scratchAddr + this.scratchSize) throw new Error('wasm backend: scratch overrun (a size was miscounted)');
    return addr;
  }

  /** The address of x[off…off+len) in wasm memory: x itself when it lives there, else a copy. */
  private input(x: Float32Array, off: number, len: number): number {
    if (this.heap.contains(x)) return x.byteOffset + off * 4;
    const addr = this.bump(len * 4);
    this.heap.f32.set(x.subarray(off, off + len), addr >>> 2);
    return addr;
  }

  /** Where a kernel writes x[off…off+len): x itself when it lives in the memory, else scratch copied back by flushOutputs. */
  private output(x: Float32Array, off: number, len: number): number {
    if (this.heap.contains(x)) return x.byteOffset + off * 4;
    const addr = this.bump(len * 4);
    const i = this.pending++;
    this.pendingArray[i] = x;
    this.pendingOffset[i] = off;
    this.pendingLength[i] = len;
    this.pendingAddr[i] = addr;
    return addr;
  }

  private flushOutputs(): void {
    const f32 = this.heap.f32;
    for (let i = 0; i < this.pending; i++) {
      const start = this.pendingAddr[i]! >>> 2;
      this.pendingArray[i]!.set(f32.subarray(start, start + this.pendingLength[i]!), this.pendingOffset[i]!);
      this.pendingArray[i] = null;
    }
    this.pending = 0;
  }

  /**
   * The address of a stored matrix [rows, cols] with row stride ld from x[off]: in place when x
   * lives in the memory; else a copy as one span keeping ld (one memcpy), or row by row into a dense
   * [rows, cols] when the span is mostly gaps. Its row stride is stagedStride(...). (Two numbers
   * rather than one {addr, ld} object: whether V8 removes such an object depends on whether it
   * inlines this call, which varies from run to run, and a step must not allocate.)
   */
  private matrixIn(x: Float32Array, off: number, rows: number, cols: number, ld: number): number {
    if (this.heap.contains(x)) return x.byteOffset + off * 4;
    const f32 = this.heap.f32;
    if (spanIsDense(rows, cols, ld)) {
      const addr = this.bump(((rows - 1) * ld + cols) * 4);
      f32.set(x.subarray(off, off + (rows - 1) * ld + cols), addr >>> 2);
      return addr;
    }
    const addr = this.bump(rows * cols * 4);
    for (let r = 0; r < rows; r++) f32.set(x.subarray(off + r * ld, off + r * ld + cols), (addr >>> 2) + r * cols);
    return addr;
  }

  /** Dense [m,n] at addr ← C[m,n] (row stride ldc from c[off]). */
  private copyRowsIn(c: Float32Array, off: number, m: number, n: number, ldc: number, addr: number): void {
    const f32 = this.heap.f32;
    if (ldc === n) f32.set(c.subarray(off, off + m * n), addr >>> 2);
    else for (let i = 0; i < m; i++) f32.set(c.subarray(off + i * ldc, off + i * ldc + n), (addr >>> 2) + i * n);
  }

  /** C[m,n] (row stride ldc from c[off]) ← dense [m,n] at addr; the gaps between C's rows are not touched. */
  private copyRowsOut(c: Float32Array, off: number, m: number, n: number, ldc: number, addr: number): void {
    const f32 = this.heap.f32;
    const base = addr >>> 2;
    if (ldc === n) c.set(f32.subarray(base, base + m * n), off);
    else for (let i = 0; i < m; i++) c.set(f32.subarray(base + i * n, base + (i + 1) * n), off + i * ldc);
  }

  /**
   * checkGemmArgs compares buffers by identity; views of this memory made before and after a grow
   * have different buffer objects over the same bytes, so in-memory operands are also compared by
   * wasm address.
   */
  private checkInMemoryOverlap(
    c: Float32Array,
    cAddr: number,
    ldc: number,
    m: number,
    n: number,
    name: string,
    x: Float32Array,
    xOff: number,
    ldx: number,
    rows: number,
    cols: number,
  ): void {
    if (x.buffer === c.buffer || !this.heap.contains(x)) return; // same buffer: checked by checkGemmArgs; outside: a copy
    const cEnd = cAddr + ((m - 1) * ldc + n) * 4;
    const xStart = x.byteOffset + xOff * 4;
    const xEnd = xStart + ((rows - 1) * ldx + cols) * 4;
    if (xStart < cEnd && cAddr < xEnd) {
      throw new RangeError(`gemm: c [${m},${n}] overlaps ${name} [${rows},${cols}] in the same buffer (C must not alias its inputs)`);
    }
  }

  /** The call's packedB when this backend made it (checked against the call's B), else undefined: b is read. */
  private ownPacked(
    x: PreparedB | undefined,
    k: number,
    n: number,
    b: Storage,
    bOffset: number,
    ldb: number,
    transB: boolean,
  ): WasmPackedB | undefined {
    if (!(x instanceof WasmPackedB) || x.owner !== this) return undefined;
    if (x.released) throw new RangeError('gemm: packedB was released (releaseB) and cannot be used again; prepare it anew');
    checkPreparedFor('gemm', x, k, n, b, bOffset, ldb, transB);
    return x;
  }
}

const { sigmoidUlps: S_ULPS, tanhUlps: T_ULPS } = VECTOR_MATH_ACCURACY;
const FLOAT64_FALLBACK = 'float64 operands: the JS reference';
/** The stated accuracy of the gate kernels (accuracy.ts gives the bounds as functions; test/wasm-gates.test.ts checks them). */
const WASM_GATE_ACCURACY = Object.freeze({
  lstmGatesForward:
    `float32: σ within ${S_ULPS} ulps (flushed to 0 below 1.2e-38), tanh within ${T_ULPS} ulps, then float32 cell arithmetic, ` +
    `each output within gateErrorBound of its rounding path; ${FLOAT64_FALLBACK}`,
  lstmGatesBackward: `float32 arithmetic on the saved activations (no σ, tanh), each output within gateErrorBound; ${FLOAT64_FALLBACK}`,
  multiplicativeForward: `float32 product, correctly rounded (bit-identical to JS); ${FLOAT64_FALLBACK}`,
  multiplicativeBackward: `float32 products, correctly rounded (bit-identical to JS); ${FLOAT64_FALLBACK}`,
  tanhForward: `float32 tanh within ${T_ULPS} ulps; ${FLOAT64_FALLBACK}`,
  tanhBackward: `float32 dh·(1 − h)(1 + h) within gateErrorBound (3 roundings); ${FLOAT64_FALLBACK}`,
});

/** Whether copying the whole span of a stored [rows, cols] matrix with row stride ld wastes little. */
const spanIsDense = (rows: number, cols: number, ld: number): boolean => (rows - 1) * ld + cols <= 2 * rows * cols + 1024;

/** Row stride, in elements, of what matrixIn returns for a stored [rows, cols] matrix with row stride ld. */
const stagedStride = (inMemory: boolean, rows: number, cols: number, ld: number): number =>
  inMemory || spanIsDense(rows, cols, ld) ? ld : cols;

/** Scratch bytes matrixIn uses for a stored [rows, cols] matrix with row stride ld. */
function matrixCopyBytes(rows: number, cols: number, ld: number): number {
  return alignUp((spanIsDense(rows, cols, ld) ? (rows - 1) * ld + cols : rows * cols) * 4);
}

function checkRows(op: string, B: number, H: number): number {
  if (!Number.isInteger(B) || B < 0 || !Number.isInteger(H) || H < 0)
    throw new RangeError(`${op}: B and H must be non-negative integers, got ${B}, ${H}`);
  return B * H;
}

function checkCount(op: string, n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${op}: n must be a non-negative integer, got ${n}`);
  return n;
}
