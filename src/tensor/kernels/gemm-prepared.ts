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
export class BlockedPackedB implements PreparedB {
  /**
   * One block per (jc, pc) of the driver, jc outer (steps of NC), pc inner (steps of KC): block
   * jb·kBlocks + pb is op(B)[pc:pc+kc, jc:jc+nc] as ⌈nc/NR⌉ panels [kc,NR], views into one buffer.
   */
  readonly blocks: readonly Float64Array[];
  /** ⌈k/KC⌉: blocks per column block. */
  readonly kBlocks: number;

  constructor(
    readonly k: number,
    readonly n: number,
    /** The operand and addressing it was packed from, so a gemm can refuse a mismatched one. */
    readonly source: Storage,
    readonly bOffset: number,
    readonly ldb: number,
    readonly transB: boolean,
  ) {
    const rs = transB ? 1 : ldb;
    const cs = transB ? ldb : 1;
    const kBlocks = Math.ceil(k / KC);
    const blocks: Float64Array[] = [];
    // Total size: every column block rounds its width up to whole NR panels.
    let total = 0;
    for (let jc = 0; jc < n; jc += NC) total += k * paddedWidth(Math.min(NC, n - jc));
    const storage = new Float64Array(total);
    let off = 0;
    for (let jc = 0; jc < n; jc += NC) {
      const nc = Math.min(NC, n - jc);
      for (let pc = 0; pc < k; pc += KC) {
        const kc = Math.min(KC, k - pc);
        const len = kc * paddedWidth(nc);
        packB(source, bOffset + pc * rs + jc * cs, rs, cs, kc, nc);
        copyPackedB(storage, off, len);
        blocks.push(storage.subarray(off, off + len));
        off += len;
      }
    }
    this.blocks = blocks;
    this.kBlocks = kBlocks;
  }

  /**
   * Throws unless this was prepared from the same b, offset, ldb and transB for op(B) [k,n]:
   * using a pack of another matrix would silently compute a different product.
   */
  check(fn: string, k: number, n: number, b: Storage, bOffset: number, ldb: number, transB: boolean): void {
    if (this.k !== k || this.n !== n || this.source !== b || this.bOffset !== bOffset || this.ldb !== ldb || this.transB !== transB) {
      throw new RangeError(
        `${fn}: packedB was prepared for op(B) ${formatShape([this.k, this.n])} (bOffset ${this.bOffset}, ldb ${this.ldb}, ` +
          `transB ${this.transB}) from ${this.source === b ? 'this' : 'another'} b, but the call has op(B) ${formatShape([k, n])} ` +
          `(bOffset ${bOffset}, ldb ${ldb}, transB ${transB})`,
      );
    }
  }
}

/** Columns of a packed block: nc rounded up to whole NR panels (packB zero-pads the last). */
const paddedWidth = (nc: number): number => Math.ceil(nc / NR) * NR;

/** Backend.prepareB of the blocked kernel: validates like gemm, then packs every block of op(B). */
export function prepareBlockedB(p: PrepareBArgs): BlockedPackedB {
  checkPrepareBArgs(p, 'prepareB');
  const transB = p.transB ?? false;
  return new BlockedPackedB(p.k, p.n, p.b, p.bOffset ?? 0, p.ldb ?? (transB ? p.k : p.n), transB);
}
