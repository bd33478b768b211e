import { gemmBlockedStrided } from '../tensor/kernels/gemm-blocked.js';
import {
  CONTROL_INTS,
  DrillKind,
  Kernel,
  FLOAT_BYTE,
  FLOAT_SLOTS,
  Part,
  PART_INTS,
  sharedViews,
  Slot,
  viewOf,
  WINDOW_AT,
  type SharedViews,
  type WorkerMessage,
} from './gemm-parallel-protocol.js';
import { reportFault, SpinningControl, WorkerProtocol, WorkerStep } from './job-protocol.js';
import { cachedColumns, packedBlockViews, type PackedBlocks } from '../tensor/kernels/gemm-prepared.js';
import { DeferPack, gemmPacked, gemmRowsPackingA, packColumnsPart } from '../wasm/gemm-driver.js';
import { MEMORY_IMPORT, type KernelExports } from '../wasm/kernel-module.js';
import { runWindowRows, Win } from '../wasm/recurrent-window.js';
import { wasmApi } from '../wasm/runtime.js';

/*
 * The worker's side of the parallel GEMM (runtime-neutral: only SharedArrayBuffer and Atomics).
 * A runtime adapter starts the thread and passes a way to read the next message synchronously
 * (Node: receiveMessageOnPort; the thread never returns to its event loop while serving).
 */

/** A prepared op(B) a worker can read: its packed blocks and the column views asked of it. */
interface SharedPacked {
  k: number;
  n: number;
  blocks: Float64Array[];
  columns: Map<number, PackedBlocks>;
}

/** What one worker holds between jobs: the newest operand buffers and the prepared op(B)s it was sent. */
class WorkerBuffers {
  applied = 0; // sequence number of the last message applied
  a?: SharedViews;
  b?: SharedViews;
  c?: SharedViews;
  bias?: SharedViews;
  readonly packed = new Map<number, SharedPacked>();
  /** This thread's instance of the caller's wasm kernel module, over the caller's shared memory. */
  wasm?: KernelExports;

  apply(message: WorkerMessage): void {
    if (message.kind === 'operands') {
      const { a, b, c, bias } = message.buffers;
      this.a = sharedViews(a);
      this.b = sharedViews(b);
      this.c = sharedViews(c);
      this.bias = sharedViews(bias);
    } else if (message.kind === 'packed') {
      const { k, n } = message;
      this.packed.set(message.id, { k, n, blocks: packedBlockViews(new Float64Array(message.buffer), k, n), columns: new Map() });
    } else if (message.kind === 'wasm') {
      const api = wasmApi();
      if (api === undefined) throw new Error('gemm worker: this thread has no WebAssembly');
      const imports = { [MEMORY_IMPORT.module]: { [MEMORY_IMPORT.field]: message.memory } };
      this.wasm = new api.Instance(message.module, imports).exports as unknown as KernelExports;
    } else {
      this.packed.delete(message.id);
    }
    this.applied = message.seq;
  }

  /** Columns [j0, j1) of prepared op(B) `id` (views made once per range). */
  packedColumns(id: number, j0: number, j1: number): PackedBlocks {
    const p = this.packed.get(id);
    if (p === undefined) throw new Error(`gemm worker: prepared op(B) #${id} was never received (or was dropped)`);
    return cachedColumns(p, p.k, p.n, j0, j1, p.columns);
  }
}

/** How a runtime adapter helps a GemmJobServer: optional. */
export interface JobServerHooks {
  /**
   * Asks whoever started this thread to terminate it (a 'terminate' fault drill; Node posts to
   * the supervisor). Without it, that drill throws in the part instead.
   */
  requestTermination?(): void;
}

/**
 * How long a worker spins for the next job before it sleeps in Atomics.wait (ms). In a recurrent time
 * loop the caller posts a product every ~50-300 µs with some gate arithmetic between; a worker that
 * slept after each part took a futex wake-up (~50-100 µs) at every one, which cost a third of the
 * second thread's gain (bench: 32×256×1024, B prepared, 30 µs between calls, two threads: 285 → 206 µs
 * per product). Longer gaps (the loss, Adam) end in a sleep.
 */
export const WORKER_SPIN_MS = 0.5;

/**
 * One worker's end of the protocol (WorkerProtocol in job-protocol.ts), written so that any
 * runtime can drive it: `serve` blocks in Atomics.wait for jobs and runs them until told to exit,
 * but returns 'message' when a job needs a message this worker has not applied yet; the adapter
 * then delivers messages (`apply`) and calls `serve` again, which resumes that job. Node reads the
 * port synchronously (receiveMessageOnPort) without leaving `serve`'s caller; a browser worker
 * returns to its event loop and resumes from onmessage. A part that throws is reported as a fault
 * (the caller's gemm throws GemmWorkerFault and closes the backend) and ends the serving: 'exit'.
 */
