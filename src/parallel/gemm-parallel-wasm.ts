import type { GemmArgs, PrepareBArgs, PreparedB } from '../tensor/backend.js';
import { WasmBackend, type AnyWindow } from '../wasm/backend.js';
import { DeferPack, gemmPacked, gemmRowsPackingA, packColumnsPart } from '../wasm/gemm-driver.js';
import { GEMM_FLAGS, MR, type MultiplyAdd } from '../wasm/gemm-kernels.js';
import type { WasmHeap } from '../wasm/heap.js';
import type { KernelExports } from '../wasm/kernel-module.js';
import type { WasmModule } from '../wasm/runtime.js';
import { runWindowRows, Win, WINDOW_OPS, WindowLoop } from '../wasm/recurrent-window.js';
import { Kernel, Part, PART_INTS, PARALLEL_MIN_WORK, partitionInto, Slot, WINDOW_AT } from './gemm-parallel-protocol.js';
import { JobChannel, type FaultDrill, type WorkerTransport } from './job-channel.js';

/*
 * The wasm kernel on several threads, the caller's side (runtime-neutral; the workers' side is
 * runWasmPart in gemm-parallel-worker.ts, started by the same runtime adapters as the JS kernel's).
 *
 * Memory. One shared WebAssembly.Memory (the backend's heap: shared, with a declared maximum) that
 * the calling thread and every worker instantiate the same compiled kernel module over (the
 * 'wasm' message carries both), so a byte address means the same on every thread. Everything a
 * product reads or writes lives in it: prepared B (prepareB packs a loop weight once per window,
 * as on one thread, and a worker reads those panels where they are: no message, no copy), and per
 * call the packed A, the packed B of an unprepared operand, the bias and C (in place when the
 * caller's arrays are views of the memory from allocate(), else in the backend's scratch block).
 * The caller stages all of that (WasmBackend.stageGemm, the single-thread code) before posting,
 * except the packing of the operand the parts do not share: in a row split each part packs its
 * own rows of op(A), a block at a time into a block of its own, computing each block as soon as it
 * is packed (gemmRowsPackingA); in a column split its own columns of an unprepared op(B)
 * (packColumnsPart). So packing runs on every thread too, and a large A (the transposed 2048×1024
 * DZ of a weight gradient) never needs all of its packed form in scratch.
 *
 * Split. C is cut into one part per thread: by columns at multiples of 16 (two packed 8-wide
 * panels) when C is wider than tall, so each thread streams only its panels of B (the recurrent
 * steps: m = 32 rows, n = H or 4H); by rows at multiples of 4 (one packed A panel) when it is at
 * least as tall. Part sizes follow the threads' measured speeds (JobChannel.rebalance). The caller
 * computes the first part itself between post and join, and sleeps in join only when it finishes
 * first.
 *
 * Bit-identity. Every part is gemmPacked (the one driver loop of the single-thread backend) at
 * offsets into the same packed panels, and the kernels' arithmetic for an element of C depends
 * only on k (no k-blocking, a fixed summation order, the same lane arithmetic in every tile), so
 * any split by rows at multiples of 4 or columns at multiples of 8 gives the bits of the whole:
 * 1 and N threads are bit-identical, and identical to WasmBackend with the same arithmetic.
 *
 * Protocol. Exactly the JS driver's: JobChannel runs job-protocol.ts's CallerProtocol (the
 * model-checked one), the workers its WorkerProtocol inside GemmJobServer, and the supervisors
 * report a worker's death in the control block; a job's Slot.Kernel says which kernel its parts
 * run. Faults close the backend (GemmWorkerFault), there is no wall-clock timeout, and the fault
 * drills work unchanged.
 */

/** Column parts are cut at multiples of this (two 8-wide panels of packed B). */
export const WASM_COLUMN_UNIT = 16;
/** Row parts are cut at multiples of this (one packed A panel). */
export const WASM_ROW_UNIT = MR;

/** Whether the wasm driver splits C [m,n] by columns between `threads` threads (see the top of this file). */
export function wasmSplitsByColumns(m: number, n: number, threads: number): boolean {
  if (m >= n) return false;
  return Math.min(threads, Math.ceil(n / WASM_COLUMN_UNIT)) >= Math.min(threads, Math.ceil(m / WASM_ROW_UNIT));
}

