import type { PrepareBArgs, PreparedB } from '../backend.js';
import type { Storage } from '../dtype.js';
import { formatShape } from '../shape.js';
import { checkPrepareBArgs } from './gemm-check.js';
import { copyPackedB, KC, NC, NR, packB } from './gemm-panels.js';

/**
 * op(B) packed once for the blocked kernel. In the recurrent time loops B is a weight (whm, wmh,
 * wh) that stays the same for all T steps while A (one step's h or m, only B = 32 rows) changes,
 * so packing B on every call re-did the same strided, float32→float64 widening copy T times;
 * with m = 32 each packed element is used only 32 times, so that copy was ~6% of the gemm.
 * Prepared once, each call only memcpys a block back into the kernel's scratch panel (the
 * micro-kernel must keep reading its module-constant panel: reading an array passed in measured
 * ~17% slower, see gemm-panels.ts).
 *
 * The blocks are exactly what packB writes for the same (pc, jc) block, so a gemm with the
 * prepared operand is bit-identical to one without.
 */
export class BlockedPackedB implements PreparedB, PackedBlocks {
  /**
   * One block per (jc, pc) of the driver, jc outer (steps of NC), pc inner (steps of KC): block
   * jb·kBlocks + pb is op(B)[pc:pc+kc, jc:jc+nc] as ⌈nc/NR⌉ panels [kc,NR], views into one buffer.
   */
  readonly blocks: readonly Float64Array[];
  /** ⌈k/KC⌉: blocks per column block. */
  readonly kBlocks: number;
  /** Column views made by `columns` (a parallel backend asks for the same few ranges at every step). */
  private readonly columnViews = new Map<number, PackedBlocks>();

  constructor(
    readonly k: number,
    readonly n: number,
    /** The operand and addressing it was packed from, so a gemm can refuse a mismatched one. */
    readonly source: Storage,
    readonly bOffset: number,
    readonly ldb: number,
    readonly transB: boolean,
    /** Where to pack (packedLength(k, n) elements, e.g. shared memory workers read); a new array by default. */
    storage: Float64Array = new Float64Array(packedLength(k, n)),
  ) {
    if (storage.length < packedLength(k, n)) {
      throw new RangeError(
        `prepareB: storage of ${storage.length} elements is too small for op(B) ${formatShape([k, n])} (${packedLength(k, n)} needed)`,
      );
    }
    const rs = transB ? 1 : ldb;
    const cs = transB ? ldb : 1;
    const blocks = packedBlockViews(storage, k, n);
    let block = 0;
    for (let jc = 0; jc < n; jc += NC) {
      const nc = Math.min(NC, n - jc);
      for (let pc = 0; pc < k; pc += KC) {
        const kc = Math.min(KC, k - pc);
        packB(source, bOffset + pc * rs + jc * cs, rs, cs, kc, nc);
        copyPackedB(blocks[block]!, 0, blocks[block]!.length);
        block++;
      }
    }
    this.blocks = blocks;
    this.kBlocks = Math.ceil(k / KC);
  }

  /** The blocks of op(B)[:, j0:j1) (see packedColumns), made once per range and then reused. */
  columns(j0: number, j1: number): PackedBlocks {
    return cachedColumns(this, this.k, this.n, j0, j1, this.columnViews);
  }

  /**
   * Throws unless this was prepared from the same b, offset, ldb and transB for op(B) [k,n]:
   * using a pack of another matrix would silently compute a different product.
   */
  check(fn: string, k: number, n: number, b: Storage, bOffset: number, ldb: number, transB: boolean): void {
    checkPreparedFor(fn, this, k, n, b, bOffset, ldb, transB);
  }
}

/** What a prepared op(B) was packed from: its shape and the addressing of its source matrix. */
export interface PreparedAddressing {
  readonly k: number;
  readonly n: number;
  readonly source: Storage;
  readonly bOffset: number;
  readonly ldb: number;
  readonly transB: boolean;
}

/**
 * Throws unless `prepared` was packed from the same b, offset, ldb and transB for op(B) [k,n]
 * (every backend's prepared operands: using a pack of another matrix would silently compute a
 * different product).
 */