export class GemmJobServer {
  private readonly ctrl: Int32Array;
  private readonly mem: SpinningControl;
  private readonly floats: Float64Array; // [0] alpha, [1 + worker] this worker's time for its last part
  private readonly buffers = new WorkerBuffers();
  private readonly protocol = new WorkerProtocol();
  private drilled = false;

  constructor(
    private readonly control: SharedArrayBuffer,
    private readonly worker: number,
    private readonly hooks: JobServerHooks = {},
  ) {
    this.ctrl = new Int32Array(control, 0, CONTROL_INTS);
    this.mem = new SpinningControl(this.ctrl, WORKER_SPIN_MS);
    this.floats = new Float64Array(control, FLOAT_BYTE, FLOAT_SLOTS);
  }

  /** Applies the next message sent to this worker (in the order sent). */
  apply(message: WorkerMessage): void {
    this.buffers.apply(message);
  }

  /** Serves jobs until Command.Exit or a fault ('exit') or until the current job waits for a message ('message'). */
  serve(): 'exit' | 'message' {
    for (;;) {
      switch (this.protocol.step(this.mem, this.buffers.applied)) {
        case WorkerStep.Next:
          break;
        case WorkerStep.Receive:
          return 'message';
        case WorkerStep.Run:
          if (!this.run()) return 'exit';
          break;
        case WorkerStep.Exit:
          return 'exit';
        default:
          this.fail(`gemm worker ${this.worker + 1} saw job ${this.protocol.job} after job ${this.protocol.last} (a protocol error)`);
          return 'exit';
      }
    }
  }

  /** Reports `text` as this worker's fault (the caller's gemm throws it); the thread should stop serving. */
  fail(text: string): void {
    reportFault(this.control, this.worker, text);
  }

