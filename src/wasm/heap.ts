import { PAGE_BYTES, wasmApi, type WasmMemory } from './runtime.js';

/**
 * The wasm backend's linear memory and a small allocator over it. Kernels address memory by byte
 * offset; everything they read or write (packed operands, scratch copies of JS arrays, and
 * arrays allocated here for callers) lives in blocks handed out by `alloc`.
 *
 * Layout: [0, 64) is never allocated (address 0 means "none"); [64, size − TAIL) is the heap;
 * the last TAIL bytes are never allocated either, so a kernel's vector load that runs up to 28
 * bytes past the end of an operand (a ragged tile's C row or bias, the last partial vector of a
 * gate row) stays inside the memory whatever block the operand is in.
 *
 * Shared or not: a shared WebAssembly.Memory (SharedArrayBuffer-backed; needs a maximum) never
 * moves or detaches when it grows: views made before a grow stay valid (they simply do not see the
 * new pages), so arrays allocated here can be handed to callers and kept across calls, and phase
 * 2's worker threads can share it. A non-shared memory detaches its ArrayBuffer on every grow, so
 * then `allocFloat32` returns ordinary arrays (operands are copied in per call) and only the
 * backend's own views, refreshed after each grow, point into it.
 */

const RESERVED_LOW = 64;
const TAIL = 64;
/** Allocation granularity and alignment: a cache line, so packed panels start on one. */
const ALIGN = 64;

export interface HeapOptions {
  /** Initial size in bytes (rounded up to pages); default 16 MiB. */
  initialBytes?: number;
  /** Largest size in bytes; default 1 GiB. A shared memory reserves this much address space up front. */
  maximumBytes?: number;
  /** Share the memory (needed by views that outlive a grow, and by threads); default: when the runtime allows it. */
  shared?: boolean;
}

interface Block {
  addr: number;
  size: number;
}

export class WasmHeap {
  readonly memory: WasmMemory;
  readonly shared: boolean;
  readonly maximumPages: number;
  /** Float32 view of the whole memory (refreshed after every grow). */
  f32: Float32Array;
  /** Every buffer object the memory has had: for a shared memory they all alias address 0 on. */
  private readonly buffers = new Set<ArrayBufferLike>();
  /** Free ranges, sorted by address, never adjacent (merged on free). */
  private free: Block[] = [];
  private readonly used = new Map<number, number>(); // address → size

  constructor(options: HeapOptions = {}) {
    const api = wasmApi();
    if (api === undefined) throw new Error('wasm backend: this runtime has no WebAssembly');
    const initialPages = Math.max(1, Math.ceil((options.initialBytes ?? 16 * 2 ** 20) / PAGE_BYTES));
    this.maximumPages = Math.min(65536, Math.ceil((options.maximumBytes ?? 2 ** 30) / PAGE_BYTES));
    if (initialPages > this.maximumPages) {
      throw new RangeError(`wasm backend: initialBytes ${options.initialBytes} exceeds maximumBytes ${options.maximumBytes}`);
    }
    const wantShared = options.shared ?? typeof SharedArrayBuffer !== 'undefined';
    let memory: WasmMemory | undefined;
    if (wantShared) {
      try {
        memory = new api.Memory({ initial: initialPages, maximum: this.maximumPages, shared: true });
      } catch (e) {
        if (options.shared === true) throw new Error(`wasm backend: cannot create a shared memory here (${String(e)})`, { cause: e });
      }
    }
    this.shared = memory !== undefined;
    this.memory = memory ?? new api.Memory({ initial: initialPages, maximum: this.maximumPages });
    this.f32 = new Float32Array(this.memory.buffer);
    this.buffers.add(this.memory.buffer);
    this.free.push({ addr: RESERVED_LOW, size: this.heapEnd() - RESERVED_LOW });
  }

  /** Bytes of memory now. */
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  /** Bytes handed out and not freed. */
  get allocatedBytes(): number {
    let total = 0;
    for (const size of this.used.values()) total += size;
    return total;
  }