/**
 * WasmBackend whose large products are shared with worker threads (the gate kernels and small
 * products run on the calling thread, as on WasmBackend). A transport with no workers makes it
 * the single-thread backend with a thread count.
 */
export class ParallelWasmBackend extends WasmBackend {
  readonly threads: number;
  private readonly jobs: JobChannel;

  /**
   * `kernels` are the calling thread's instance of `module` over `heap` (which must be shared);
   * `control` the CONTROL_BYTES SharedArrayBuffer the transport's workers were started with.
   */
  constructor(
    kernels: KernelExports,
    heap: WasmHeap,
    multiplyAdd: MultiplyAdd,
    module: WasmModule,
    transport: WorkerTransport,
    control: SharedArrayBuffer,
  ) {
    if (transport.workers > 0 && !heap.shared) throw new Error('ParallelWasmBackend: the kernels memory must be shared with the workers');
    super(kernels, heap, multiplyAdd);
    this.jobs = new JobChannel(transport, control);
    this.threads = this.jobs.threads;
    if (transport.workers > 0) this.jobs.send({ kind: 'wasm', module, memory: heap.memory });
  }

  /** Which kernels run on how many threads: 'wasm-simd fma ×2' (one thread: as WasmBackend). */
  override describe(): string {
    return this.threads === 1 ? super.describe() : `${super.describe()} ×${this.threads}`;
  }

  override gemm(p: GemmArgs): void {
    this.jobs.checkOpen('gemm');
    const { m, n, k } = p;
    if (this.jobs.workers === 0 || m * n * k < PARALLEL_MIN_WORK || !this.jobs.workersStarted()) {
      super.gemm(p);
      return;
    }
    const jobs = this.jobs;
    const byColumns = wasmSplitsByColumns(m, n, this.threads);
    const bounds = jobs.bounds;
    const parts = partitionInto(bounds, byColumns ? n : m, jobs.speeds, byColumns ? WASM_COLUMN_UNIT : WASM_ROW_UNIT);
    if (parts < 2) {
      super.gemm(p);
      return;
    }
    // Each part packs its own share of the operand the parts do not share (see the top of this file). A row
    // split has at least 2·4 rows, never the one-row case that uses A as it lies, so op(A) is then always deferred.
    if (!this.stageGemm(p, byColumns ? DeferPack.B : DeferPack.A, parts)) return;
    const g = this.staged;

    // The job: byte addresses of each worker's part in the staged product (plain writes, published by post).
    const ctrl = jobs.ctrl;
    ctrl[Slot.Kernel] = Kernel.Wasm;
    ctrl[Slot.K] = k;
    ctrl[Slot.Ldc] = g.ldcBytes;
    ctrl[Slot.Accumulate] = g.flags & GEMM_FLAGS.accumulate;
    ctrl[Slot.HasBias] = g.flags & GEMM_FLAGS.bias;
    ctrl[Slot.Pack] = g.deferred;
    ctrl[Slot.PackSrc] = g.src;
    ctrl[Slot.PackRs] = g.rs;
    ctrl[Slot.PackCs] = g.cs;
    jobs.floats[0] = g.alpha;
    const hasBias = (g.flags & GEMM_FLAGS.bias) !== 0;
    for (let w = 0; w < jobs.workers; w++) {
      const part = Slot.Parts + PART_INTS * w;
      if (w + 1 >= parts) {
        ctrl[part + Part.M] = 0; // idle: fewer parts than threads
        continue;
      }
      const s = bounds[w + 1]!,
        e = bounds[w + 2]!;
      ctrl[part + Part.M] = byColumns ? m : e - s;
      ctrl[part + Part.N] = byColumns ? e - s : n;
      ctrl[part + Part.AOff] = byColumns ? g.pa : g.pa + (w + 1) * g.slotBytes; // a row split: its own block for packed rows
      ctrl[part + Part.BOff] = byColumns ? g.pb + s * k * 4 : g.pb;
      ctrl[part + Part.COff] = byColumns ? g.cAddr + s * 4 : g.cAddr + s * g.ldcBytes;
      ctrl[part + Part.BiasOff] = hasBias && byColumns ? g.biasAddr + s * 4 : g.biasAddr;
      ctrl[part + Part.From] = s;
      ctrl[part + Part.To] = e;
    }
    jobs.post();

    // This thread's part: the first rows or columns. Whatever happens here, the job is joined
    // before this call returns or throws: an abandoned job's ack would count against the next.
    const posted = performance.now();
    const w0 = bounds[1]!;
    let ownError: { error: unknown } | undefined;
    try {
      const kx = this.kernels;
      if (byColumns) {
        packColumnsPart(kx, g.deferred, k, g.src, g.rs, g.cs, 0, w0, g.pb);
        gemmPacked(kx, m, w0, k, g.pa, g.pb, g.cAddr, g.ldcBytes, g.alpha, g.biasAddr, g.flags);
      } else gemmRowsPackingA(kx, n, k, g.src, g.rs, g.cs, 0, w0, g.pa, g.pb, g.cAddr, g.ldcBytes, g.alpha, g.biasAddr, g.flags);
    } catch (error) {
      ownError = { error };
    }
    jobs.finish(parts, posted, ownError);
    this.finishGemm();
  }