  /** Runs this worker's part of the current job; false if it threw (reported as a fault). */
  private run(): boolean {
    const started = performance.now();
    try {
      this.drill();
      const kernel = this.ctrl[Slot.Kernel];
      if (kernel === Kernel.Wasm) runWasmPart(this.ctrl, this.floats[0]!, this.buffers, this.worker);
      else if (kernel === Kernel.Window) runWindowPart(this.ctrl, this.buffers, this.worker);
      else runPart(this.ctrl, this.floats[0]!, this.buffers, this.worker);
    } catch (error) {
      this.fail(`gemm worker ${this.worker + 1} threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      return false;
    }
    this.floats[1 + this.worker] = performance.now() - started; // published by the ack (Atomics.sub)
    this.protocol.ran();
    return true;
  }

  /** A fault drill armed for this worker and reached by this job (see FaultDrill in gemm-parallel.ts); fires once. */
  private drill(): void {
    const ctrl = this.ctrl;
    if (this.drilled || ctrl[Slot.DrillWorker] !== this.worker + 1 || this.protocol.job < ctrl[Slot.DrillJob]!) return;
    this.drilled = true;
    const kind = ctrl[Slot.DrillKind];
    const nap = new Int32Array(new SharedArrayBuffer(4));
    if (kind === DrillKind.Stall) {
      Atomics.wait(nap, 0, 0, ctrl[Slot.DrillMs]); // descheduled for a while: the caller must simply wait
    } else if (kind === DrillKind.Terminate && this.hooks.requestTermination) {
      this.hooks.requestTermination();
      Atomics.wait(nap, 0, 0); // mid-part, until terminated
    } else if (kind === DrillKind.Throw || kind === DrillKind.Terminate) {
      throw new Error(`fault drill (${kind === DrillKind.Throw ? 'throw' : 'terminate, with no one to ask'}) at job ${this.protocol.job}`);
    }
  }
}

/**
 * Serves jobs on `control` as worker number `worker` until Command.Exit, for runtimes that can
 * read messages synchronously: `receive` returns the next message sent to this worker, or
 * undefined when none is waiting (the thread then sleeps 1 ms: the message is in flight). An
 * exception outside a part (a message that cannot be applied) is reported as this worker's fault.
 */
export function serveGemmJobs(
  control: SharedArrayBuffer,
  worker: number,
  receive: () => WorkerMessage | undefined,
  hooks: JobServerHooks = {},
): void {
  const server = new GemmJobServer(control, worker, hooks);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  try {
    while (server.serve() === 'message') {
      const next = receive();
      if (next) server.apply(next);
      else Atomics.wait(nap, 0, 0, 1);
    }
  } catch (error) {
    server.fail(`gemm worker ${worker + 1} failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  }
}

/** This worker's part of the job: C[M,N] of its rows or columns, in the shared copies. */
function runPart(ctrl: Int32Array, alpha: number, buffers: WorkerBuffers, worker: number): void {
  const part = Slot.Parts + PART_INTS * worker;
  const m = ctrl[part + Part.M]!,
    n = ctrl[part + Part.N]!;
  if (m === 0 || n === 0) return;
  const { a, b, c, bias } = buffers;
  if (!a || !b || !c || !bias) throw new Error('gemm worker: a job arrived before the operand buffers');
  const packedId = ctrl[Slot.PackedId]!;
  const packed = packedId >= 0 ? buffers.packedColumns(packedId, ctrl[part + Part.J0]!, ctrl[part + Part.J1]!) : undefined;
  gemmBlockedStrided(
    m,
    n,
    ctrl[Slot.K]!,
    viewOf(a, ctrl[Slot.DtA]!),
    ctrl[part + Part.AOff]!,
    ctrl[Slot.RsA]!,
    ctrl[Slot.CsA]!,
    viewOf(b, ctrl[Slot.DtB]!),
    ctrl[part + Part.BOff]!,
    ctrl[Slot.RsB]!,
    ctrl[Slot.CsB]!,
    viewOf(c, ctrl[Slot.DtC]!),
    ctrl[part + Part.COff]!,
    ctrl[Slot.Ldc]!,
    alpha,
    ctrl[Slot.Accumulate] === 1,
    ctrl[Slot.HasBias] === 1 ? viewOf(bias, ctrl[Slot.DtBias]!) : undefined,
    ctrl[part + Part.BiasOff]!,
    packed,
  );
}

/**
 * This worker's part of a wasm job: rows or columns of a product the caller staged in the shared
 * memory (packed A, packed B, C, bias), computed by this thread's instance of the same kernel
 * module at the addresses the caller wrote (gemmPacked, as the caller computes its own part).
 */
function runWasmPart(ctrl: Int32Array, alpha: number, buffers: WorkerBuffers, worker: number): void {
  const part = Slot.Parts + PART_INTS * worker;
  const m = ctrl[part + Part.M]!,
    n = ctrl[part + Part.N]!;
  if (m === 0 || n === 0) return;
  const kx = buffers.wasm;
  if (kx === undefined) throw new Error('gemm worker: a wasm job arrived before the kernel module');
  const flags = ctrl[Slot.Accumulate]! | ctrl[Slot.HasBias]!;
  const addr = (slot: number): number => ctrl[part + slot]! >>> 0;
  const k = ctrl[Slot.K]!;
  const pack = ctrl[Slot.Pack]!;
  const src = ctrl[Slot.PackSrc]! >>> 0,
    rs = ctrl[Slot.PackRs]!,
    cs = ctrl[Slot.PackCs]!;
  const from = ctrl[part + Part.From]!,
    to = ctrl[part + Part.To]!;
  if (pack === DeferPack.A) {
    // AOff is this part's own block for packed rows; COff is C(from, 0).
    gemmRowsPackingA(
      kx,
      n,
      k,
      src,
      rs,
      cs,
      from,
      to,
      addr(Part.AOff),
      addr(Part.BOff),
      addr(Part.COff),
      ctrl[Slot.Ldc]!,
      alpha,
      addr(Part.BiasOff),
      flags,
    );
    return;
  }
  packColumnsPart(kx, pack, k, src, rs, cs, from, to, addr(Part.BOff));
  gemmPacked(kx, m, n, k, addr(Part.AOff), addr(Part.BOff), addr(Part.COff), ctrl[Slot.Ldc]!, alpha, addr(Part.BiasOff), flags);
}

/**
 * This worker's rows [Part.From, Part.To) of a window job (Kernel.Window): the time loop of
 * recurrent-window.ts that the descriptor at WINDOW_AT names, packing into its own block (part w + 1:
 * the caller runs part 0). Part.M = 0: no rows for it.
 */
function runWindowPart(ctrl: Int32Array, buffers: WorkerBuffers, worker: number): void {
  const part = Slot.Parts + PART_INTS * worker;
  if (ctrl[part + Part.M] === 0) return;
  const kx = buffers.wasm;
  if (kx === undefined) throw new Error('gemm worker: a window job arrived before the kernel module');
  const slot = (ctrl[WINDOW_AT + Win.Slots]! >>> 0) + (worker + 1) * ctrl[WINDOW_AT + Win.SlotBytes]!;
  runWindowRows(ctrl[WINDOW_AT + Win.Loop]!, kx, ctrl, WINDOW_AT, ctrl[part + Part.From]!, ctrl[part + Part.To]!, slot);
}
