import type { Storage } from '../tensor/dtype.js';
import { MR, NC, NR } from '../tensor/kernels/gemm-panels.js';
import { WINDOW_INTS } from '../wasm/recurrent-window.js';
import type { WasmMemory, WasmModule } from '../wasm/runtime.js';

/*
 * What the caller's thread and the GEMM worker threads share (gemm-parallel.ts is the caller's
 * side, gemm-parallel-worker.ts the workers'): the control block layout, the messages that carry
 * shared buffers to the workers, and how a problem is cut into per-thread parts. How the words of
 * the control block are used, step by step, and why that is safe, is job-protocol.ts.
 *
 * Control block: one Int32Array on a SharedArrayBuffer, then float64 slots (alpha, the workers'
 * timings), then one fault-text area per writer. The caller writes a job's fields with plain
 * writes before the Atomics operations that post it, and reads the workers' results after the
 * ones that end it, so every field and every shared operand is ordered by those operations.
 *
 * Messages: shared buffers reach a worker by message (postMessage cannot be avoided for a new
 * SharedArrayBuffer); every message has a sequence number and a job names (SEQ) the number of
 * messages its worker must have applied before starting, so a worker never runs a job with stale
 * buffers and a buffer is never sent twice.
 */

/** Problems with fewer multiply-adds stay on one thread: waking a worker and copying operands costs ~0.1 ms. */
export const PARALLEL_MIN_WORK = 1 << 20;

/** Int32 slots of the control block. The first five are the protocol's words (job-protocol.ts); the rest are the job's fields. */
export const Slot = {
  Generation: 0, // the job number: the caller adds 1 per job, and 1 more to post Exit
  Pending: 1, // workers that have not finished the current job, plus DEAD once anything failed
  Command: 2, // Command.Gemm until close() stores Command.Exit
  Fault: 3, // 0, or 1 + the writer of the first fault report (its text is in that writer's area)
  Started: 4, // workers that have started serving: the caller posts only once all of them have
  Seq: 5, // messages a worker must have applied before running the job
  K: 6,
  RsA: 7, // op(A)(i,p) = A[aOff + i·RsA + p·CsA] in the shared A copy; likewise B
  CsA: 8,
  RsB: 9,
  CsB: 10,
  Ldc: 11, // row stride of the shared C copy
  Accumulate: 12,
  HasBias: 13,
  DtA: 14, // dtypes: 0 = float32, 1 = float64
  DtB: 15,
  DtC: 16,
  DtBias: 17,
  PackedId: 18, // the shared prepared op(B) the workers read instead of B, or −1
  DrillWorker: 19, // a fault drill (FaultDrill in gemm-parallel.ts): 1 + the worker it is for, or 0
  DrillJob: 20, // … the generation from which it fires
  DrillKind: 21, // … DrillKind.*
  DrillMs: 22, // … how long a Stall lasts
  Kernel: 23, // which kernel runs the parts (Kernel.*): the JS kernel on the shared copies, or the wasm kernel in the shared memory
  Pack: 24, // Kernel.Wasm: the operand each part packs itself (DeferPack in wasm/backend.ts: None; A, its rows a block at a time into its AOff; B, its columns)
  PackSrc: 25, // … its unpacked op(X)(0,0), a byte address in the memory
  PackRs: 26, // … and its byte strides between rows and columns of op(X)
  PackCs: 27,
  Parts: 28, // from here, PART_INTS slots per worker (Part.*)
} as const;

/**
 * Per-worker slots, at Slot.Parts + PART_INTS·w: the worker's sub-problem. For Kernel.Js, element
 * offsets into the shared copies; for Kernel.Wasm, byte addresses in the shared wasm memory (of
 * its packed A rows, packed B columns, C and bias; K, Ldc in bytes and Accumulate/HasBias as the
 * kernel's flags are the job's).
 */
export const Part = {
  M: 0, // rows of C it computes (0: nothing to do)
  N: 1, // columns of C it computes
  AOff: 2, // where its op(A) starts in the shared A (wasm: its packed A rows)
  BOff: 3, // where its op(B) starts in the shared B (unused with a prepared op(B); wasm: its packed B panels)
  COff: 4, // where its C starts in the shared C (wasm: in the memory)
  BiasOff: 5,
  J0: 6, // its columns [J0, J1) of the prepared op(B)
  J1: 7,
  From: 8, // Kernel.Wasm: its rows (a row split) or columns (a column split) [From, To) of C, the share of the Pack operand it packs
  To: 9,
} as const;
export const PART_INTS = 10;

