import { f32Bytes, i32Bytes, s32, u32 } from './encoding.js';
import { CONTROL, INSTRUCTIONS, type InstructionName, type ValType } from './instructions.js';

/**
 * Typed expression trees over the instruction table. Kernels are written as nested calls
 * (`f32x4.add(acc, f32x4.mul(a, b))`), which read like the formula; emitting a tree writes its
 * operands first and then its opcode: exactly the stack-machine order the binary format wants.
 * Operand types are checked twice: by TypeScript (Expr<'v128'> is not an Expr<'i32'>) and when a
 * node is built, with a message naming the instruction, so a malformed kernel fails at
 * generation time rather than as an anonymous validation error.
 *
 * Expressions contain no control flow and no side effects except stores (Expr<'void'>), which the
 * function builder (module-builder.ts) emits as statements. A value used twice goes into a local.
 */

export type Type = ValType | 'void';

export class Expr<T extends Type = Type> {
  constructor(
    readonly type: T,
    private readonly write: (out: number[]) => void,
  ) {}

  /** Appends this expression's code (operands first) to `out`. */
  emit(out: number[]): void {
    this.write(out);
  }
}

/** A function parameter or local: reading it is the expression `local.get index`. */
export class Local<T extends ValType = ValType> extends Expr<T> {
  constructor(
    type: T,
    readonly index: number,
    readonly label: string,
  ) {
    super(type, (out) => out.push(CONTROL['local.get'], ...u32(index)));
  }
}

export type I32 = Expr<'i32'>;
export type F32 = Expr<'f32'>;
export type V128 = Expr<'v128'>;
export type Void = Expr<'void'>;

/** Where a memory instruction reads or writes: a byte address expression plus a constant offset. */
export interface MemArg {
  /** Added to the address (an unsigned immediate: free on every engine). */
  offset?: number;
  /** log2 of the promised alignment; default and maximum is the natural one. */
  align?: number;
}

/**
 * One instruction applied to operand expressions, with its immediate bytes. Checks operand count,
 * types, alignment and lane indices against the table.
 */
export function apply<T extends Type>(name: InstructionName, operands: readonly Expr[], immediate: readonly number[] = []): Expr<T> {
  const spec = INSTRUCTIONS[name];
  if (operands.length !== spec.operands.length) {
    throw new TypeError(`wasm ${name}: takes ${spec.operands.length} operand(s), got ${operands.length}`);
  }
  operands.forEach((e, i) => {
    if (e.type !== spec.operands[i]) throw new TypeError(`wasm ${name}: operand ${i + 1} must be ${spec.operands[i]}, got ${e.type}`);
  });
  const opcode = spec.opcode;
  return new Expr((spec.result ?? 'void') as T, (out) => {
    for (const e of operands) e.emit(out);
    out.push(...opcode, ...immediate);
  });
}

function memarg(name: InstructionName, m: MemArg): number[] {
  const natural = (INSTRUCTIONS[name] as { align?: number }).align!;
  const align = m.align ?? natural;
  if (!Number.isInteger(align) || align < 0 || align > natural) {
    throw new RangeError(`wasm ${name}: alignment 2^${align} exceeds the natural 2^${natural}`);
  }
  return [...u32(align), ...u32(m.offset ?? 0)];
}

function lane(name: InstructionName, index: number): number[] {
  const lanes = (INSTRUCTIONS[name] as { lanes?: number }).lanes!;
  if (!Number.isInteger(index) || index < 0 || index >= lanes) throw new RangeError(`wasm ${name}: lane ${index} is not in [0, ${lanes})`);
  return [index];
}

// Typed wrappers over apply, by signature: operand types in, result type out.
const unary =
  <A extends ValType, R extends ValType>(name: InstructionName) =>
  (a: Expr<A>): Expr<R> =>
    apply<R>(name, [a]);
const binary =
  <A extends ValType, B extends ValType, R extends ValType>(name: InstructionName) =>
  (a: Expr<A>, b: Expr<B>): Expr<R> =>
    apply<R>(name, [a, b]);
const ii_i = binary<'i32', 'i32', 'i32'>;
const ff_f = binary<'f32', 'f32', 'f32'>;
const ff_i = binary<'f32', 'f32', 'i32'>;
const vv_v = binary<'v128', 'v128', 'v128'>;
const vi_v = binary<'v128', 'i32', 'v128'>;
const v_v = unary<'v128', 'v128'>;

/** `select`: a if cond ≠ 0 else b (both evaluated); a and b of one numeric or vector type. */
export function select<T extends ValType>(a: Expr<T>, b: Expr<T>, cond: I32): Expr<T> {
  if (a.type !== b.type) throw new TypeError(`wasm select: operands must have one type, got ${a.type} and ${b.type}`);
  if (cond.type !== 'i32') throw new TypeError(`wasm select: the condition must be i32, got ${cond.type}`);
  return new Expr(a.type, (out) => {
    a.emit(out);
    b.emit(out);
    cond.emit(out);
    out.push(CONTROL.select);
  });
}

