import type { GemmArgs } from '../backend.js';
import { formatShape } from '../shape.js';

/**
 * Validates a GemmArgs before any kernel touches memory, so that a bad call fails with a message
 * naming the function, the parameter and the shapes instead of reading out of bounds (typed arrays
 * return undefined → NaN) or silently computing garbage. O(1): no element is inspected.
 */
export function checkGemmArgs(p: GemmArgs, fn: string): void {
  const { m, n, k } = p;
  for (const [name, v] of [['m', m], ['n', n], ['k', k]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${fn}: ${name} must be a non-negative integer, got ${v}`);
  }
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
  const cSpan = span(p.c, p.cOffset ?? 0, p.ldc ?? n, m, n);
  for (const [name, data, off, ld, rows, cols] of [
    ['a', p.a, p.aOffset ?? 0, p.lda ?? (transA ? m : k), transA ? k : m, transA ? m : k],
    ['b', p.b, p.bOffset ?? 0, p.ldb ?? (transB ? k : n), transB ? n : k, transB ? k : n],
  ] as const) {
    if (data.buffer !== p.c.buffer) continue;
    const s = span(data, off, ld, rows, cols);
    if (s[0] < cSpan[1] && cSpan[0] < s[1]) {
      throw new RangeError(`${fn}: c [${m},${n}] overlaps ${name} [${rows},${cols}] in the same buffer (C must not alias its inputs)`);
    }
  }
}

/** The byte range [start, end) of the buffer that a rows×cols matrix with leading dimension ld covers. */
function span(data: ArrayBufferView & { BYTES_PER_ELEMENT: number }, offset: number, ld: number, rows: number, cols: number): [number, number] {
  if (rows === 0 || cols === 0) return [0, 0];
  const start = data.byteOffset + offset * data.BYTES_PER_ELEMENT;
  return [start, start + ((rows - 1) * ld + cols) * data.BYTES_PER_ELEMENT];
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
  const shape = formatShape([rows, cols]);
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`${fn}: ${name}Offset must be a non-negative integer, got ${offset}`);
  if (!Number.isInteger(lead) || lead < cols || lead < 0) {
    throw new RangeError(`${fn}: ld${name} = ${lead} is smaller than the ${cols} columns of ${flag}${name} stored as ${shape}`);
  }
  if (rows === 0 || cols === 0) return;
  const end = offset + (rows - 1) * lead + cols;
  if (end > data.length) {
    throw new RangeError(
      `${fn}: ${flag}${name} stored as ${shape} with ld${name} ${lead} from offset ${offset} needs ${end} elements, has ${data.length}`,
    );
  }
}
