import type { GemmArgs, PrepareBArgs } from '../backend.js';
import type { Storage } from '../dtype.js';
import { formatShape } from '../shape.js';

/**
 * Validates a GemmArgs before any kernel touches memory, so that a bad call fails with a message
 * naming the function, the parameter and the shapes instead of reading out of bounds (typed arrays
 * return undefined → NaN) or silently computing garbage. O(1): no element is inspected.
 */
export function checkGemmArgs(p: GemmArgs, fn: string): void {
  const { m, n, k } = p;
  checkDim(fn, 'm', m);
  checkDim(fn, 'n', n);
  checkDim(fn, 'k', k);
  const transA = p.transA ?? false;
  const transB = p.transB ?? false;
  // Stored shapes: A is [m,k] or, with transA, [k,m]; B is [k,n] or, with transB, [n,k]; C is [m,n].
  checkOperand(fn, 'a', p.a, p.aOffset ?? 0, p.lda, transA ? k : m, transA ? m : k, transA ? 'transA ' : '');
  checkOperand(fn, 'b', p.b, p.bOffset ?? 0, p.ldb, transB ? n : k, transB ? k : n, transB ? 'transB ' : '');
  checkOperand(fn, 'c', p.c, p.cOffset ?? 0, p.ldc, m, n, '');
  const alpha = p.alpha ?? 1;
  if (typeof alpha !== 'number') throw new TypeError(`${fn}: alpha must be a number, got ${typeof alpha}`);
  if (p.bias !== undefined) {
    const off = p.biasOffset ?? 0;
    if (!Number.isInteger(off) || off < 0) throw new RangeError(`${fn}: biasOffset must be a non-negative integer, got ${off}`);
    if (off + n > p.bias.length) {
      throw new RangeError(`${fn}: bias needs ${n} elements from biasOffset ${off} (shape ${formatShape([n])}), has ${p.bias.length}`);
    }
  }
  // The kernel reads A and B after it has started writing C, so C must not share memory with
  // them. Compared by the spans each matrix covers (offset to last element), so disjoint regions
  // of one buffer (e.g. time steps of a [T,B,H] array) remain allowed.
  // (No arrays or closures here: this runs on every call, often inside a time loop.)
  const ldc = p.ldc ?? n;
  checkDisjoint(fn, p.c, p.cOffset ?? 0, ldc, m, n, 'a', p.a, p.aOffset ?? 0, p.lda ?? (transA ? m : k), transA ? k : m, transA ? m : k);
  checkDisjoint(fn, p.c, p.cOffset ?? 0, ldc, m, n, 'b', p.b, p.bOffset ?? 0, p.ldb ?? (transB ? k : n), transB ? n : k, transB ? k : n);
}

/** Validates the op(B) part of a gemm (k, n, b and its addressing) for Backend.prepareB. */
export function checkPrepareBArgs(p: PrepareBArgs, fn: string): void {
  const { n, k } = p;
  checkDim(fn, 'n', n);
  checkDim(fn, 'k', k);
  const transB = p.transB ?? false;
  checkOperand(fn, 'b', p.b, p.bOffset ?? 0, p.ldb, transB ? n : k, transB ? k : n, transB ? 'transB ' : '');
}

function checkDim(fn: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${fn}: ${name} must be a non-negative integer, got ${v}`);
}

function checkDisjoint(
  fn: string,
  c: Storage,
  cOff: number,
  ldc: number,
  m: number,
  n: number,
  name: string,
  x: Storage,
  xOff: number,
  ldx: number,
  rows: number,
  cols: number,
): void {
  if (x.buffer !== c.buffer || m === 0 || n === 0 || rows === 0 || cols === 0) return;
  const cStart = spanStart(c, cOff),
    cEnd = cStart + ((m - 1) * ldc + n) * c.BYTES_PER_ELEMENT;
  const xStart = spanStart(x, xOff),
    xEnd = xStart + ((rows - 1) * ldx + cols) * x.BYTES_PER_ELEMENT;
  if (xStart < cEnd && cStart < xEnd) {
    throw new RangeError(`${fn}: c [${m},${n}] overlaps ${name} [${rows},${cols}] in the same buffer (C must not alias its inputs)`);
  }
}

function checkOperand(
  fn: string,
  name: string,
  data: ArrayLike<number> | undefined,
  offset: number,
  ld: number | undefined,
  rows: number,
  cols: number,
  flag: string,
): void {
  if (!(data instanceof Float32Array || data instanceof Float64Array)) {
    throw new TypeError(`${fn}: ${name} must be a Float32Array or Float64Array`);
  }
  const lead = ld ?? cols;
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`${fn}: ${name}Offset must be a non-negative integer, got ${offset}`);
  if (!Number.isInteger(lead) || lead < cols || lead < 0) {
    throw new RangeError(
      `${fn}: ld${name} = ${lead} is smaller than the ${cols} columns of ${flag}${name} stored as ${formatShape([rows, cols])}`,
    );
  }
  if (rows === 0 || cols === 0) return;
  const end = offset + (rows - 1) * lead + cols;
  if (end > data.length) {
    throw new RangeError(
      `${fn}: ${flag}${name} stored as ${formatShape([rows, cols])} with ld${name} ${lead} from offset ${offset} needs ${end} elements, has ${data.length}`,
    );
  }
}

/** Byte position of element `offset` of a typed array within its buffer. */
const spanStart = (x: Storage, offset: number): number => x.byteOffset + offset * x.BYTES_PER_ELEMENT;