export const i32 = {
  const: (v: number): I32 => {
    if (!Number.isInteger(v) || v < -0x8000_0000 || v > 0xffff_ffff) throw new RangeError(`wasm i32.const: ${v} is not a 32-bit integer`);
    return apply('i32.const', [], s32(v | 0));
  },
  load: (addr: I32, m: MemArg = {}): I32 => apply('i32.load', [addr], memarg('i32.load', m)),
  store: (addr: I32, value: I32, m: MemArg = {}): Void => apply('i32.store', [addr, value], memarg('i32.store', m)),
  eqz: unary<'i32', 'i32'>('i32.eqz'),
  eq: ii_i('i32.eq'),
  ne: ii_i('i32.ne'),
  ltS: ii_i('i32.lt_s'),
  ltU: ii_i('i32.lt_u'),
  gtS: ii_i('i32.gt_s'),
  gtU: ii_i('i32.gt_u'),
  leS: ii_i('i32.le_s'),
  leU: ii_i('i32.le_u'),
  geS: ii_i('i32.ge_s'),
  geU: ii_i('i32.ge_u'),
  add: ii_i('i32.add'),
  sub: ii_i('i32.sub'),
  mul: ii_i('i32.mul'),
  divU: ii_i('i32.div_u'),
  remU: ii_i('i32.rem_u'),
  and: ii_i('i32.and'),
  or: ii_i('i32.or'),
  xor: ii_i('i32.xor'),
  shl: ii_i('i32.shl'),
  shrS: ii_i('i32.shr_s'),
  shrU: ii_i('i32.shr_u'),
  reinterpretF32: unary<'f32', 'i32'>('i32.reinterpret_f32'),
};

export const f32 = {
  const: (v: number): F32 => apply('f32.const', [], f32Bytes(v)),
  load: (addr: I32, m: MemArg = {}): F32 => apply('f32.load', [addr], memarg('f32.load', m)),
  store: (addr: I32, value: F32, m: MemArg = {}): Void => apply('f32.store', [addr, value], memarg('f32.store', m)),
  eq: ff_i('f32.eq'),
  ne: ff_i('f32.ne'),
  lt: ff_i('f32.lt'),
  gt: ff_i('f32.gt'),
  le: ff_i('f32.le'),
  ge: ff_i('f32.ge'),
  abs: unary<'f32', 'f32'>('f32.abs'),
  neg: unary<'f32', 'f32'>('f32.neg'),
  nearest: unary<'f32', 'f32'>('f32.nearest'),
  add: ff_f('f32.add'),
  sub: ff_f('f32.sub'),
  mul: ff_f('f32.mul'),
  div: ff_f('f32.div'),
  min: ff_f('f32.min'),
  max: ff_f('f32.max'),
  reinterpretI32: unary<'i32', 'f32'>('f32.reinterpret_i32'),
};

/** 16 lane indices into the 32 bytes of (a, b): lanes 0–15 pick from a, 16–31 from b. */
function shuffleLanes(lanes: readonly number[]): number[] {
  if (lanes.length !== 16 || lanes.some((l) => !Number.isInteger(l) || l < 0 || l > 31)) {
    throw new RangeError(`wasm i8x16.shuffle: needs 16 lane indices in [0, 32), got [${lanes.join(', ')}]`);
  }
  return [...lanes];
}