  /** A window's time loop, its batch rows split between the threads (windowJob), or on this thread alone. */
  protected override runWindow(loop: number, w: AnyWindow): boolean {
    return this.windowJob(loop, w) ?? super.runWindow(loop, w);
  }

  /**
   * One job for a whole time loop: each thread runs recurrent-window.ts's loop over its own batch rows
   * (cut at multiples of 4, sized by the threads' measured speeds), and the threads meet once, at
   * the end, instead of twice per time step. Undefined when the window is not worth sharing (fewer
   * than 8 rows, little work, no workers yet): the caller runs it on this thread; false when it cannot
   * run in the kernels at all (see stageWindow).
   */
  private windowJob(loop: number, w: AnyWindow): boolean | undefined {
    const jobs = this.jobs;
    jobs.checkOpen(WINDOW_OPS[loop] ?? 'window');
    const { T, B, H } = w;
    // multiply-adds per row and step: the mLSTM's H² + 4H², the LSTM's 4H², the mRNN's 2H²
    const perRowStep =
      loop === WindowLoop.MlstmForward || loop === WindowLoop.MlstmBackward
        ? 5 * H * H
        : loop === WindowLoop.LstmForward || loop === WindowLoop.LstmBackward
          ? 4 * H * H
          : 2 * H * H;
    if (jobs.workers === 0 || T * B * perRowStep < PARALLEL_MIN_WORK || !jobs.workersStarted()) return undefined;
    const bounds = jobs.bounds;
    const parts = partitionInto(bounds, B, jobs.speeds, WASM_ROW_UNIT);
    if (parts < 2) return undefined;
    const ctrl = jobs.ctrl;
    if (!this.stageWindow(loop, w, ctrl, WINDOW_AT, parts)) return false;
    ctrl[Slot.Kernel] = Kernel.Window;
    for (let p = 0; p < jobs.workers; p++) {
      const part = Slot.Parts + PART_INTS * p;
      if (p + 1 >= parts) {
        ctrl[part + Part.M] = 0; // idle: fewer parts than threads
        continue;
      }
      ctrl[part + Part.M] = bounds[p + 2]! - bounds[p + 1]!;
      ctrl[part + Part.From] = bounds[p + 1]!;
      ctrl[part + Part.To] = bounds[p + 2]!;
    }
    jobs.post();
    // This thread's rows: the first part. As in gemm: whatever happens here, the job is joined before this returns or throws.
    const posted = performance.now();
    let ownError: { error: unknown } | undefined;
    try {
      runWindowRows(loop, this.kernels, ctrl, WINDOW_AT, 0, bounds[1]!, ctrl[WINDOW_AT + Win.Slots]! >>> 0); // part 0's packing block
    } catch (error) {
      ownError = { error };
    }
    jobs.finish(parts, posted, ownError);
    return true;
  }

  override prepareB(p: PrepareBArgs): PreparedB {
    this.jobs.checkOpen('prepareB');
    return super.prepareB(p);
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

  /** Stops the workers, then ends the backend (its memory may go). Safe to call twice. */
  override close(): void {
    this.jobs.close();
    super.close();
  }
}

/** A transport without workers: ParallelWasmBackend on the calling thread alone. */
export const NO_WORKERS: WorkerTransport = Object.freeze({ workers: 0, send: () => {}, terminate: () => {} });