export const Command = { Gemm: 0, Exit: 1 } as const;
/**
 * What a job's parts run (Slot.Kernel): a product's parts on the JS kernel over the shared copies or
 * on the wasm kernel in the shared memory; or a window's time loop (wasm/recurrent-window.ts: the one
 * its descriptor at WINDOW_AT names), each part over its batch rows [Part.From, Part.To).
 */
export const Kernel = { Js: 0, Wasm: 1, Window: 2 } as const;
/** What a fault drill makes its worker do when it reaches the drill's job (see FaultDrill in gemm-parallel.ts). */
export const DrillKind = { None: 0, Throw: 1, Terminate: 2, Stall: 3 } as const;
export const MAX_WORKERS = 64;

/**
 * Threads a backend (and the CLI) uses when not told: every core, at most DEFAULT_THREAD_CAP. Beyond
 * that the per-step products of a B = 32 training batch are too small to share well (waking and
 * joining a worker costs more than its part saves), and any count gives the same numbers, so the
 * default only decides how soon. One cap for Node, the web and the CLI.
 */
export const DEFAULT_THREAD_CAP = 4;
export const defaultThreadCount = (cores: number | undefined): number =>
  Number.isInteger(cores) && cores! >= 1 ? Math.min(DEFAULT_THREAD_CAP, cores!) : 1;
/** Where a window job's descriptor (WINDOW_INTS Int32 fields, recurrent-window.ts's Win.*) starts in the control block. */
export const WINDOW_AT = Slot.Parts + PART_INTS * MAX_WORKERS;
export const CONTROL_INTS = WINDOW_AT + WINDOW_INTS;
/**
 * Byte offset of the float64 slots after the Int32 ones (8-byte aligned): [0] the job's alpha,
 * [1 + w] how long worker w took for its part of the last job, in ms of its own clock (the caller
 * balances the next split with it; see ParallelGemm).
 */
export const FLOAT_BYTE = Math.ceil((CONTROL_INTS * 4) / 8) * 8;
export const FLOAT_SLOTS = 1 + MAX_WORKERS;
/**
 * Fault texts, after the float64 slots: one area per writer, each an Int32 byte count and that
 * many bytes of UTF-8. Worker w writes area w; the supervisor thread that watches the workers,
 * SUPERVISOR; the adapter's listeners on the caller's own thread (which run only while it is not
 * blocked in a gemm), ADAPTER. A writer fills its own area, once, before it claims Slot.Fault, so
 * whichever area the claim names is complete by the time the caller reads it (job-protocol.ts).
 */
export const SUPERVISOR = MAX_WORKERS;
export const ADAPTER = MAX_WORKERS + 1;
export const FAULT_TEXT_BYTES = 256;
export const FAULT_TEXT_BYTE = FLOAT_BYTE + 8 * FLOAT_SLOTS;
export const CONTROL_BYTES = FAULT_TEXT_BYTE + FAULT_TEXT_BYTES * (MAX_WORKERS + 2);

/** Writes `text` (cut to fit) into `writer`'s fault-text area: plain writes, published by the FaultReport that follows. */
export function writeFaultText(control: SharedArrayBuffer, writer: number, text: string): void {
  const encoded = new TextEncoder().encode(text);
  const room = FAULT_TEXT_BYTES - 4;
  let length = Math.min(encoded.length, room);
  while (length > 0 && length < encoded.length && (encoded[length]! & 0xc0) === 0x80) length--; // never cut a character in two
  const area = FAULT_TEXT_BYTE + FAULT_TEXT_BYTES * writer;
  new Int32Array(control, area, 1)[0] = length;
  new Uint8Array(control, area + 4, room).set(encoded.subarray(0, length));
}

/** The text in `writer`'s fault-text area (copied out first: TextDecoder refuses shared memory). */
export function readFaultText(control: SharedArrayBuffer, writer: number): string {
  const area = FAULT_TEXT_BYTE + FAULT_TEXT_BYTES * writer;
  const length = Math.max(0, Math.min(FAULT_TEXT_BYTES - 4, new Int32Array(control, area, 1)[0]!));
  return new TextDecoder().decode(new Uint8Array(control, area + 4, length).slice());
}