export function checkPreparedFor(
  fn: string,
  prepared: PreparedAddressing,
  k: number,
  n: number,
  b: Storage,
  bOffset: number,
  ldb: number,
  transB: boolean,
): void {
  const x = prepared;
  if (x.k !== k || x.n !== n || x.source !== b || x.bOffset !== bOffset || x.ldb !== ldb || x.transB !== transB) {
    throw new RangeError(
      `${fn}: packedB was prepared for op(B) ${formatShape([x.k, x.n])} (bOffset ${x.bOffset}, ldb ${x.ldb}, ` +
        `transB ${x.transB}) from ${x.source === b ? 'this' : 'another'} b, but the call has op(B) ${formatShape([k, n])} ` +
        `(bOffset ${bOffset}, ldb ${ldb}, transB ${transB})`,
    );
  }
}

/** Columns of a packed block: nc rounded up to whole NR panels (packB zero-pads the last). */
const paddedWidth = (nc: number): number => Math.ceil(nc / NR) * NR;

/** What the blocked driver reads of a prepared op(B): its blocks, in the driver's (jc, pc) order. */
export interface PackedBlocks {
  readonly blocks: readonly Float64Array[];
}

/** Float64 elements of op(B) [k,n] packed: every column block rounds its width up to whole NR panels. */
export function packedLength(k: number, n: number): number {
  let total = 0;
  for (let jc = 0; jc < n; jc += NC) total += k * paddedWidth(Math.min(NC, n - jc));
  return total;
}

/**
 * The (jc, pc) blocks of op(B) [k,n] packed into `storage` from index 0, as views: the layout
 * BlockedPackedB writes, rebuilt wherever the same memory is read (a worker thread given it).
 */
export function packedBlockViews(storage: Float64Array, k: number, n: number): Float64Array[] {
  const blocks: Float64Array[] = [];
  let off = 0;
  for (let jc = 0; jc < n; jc += NC) {
    const width = paddedWidth(Math.min(NC, n - jc));
    for (let pc = 0; pc < k; pc += KC) {
      const len = Math.min(KC, k - pc) * width;
      blocks.push(storage.subarray(off, off + len));
      off += len;
    }
  }
  return blocks;
}

/**
 * packedColumns of `whole` (op(B) [k,n]), made once per range and kept in `cache`: a thread asks
 * for the same few ranges at every step. The whole range is `whole` itself.
 */
export function cachedColumns(
  whole: PackedBlocks,
  k: number,
  n: number,
  j0: number,
  j1: number,
  cache: Map<number, PackedBlocks>,
): PackedBlocks {
  if (j0 === 0 && j1 === n) return whole;
  const key = j0 * (n + 1) + j1;
  let view = cache.get(key);
  if (view === undefined) {
    view = packedColumns(whole.blocks, k, n, j0, j1);
    cache.set(key, view);
  }
  return view;
}

/**
 * The blocks of the packed op(B)[:, j0:j1) as a gemm over those n' = j1 − j0 columns would pack
 * them, without copying: a thread computing C[:, j0:j1) reads only its own panels. The driver
 * cuts its n' columns into blocks of NC from j0, so the cut must fall on the original layout:
 * j0 on a panel (multiple of NR) when op(B) is a single column block (n ≤ NC), else on a column
 * block (multiple of NC); j1 likewise or j1 = n. Panels are contiguous within a block, so each
 * view is a subarray.
 */
export function packedColumns(blocks: readonly Float64Array[], k: number, n: number, j0: number, j1: number): PackedBlocks {
  const unit = n <= NC ? NR : NC;
  if (!(j0 >= 0 && j0 < j1 && j1 <= n && j0 % unit === 0 && (j1 % unit === 0 || j1 === n))) {
    throw new RangeError(
      `packedColumns: columns [${j0}, ${j1}) of a packed op(B) ${formatShape([k, n])} must be cut at multiples of ${unit}`,
    );
  }
  const kBlocks = Math.ceil(k / KC);
  if (n > NC) return { blocks: blocks.slice((j0 / NC) * kBlocks, Math.ceil(j1 / NC) * kBlocks) };
  const views: Float64Array[] = [];
  for (let pb = 0; pb < kBlocks; pb++) {
    const kc = Math.min(KC, k - pb * KC);
    views.push(blocks[pb]!.subarray(j0 * kc, (j0 + paddedWidth(j1 - j0)) * kc));
  }
  return { blocks: views };
}

/** Backend.prepareB of the blocked kernel: validates like gemm, then packs every block of op(B). */
export function prepareBlockedB(p: PrepareBArgs): BlockedPackedB {
  checkPrepareBArgs(p, 'prepareB');
  const transB = p.transB ?? false;
  return new BlockedPackedB(p.k, p.n, p.b, p.bOffset ?? 0, p.ldb ?? (transB ? p.k : p.n), transB);
}