export const v128 = {
  load: (addr: I32, m: MemArg = {}): V128 => apply('v128.load', [addr], memarg('v128.load', m)),
  /** All four lanes ← the f32 (or i32) at addr: the A operand of the GEMM micro-kernel. */
  load32Splat: (addr: I32, m: MemArg = {}): V128 => apply('v128.load32_splat', [addr], memarg('v128.load32_splat', m)),
  /** Lane 0 ← the 32 bits at addr, other lanes 0. */
  load32Zero: (addr: I32, m: MemArg = {}): V128 => apply('v128.load32_zero', [addr], memarg('v128.load32_zero', m)),
  store: (addr: I32, value: V128, m: MemArg = {}): Void => apply('v128.store', [addr, value], memarg('v128.store', m)),
  /** Stores one 32-bit lane: how a ragged tile writes its last 1–3 columns without touching the next ones. */
  store32Lane: (addr: I32, value: V128, laneIndex: number, m: MemArg = {}): Void =>
    apply('v128.store32_lane', [addr, value], [...memarg('v128.store32_lane', m), ...lane('v128.store32_lane', laneIndex)]),
  store64Lane: (addr: I32, value: V128, laneIndex: number, m: MemArg = {}): Void =>
    apply('v128.store64_lane', [addr, value], [...memarg('v128.store64_lane', m), ...lane('v128.store64_lane', laneIndex)]),
  /** A constant of four f32 lanes (lane 0 first). */
  f32x4: (a: number, b: number, c: number, d: number): V128 => apply('v128.const', [], [a, b, c, d].flatMap(f32Bytes)),
  /** A constant of four i32 lanes given as bit patterns. */
  i32x4: (a: number, b: number, c: number, d: number): V128 => apply('v128.const', [], [a, b, c, d].flatMap(i32Bytes)),
  /** A constant with x in every f32 lane. */
  splatF32: (x: number): V128 => v128.f32x4(x, x, x, x),
  /** A constant with the bit pattern `bits` in every 32-bit lane. */
  splatI32: (bits: number): V128 => v128.i32x4(bits, bits, bits, bits),
  not: v_v('v128.not'),
  and: vv_v('v128.and'),
  /** a & ~b. */
  andnot: vv_v('v128.andnot'),
  or: vv_v('v128.or'),
  xor: vv_v('v128.xor'),
  /** (a & mask) | (b & ~mask), bit by bit. */
  bitselect: (a: V128, b: V128, mask: V128): V128 => apply('v128.bitselect', [a, b, mask]),
  anyTrue: unary<'v128', 'i32'>('v128.any_true'),
  shuffle: (a: V128, b: V128, lanes: readonly number[]): V128 => apply('i8x16.shuffle', [a, b], shuffleLanes(lanes)),
};

export const i32x4 = {
  splat: unary<'i32', 'v128'>('i32x4.splat'),
  extractLane: (v: V128, index: number): I32 => apply('i32x4.extract_lane', [v], lane('i32x4.extract_lane', index)),
  eq: vv_v('i32x4.eq'),
  gtS: vv_v('i32x4.gt_s'),
  shl: vi_v('i32x4.shl'),
  shrS: vi_v('i32x4.shr_s'),
  shrU: vi_v('i32x4.shr_u'),
  add: vv_v('i32x4.add'),
  sub: vv_v('i32x4.sub'),
  mul: vv_v('i32x4.mul'),
  /** Truncation toward zero, saturating at the int32 range; NaN → 0. */
  truncSatF32x4S: v_v('i32x4.trunc_sat_f32x4_s'),
};

export const f32x4 = {
  splat: unary<'f32', 'v128'>('f32x4.splat'),
  extractLane: (v: V128, index: number): F32 => apply('f32x4.extract_lane', [v], lane('f32x4.extract_lane', index)),
  replaceLane: (v: V128, index: number, x: F32): V128 => apply('f32x4.replace_lane', [v, x], lane('f32x4.replace_lane', index)),
  eq: vv_v('f32x4.eq'),
  ne: vv_v('f32x4.ne'),
  lt: vv_v('f32x4.lt'),
  gt: vv_v('f32x4.gt'),
  le: vv_v('f32x4.le'),
  ge: vv_v('f32x4.ge'),
  /** Round to the nearest integer, ties to even. */
  nearest: v_v('f32x4.nearest'),
  abs: v_v('f32x4.abs'),
  neg: v_v('f32x4.neg'),
  sqrt: v_v('f32x4.sqrt'),
  add: vv_v('f32x4.add'),
  sub: vv_v('f32x4.sub'),
  mul: vv_v('f32x4.mul'),
  div: vv_v('f32x4.div'),
  /** NaN-propagating minimum (unlike pmin): a NaN lane in either operand gives NaN. */
  min: vv_v('f32x4.min'),
  /** NaN-propagating maximum. */
  max: vv_v('f32x4.max'),
  /**
   * Pseudo-minimum b < a ? b : a (the definition of C++'s std::min): one instruction on x64, where
   * min takes seven. A NaN in a is kept (the comparison is false), a NaN in b is not.
   */
  pmin: vv_v('f32x4.pmin'),
  /** Pseudo-maximum a < b ? b : a: a NaN in a is kept. */
  pmax: vv_v('f32x4.pmax'),
  convertI32x4S: v_v('f32x4.convert_i32x4_s'),
  /** a·b + c, rounded once or twice (relaxed: the engine chooses; detect.ts finds out which). */
  relaxedMadd: (a: V128, b: V128, c: V128): V128 => apply('f32x4.relaxed_madd', [a, b, c]),
  /** −(a·b) + c, relaxed like relaxedMadd. */
  relaxedNmadd: (a: V128, b: V128, c: V128): V128 => apply('f32x4.relaxed_nmadd', [a, b, c]),
};