/** The shared operand buffers (one per role), replaced by larger ones when a job needs more. */
export interface OperandBuffers {
  a: SharedArrayBuffer;
  b: SharedArrayBuffer;
  c: SharedArrayBuffer;
  bias: SharedArrayBuffer;
}

/** Caller → worker. */
export type WorkerMessage =
  | { seq: number; kind: 'operands'; buffers: OperandBuffers }
  /** A prepared op(B) [k,n] packed in `buffer` (float64, the layout of packedBlockViews); repacked in place later. */
  | { seq: number; kind: 'packed'; id: number; buffer: SharedArrayBuffer; k: number; n: number }
  /** The prepared op(B) `id` will not be used again. */
  | { seq: number; kind: 'drop'; id: number }
  /**
   * The wasm kernel module and the shared memory the caller's instance of it runs over: the
   * worker instantiates the same module over the same memory, so every address means the same.
   */
  | { seq: number; kind: 'wasm'; module: WasmModule; memory: WasmMemory };

/** A message before the caller numbers it (the caller's send adds `seq`). */
export type UnnumberedMessage = WorkerMessage extends infer M ? (M extends unknown ? Omit<M, 'seq'> : never) : never;

/** A shared buffer seen with the dtype a job names. */
export interface SharedViews {
  f32: Float32Array;
  f64: Float64Array;
}
export const sharedViews = (buffer: SharedArrayBuffer): SharedViews => ({ f32: new Float32Array(buffer), f64: new Float64Array(buffer) });
export const viewOf = (views: SharedViews, dtype: number): Storage => (dtype === 1 ? views.f64 : views.f32);
export const dtypeCode = (x: Storage): number => (x instanceof Float64Array ? 1 : 0);

/** Relative speeds of the threads that share a problem (the caller's first), or just how many there are (equal speeds). */
export type ThreadWeights = number | readonly number[];

/**
 * Splits [0, size) into contiguous ranges cut at multiples of `unit`, one per thread and sized in
 * proportion to its weight (its measured speed), each at least one unit; fewer ranges (the first
 * threads') when size has fewer units than there are threads. Writes the cut points into
 * `bounds` (range p is [bounds[p], bounds[p + 1])) and returns the number of ranges: the caller
 * keeps one `bounds` for all its calls, so splitting allocates nothing (it runs inside time loops).
 */
export function partitionInto(bounds: Int32Array, size: number, weights: ThreadWeights, unit: number): number {
  const parts = typeof weights === 'number' ? weights : weights.length;
  const units = Math.ceil(size / unit);
  const count = Math.max(1, Math.min(parts, units));
  let total = 0;
  for (let p = 0; p < count; p++) total += typeof weights === 'number' ? 1 : weights[p]!;
  let start = 0; // in units
  let cumulative = 0;
  bounds[0] = 0;
  for (let p = 0; p < count; p++) {
    cumulative += typeof weights === 'number' ? 1 : weights[p]!;
    const left = count - 1 - p; // ranges still to come, one unit each at least
    const end = p === count - 1 ? units : Math.min(units - left, Math.max(start + 1, Math.round((units * cumulative) / total)));
    bounds[p + 1] = Math.min(size, end * unit);
    start = end;
  }
  return count;
}

/**
 * Columns of C are cut at whole NR panels; with a prepared op(B) wider than one column block
 * (NC), at whole column blocks, so each part's panels are a contiguous view of the packed blocks
 * (packedColumns).
 */
export const columnUnit = (n: number, prepared: boolean): number => (prepared && n > NC ? NC : NR);

/**
 * How to cut C between `threads` threads. By rows when C is at least as tall as wide (each thread
 * packs its own rows of A and reads all of op(B)); by columns when it is wider (the recurrent
 * steps: m = B = 32 rows, n = H or 4H) and that gives as many parts: each thread then reads only
 * its panels of op(B), the operand that dominates the traffic, instead of every thread streaming
 * all of it for a few rows.
 */
export function splitsByColumns(m: number, n: number, threads: number, prepared: boolean): boolean {
  if (m >= n) return false;
  return Math.min(threads, Math.ceil(n / columnUnit(n, prepared))) >= Math.min(threads, Math.ceil(m / MR));
}