  /** A block of at least `bytes` bytes, 64-byte aligned, growing the memory if needed. Contents are unspecified. */
  alloc(bytes: number): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let i = this.free.findIndex((b) => b.size >= size);
    if (i < 0) {
      this.grow(size);
      i = this.free.findIndex((b) => b.size >= size);
    }
    const block = this.free[i]!;
    const addr = block.addr;
    if (block.size === size) this.free.splice(i, 1);
    else {
      block.addr += size;
      block.size -= size;
    }
    this.used.set(addr, size);
    return addr;
  }

  /** Returns a block from alloc. */
  release(addr: number): void {
    const size = this.used.get(addr);
    if (size === undefined) throw new Error(`wasm heap: address ${addr} is not an allocated block (freed twice?)`);
    this.used.delete(addr);
    let i = 0;
    while (i < this.free.length && this.free[i]!.addr < addr) i++;
    this.free.splice(i, 0, { addr, size });
    // Merge with the following, then the preceding free range.
    const next = this.free[i + 1];
    if (next !== undefined && addr + size === next.addr) {
      this.free[i]!.size += next.size;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev !== undefined && prev.addr + prev.size === addr) {
      prev.size += this.free[i]!.size;
      this.free.splice(i, 1);
    }
  }

  /**
   * A zero-filled float32 array of `length` elements inside the memory (shared memory only: it
   * stays valid when the memory grows), which kernels then read and write in place, without the
   * per-call copies of an ordinary array. Give it back with freeFloat32. Returns null when the
   * memory is not shared (such a view would be detached by the next grow).
   */
  allocFloat32(length: number): Float32Array | null {
    if (!this.shared) return null;
    const addr = this.alloc(Math.max(1, length) * 4);
    const view = new Float32Array(this.memory.buffer, addr, length);
    view.fill(0);
    return view;
  }

  /** Gives back an array from allocFloat32 (the caller must not touch it afterwards). */
  freeFloat32(view: Float32Array): void {
    if (!this.contains(view) || !this.used.has(view.byteOffset)) {
      throw new Error('wasm heap: freeFloat32 takes an array returned by allocFloat32 of this backend');
    }
    this.release(view.byteOffset);
  }

  /** Whether x's elements live in this memory (then x.byteOffset is their wasm address). */
  contains(x: ArrayBufferView): boolean {
    return this.buffers.has(x.buffer);
  }

  /** Grows the memory so that a free block of `bytes` exists at its end. */
  private grow(bytes: number): void {
    const oldEnd = this.heapEnd();
    const last = this.free[this.free.length - 1];
    const tailFree = last !== undefined && last.addr + last.size === oldEnd ? last.size : 0;
    const needPages = Math.ceil((bytes - tailFree) / PAGE_BYTES);
    const currentPages = this.byteLength / PAGE_BYTES;
    // Grow by at least a quarter of the current size, so a sequence of growing requests is amortised.
    const pages = Math.min(Math.max(needPages, Math.ceil(currentPages / 4)), this.maximumPages - currentPages);
    if (pages < needPages) {
      throw new RangeError(
        `wasm backend: out of memory: ${bytes} more bytes would exceed the memory's maximum of ${this.maximumPages * PAGE_BYTES} bytes ` +
          `(${this.allocatedBytes} allocated; raise maximumBytes)`,
      );
    }
    this.memory.grow(pages);
    this.f32 = new Float32Array(this.memory.buffer);
    if (!this.shared) this.buffers.clear(); // the old buffer is detached
    this.buffers.add(this.memory.buffer);
    const newEnd = this.heapEnd();
    if (tailFree > 0) last!.size += newEnd - oldEnd;
    else this.free.push({ addr: oldEnd, size: newEnd - oldEnd });
  }

  private heapEnd(): number {
    return this.byteLength - TAIL;
  }
}
