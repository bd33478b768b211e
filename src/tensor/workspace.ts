import { allocate, dtypeOf, type DType, type Storage } from './dtype.js';

/**
 * Scratch buffers reused from one computation to the next. The fused recurrent ops need ~25 MB of
 * internal buffers per training window (pre-activations, saved gate values, their gradients); made
 * fresh at every step they became ~45 MB of garbage per step, freed only when V8 gets round to
 * it, and peak memory sat two or three steps of garbage above what was live. Borrowed here and
 * given back when the graph that reads them is released (Tape.clear), the same buffers serve
 * every step.
 *
 * Ownership is explicit: `acquire` hands out a buffer nobody else holds (zero-filled, exactly like
 * `allocate`), `release` takes it back. A buffer still held (say, by a recorded graph that was
 * never run backward) is simply not reused; the pool then allocates. Only exact sizes are reused,
 * and at most `maxFree` idle buffers are kept (the oldest go first), so a stream of ever-new sizes
 * cannot pile up. One workspace per Tape: nothing is shared between tapes, nothing is global.
 */
export class Workspace {
  private readonly idle = new Map<string, Storage[]>();
  private order: Storage[] = []; // idle buffers, oldest first (for eviction)
  private readonly leased = new WeakSet<Storage>();
  /** The float32 buffers taken from `memory` and not yet given back to it (leased or idle). */
  private readonly fromMemory = new Set<Float32Array>();

  /**
   * `memory`: where float32 buffers come from (a Tape passes its backend's allocate/free, so the
   * wasm kernels use them in place); without it, or for float64, ordinary arrays. Memory buffers go
   * back to it when evicted, and all of them when the workspace itself is collected (a graph that
   * was never cleared holds its buffers until then: nothing outside the workspace and the graph's
   * closures, which hold the workspace, points into them).
   */
  constructor(
    readonly maxFree = 32,
    private readonly memory: WorkspaceMemory | null = null,
  ) {
    if (!Number.isInteger(maxFree) || maxFree < 0)
      throw new RangeError(`Workspace: maxFree must be a non-negative integer, got ${maxFree}`);
    if (memory !== null) RETURN_TO_MEMORY.register(this, { memory, buffers: this.fromMemory });
  }

  /** A zero-filled buffer of `length` elements of `dtype`, owned by the caller until released. */
  acquire(dtype: DType, length: number): Storage {
    return this.lend(dtype, length, true);
  }

  /**
   * Like acquire, but a reused buffer keeps whatever it held: for a buffer the caller writes in full
   * before it reads any of it (a product's output, a time loop's per-step rows), where zero-filling
   * would be wasted work (~35 MB per H=256 training window, at ~9 GB/s into shared memory).
   */
  acquireForWrite(dtype: DType, length: number): Storage {
    return this.lend(dtype, length, false);
  }

  private lend(dtype: DType, length: number, zero: boolean): Storage {
    const list = this.idle.get(keyOf(dtype, length));
    const reused = list?.pop();
    let buffer: Storage;
    if (reused !== undefined) {
      this.order.splice(this.order.indexOf(reused), 1);
      if (zero) reused.fill(0);
      buffer = reused;
    } else if (dtype === 'float32' && this.memory !== null) {
      const fresh = this.memory.allocate(length);
      this.fromMemory.add(fresh);
      buffer = fresh;
    } else {
      buffer = allocate(dtype, length);
    }
    this.leased.add(buffer);
    return buffer;
  }

  /** Gives buffers back for reuse; the caller must not touch them afterwards. Releasing one twice, or one not acquired here, throws. */
  release(...buffers: Storage[]): void {
    for (const buffer of buffers) {
      if (!this.leased.has(buffer))
        throw new Error(
          `Workspace.release: a ${dtypeOf(buffer)}[${buffer.length}] buffer that is not on loan from this workspace (released twice?)`,
        );
      this.leased.delete(buffer);
      if (this.maxFree === 0) continue;
      const key = keyOf(dtypeOf(buffer), buffer.length);
      let list = this.idle.get(key);
      if (list === undefined) this.idle.set(key, (list = []));
      list.push(buffer);
      this.order.push(buffer);
      if (this.order.length > this.maxFree) {
        const oldest = this.order.shift()!;
        const oldList = this.idle.get(keyOf(dtypeOf(oldest), oldest.length))!;
        oldList.splice(oldList.indexOf(oldest), 1);
        if (oldest instanceof Float32Array && this.fromMemory.delete(oldest)) this.memory!.free(oldest);
      }
    }
  }

  /** Idle buffers kept for reuse, and their total bytes. */
  get idleStats(): { buffers: number; bytes: number } {
    return { buffers: this.order.length, bytes: this.order.reduce((s, b) => s + b.byteLength, 0) };
  }
}

const keyOf = (dtype: DType, length: number): string => `${dtype}:${length}`;

/** Where a Workspace takes its float32 buffers (Backend.allocate and Backend.free). */
export interface WorkspaceMemory {
  allocate(length: number): Float32Array;
  free(array: Float32Array): void;
}

/**
 * Gives a collected workspace's memory buffers back (held: the memory and that workspace's set, not
 * the workspace). A finaliser that threw would be an uncaught exception at some later moment, so a
 * buffer the memory refuses (its backend already gone, say) is left to it.
 */
const RETURN_TO_MEMORY = new FinalizationRegistry<{ memory: WorkspaceMemory; buffers: Set<Float32Array> }>(({ memory, buffers }) => {
  for (const buffer of buffers) {
    try {
      memory.free(buffer);
    } catch {
      // nothing to do: see above
    }
  }
  buffers.clear();
});
