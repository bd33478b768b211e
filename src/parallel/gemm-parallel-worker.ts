import { gemmBlockedStrided } from '../tensor/kernels/gemm-blocked.js';
import {
  Command,
  CONTROL_INTS,
  FLOAT_BYTE,
  FLOAT_SLOTS,
  Part,
  PART_INTS,
  sharedViews,
  Slot,
  viewOf,
  type SharedViews,
  type WorkerMessage,
} from './gemm-parallel-protocol.js';
import { cachedColumns, packedBlockViews, type PackedBlocks } from '../tensor/kernels/gemm-prepared.js';

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

/**
 * One worker's end of the protocol, written so that any runtime can drive it: `serve` blocks in
 * Atomics.wait for jobs and runs them until told to exit, but returns 'message' when a job needs
 * a message this worker has not applied yet; the adapter then delivers messages (`apply`) and
 * calls `serve` again, which resumes that job. Node reads the port synchronously
 * (receiveMessageOnPort) without leaving `serve`'s caller; a browser worker returns to its event
 * loop and resumes from onmessage.
 */
export class GemmJobServer {
  private readonly ctrl: Int32Array;
  private readonly floats: Float64Array; // [0] alpha, [1 + worker] this worker's time for its last part
  private readonly buffers = new WorkerBuffers();
  private seen = 0; // the generation the control block was created with: a job posted before this thread started is not missed
  private inJob = false;

  constructor(
    control: SharedArrayBuffer,
    private readonly worker: number,
  ) {
    this.ctrl = new Int32Array(control, 0, CONTROL_INTS);
    this.floats = new Float64Array(control, FLOAT_BYTE, FLOAT_SLOTS);
  }

  /** Applies the next message sent to this worker (in the order sent). */
  apply(message: WorkerMessage): void {
    this.buffers.apply(message);
  }

  /** Serves jobs until Command.Exit ('exit') or until the current job waits for a message ('message'). */
  serve(): 'exit' | 'message' {
    const ctrl = this.ctrl;
    for (;;) {
      if (!this.inJob) {
        Atomics.wait(ctrl, Slot.Generation, this.seen);
        this.seen = Atomics.load(ctrl, Slot.Generation);
        if (ctrl[Slot.Command] === Command.Exit) return 'exit';
        this.inJob = true;
      }
      if (this.buffers.applied < ctrl[Slot.Seq]!) return 'message';
      const started = performance.now();
      try {
        runPart(ctrl, this.floats[0]!, this.buffers, this.worker);
      } catch (error) {
        // Reported to the caller through the Error slot (its gemm throws); this thread keeps serving.
        Atomics.store(ctrl, Slot.Error, 1);
        console.error(`gemm worker ${this.worker}:`, error);
      }
      this.floats[1 + this.worker] = performance.now() - started; // published by the Atomics.sub below
      this.inJob = false;
      if (Atomics.sub(ctrl, Slot.Pending, 1) === 1) Atomics.notify(ctrl, Slot.Pending);
    }
  }
}

/**
 * Serves jobs on `control` as worker number `worker` until Command.Exit, for runtimes that can
 * read messages synchronously: `receive` returns the next message sent to this worker, or
 * undefined when none is waiting (the thread then sleeps 1 ms: the message is in flight).
 */
export function serveGemmJobs(control: SharedArrayBuffer, worker: number, receive: () => WorkerMessage | undefined): void {
  const server = new GemmJobServer(control, worker);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (server.serve() === 'message') {
    const next = receive();
    if (next) server.apply(next);
    else Atomics.wait(nap, 0, 0, 1);
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
