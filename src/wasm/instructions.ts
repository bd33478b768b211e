import { u32 } from './encoding.js';

/**
 * The instructions our kernels use, with their binary encodings and types: the single table the
 * expression helpers (expr.ts) read, so an opcode is written down once. Sources, transcribed by hand
 * and checked by test/wasm-assembler.test.ts (encodings and, by running each instruction, semantics):
 *  - core: the WebAssembly core specification, §5.4 "Instructions" (binary format);
 *  - simd: the fixed-width SIMD proposal, proposals/simd/BinarySIMD.md (in the core spec since 2.0):
 *    the prefix byte 0xFD, then the opcode as a u32 LEB128;
 *  - relaxed-simd: proposals/relaxed-simd/Overview.md (final opcodes, not the prototype ones).
 */

/** Value types, with their one-byte codes (core §5.3.1, SIMD: v128 = 0x7B). */
export const VALTYPES = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b } as const;
export type ValType = keyof typeof VALTYPES;

/**
 * What follows an opcode: nothing; a memory argument (alignment exponent and offset, each a u32);
 * a memory argument and a lane index; a lane index; 16 bytes (v128.const); 16 lane indices < 32
 * (i8x16.shuffle); a signed LEB128 i32 (i32.const); 4 float bytes (f32.const).
 */
export type Immediate = 'none' | 'memarg' | 'memarg-lane' | 'lane' | 'bytes16' | 'shuffle' | 'i32' | 'f32';

export interface InstructionSpec {
  /** The opcode bytes: one byte for core instructions, 0xFD + LEB128 for SIMD ones. */
  readonly opcode: readonly number[];
  readonly operands: readonly ValType[];
  readonly result: ValType | null;
  readonly immediate: Immediate;
  /** Memory instructions: the natural alignment as log2(bytes), the largest the validator accepts. */
  readonly align?: number;
  /** Lane instructions: how many lanes the shape has (lane indices must be below it). */
  readonly lanes?: number;
  readonly proposal: 'core' | 'simd' | 'relaxed-simd';
}

type Sig = readonly [operands: readonly ValType[], result: ValType | null];
const I: Sig = [[], 'i32'];
const II_I: Sig = [['i32', 'i32'], 'i32'];
const I_I: Sig = [['i32'], 'i32'];
const FF_F: Sig = [['f32', 'f32'], 'f32'];
const FF_I: Sig = [['f32', 'f32'], 'i32'];
const F_F: Sig = [['f32'], 'f32'];
const V_V: Sig = [['v128'], 'v128'];
const VV_V: Sig = [['v128', 'v128'], 'v128'];
const VVV_V: Sig = [['v128', 'v128', 'v128'], 'v128'];

function core(code: number, [operands, result]: Sig, immediate: Immediate = 'none', align?: number): InstructionSpec {
  return { opcode: [code], operands, result, immediate, ...(align === undefined ? {} : { align }), proposal: 'core' };
}

function simd(
  code: number,
  [operands, result]: Sig,
  immediate: Immediate = 'none',
  extra: { align?: number; lanes?: number } = {},
  proposal: 'simd' | 'relaxed-simd' = 'simd',
): InstructionSpec {
  return { opcode: [0xfd, ...u32(code)], operands, result, immediate, ...extra, proposal };
}

export const INSTRUCTIONS = {
  // ---- core: constants, parametric, memory, numeric
  'i32.const': core(0x41, I, 'i32'),
  'f32.const': core(0x43, [[], 'f32'], 'f32'),
  'i32.load': core(0x28, [['i32'], 'i32'], 'memarg', 2),
  'f32.load': core(0x2a, [['i32'], 'f32'], 'memarg', 2),
  'i32.store': core(0x36, [['i32', 'i32'], null], 'memarg', 2),
  'f32.store': core(0x38, [['i32', 'f32'], null], 'memarg', 2),
  'i32.eqz': core(0x45, I_I),
  'i32.eq': core(0x46, II_I),
  'i32.ne': core(0x47, II_I),
  'i32.lt_s': core(0x48, II_I),
  'i32.lt_u': core(0x49, II_I),
  'i32.gt_s': core(0x4a, II_I),
  'i32.gt_u': core(0x4b, II_I),
  'i32.le_s': core(0x4c, II_I),
  'i32.le_u': core(0x4d, II_I),
  'i32.ge_s': core(0x4e, II_I),
  'i32.ge_u': core(0x4f, II_I),
  'f32.eq': core(0x5b, FF_I),
  'f32.ne': core(0x5c, FF_I),
  'f32.lt': core(0x5d, FF_I),
  'f32.gt': core(0x5e, FF_I),
  'f32.le': core(0x5f, FF_I),
  'f32.ge': core(0x60, FF_I),
  'i32.add': core(0x6a, II_I),
  'i32.sub': core(0x6b, II_I),
  'i32.mul': core(0x6c, II_I),
  'i32.div_u': core(0x6e, II_I),
  'i32.rem_u': core(0x70, II_I),
  'i32.and': core(0x71, II_I),
  'i32.or': core(0x72, II_I),
  'i32.xor': core(0x73, II_I),
  'i32.shl': core(0x74, II_I),
  'i32.shr_s': core(0x75, II_I),
  'i32.shr_u': core(0x76, II_I),
  'f32.abs': core(0x8b, F_F),
  'f32.neg': core(0x8c, F_F),
  'f32.nearest': core(0x90, F_F),
  'f32.add': core(0x92, FF_F),
  'f32.sub': core(0x93, FF_F),
  'f32.mul': core(0x94, FF_F),
  'f32.div': core(0x95, FF_F),
  'f32.min': core(0x96, FF_F),
  'f32.max': core(0x97, FF_F),
  'i32.reinterpret_f32': core(0xbc, [['f32'], 'i32']),
  'f32.reinterpret_i32': core(0xbe, [['i32'], 'f32']),

  // ---- SIMD: memory
  'v128.load': simd(0x00, [['i32'], 'v128'], 'memarg', { align: 4 }),
  'v128.load32_splat': simd(0x09, [['i32'], 'v128'], 'memarg', { align: 2 }),
  'v128.store': simd(0x0b, [['i32', 'v128'], null], 'memarg', { align: 4 }),
  'v128.load32_zero': simd(0x5c, [['i32'], 'v128'], 'memarg', { align: 2 }),
  'v128.store32_lane': simd(0x5a, [['i32', 'v128'], null], 'memarg-lane', { align: 2, lanes: 4 }),
  'v128.store64_lane': simd(0x5b, [['i32', 'v128'], null], 'memarg-lane', { align: 3, lanes: 2 }),
  // ---- SIMD: constants, shuffles, lanes
  'v128.const': simd(0x0c, [[], 'v128'], 'bytes16'),
  'i8x16.shuffle': simd(0x0d, VV_V, 'shuffle'),
  'i32x4.splat': simd(0x11, [['i32'], 'v128']),
  'f32x4.splat': simd(0x13, [['f32'], 'v128']),
  'i32x4.extract_lane': simd(0x1b, [['v128'], 'i32'], 'lane', { lanes: 4 }),
  'f32x4.extract_lane': simd(0x1f, [['v128'], 'f32'], 'lane', { lanes: 4 }),
  'f32x4.replace_lane': simd(0x20, [['v128', 'f32'], 'v128'], 'lane', { lanes: 4 }),
  // ---- SIMD: comparisons (all-ones lanes where true)
  'i32x4.eq': simd(0x37, VV_V),
  'i32x4.gt_s': simd(0x3b, VV_V),
  'f32x4.eq': simd(0x41, VV_V),
  'f32x4.ne': simd(0x42, VV_V),
  'f32x4.lt': simd(0x43, VV_V),
  'f32x4.gt': simd(0x44, VV_V),
  'f32x4.le': simd(0x45, VV_V),
  'f32x4.ge': simd(0x46, VV_V),
  // ---- SIMD: bitwise
  'v128.not': simd(0x4d, V_V),
  'v128.and': simd(0x4e, VV_V),
  'v128.andnot': simd(0x4f, VV_V),
  'v128.or': simd(0x50, VV_V),
  'v128.xor': simd(0x51, VV_V),
  'v128.bitselect': simd(0x52, VVV_V),
  'v128.any_true': simd(0x53, [['v128'], 'i32']),
  // ---- SIMD: i32x4 arithmetic (shift counts are an i32, taken mod 32)
  'i32x4.shl': simd(0xab, [['v128', 'i32'], 'v128']),
  'i32x4.shr_s': simd(0xac, [['v128', 'i32'], 'v128']),
  'i32x4.shr_u': simd(0xad, [['v128', 'i32'], 'v128']),
  'i32x4.add': simd(0xae, VV_V),
  'i32x4.sub': simd(0xb1, VV_V),
  'i32x4.mul': simd(0xb5, VV_V),
  // ---- SIMD: f32x4 arithmetic
  'f32x4.nearest': simd(0x6a, V_V),
  'f32x4.abs': simd(0xe0, V_V),
  'f32x4.neg': simd(0xe1, V_V),
  'f32x4.sqrt': simd(0xe3, V_V),
  'f32x4.add': simd(0xe4, VV_V),
  'f32x4.sub': simd(0xe5, VV_V),
  'f32x4.mul': simd(0xe6, VV_V),
  'f32x4.div': simd(0xe7, VV_V),
  'f32x4.min': simd(0xe8, VV_V),
  'f32x4.max': simd(0xe9, VV_V),
  'f32x4.pmin': simd(0xea, VV_V),
  'f32x4.pmax': simd(0xeb, VV_V),
  // ---- SIMD: conversions
  'i32x4.trunc_sat_f32x4_s': simd(0xf8, V_V),
  'f32x4.convert_i32x4_s': simd(0xfa, V_V),
  // ---- relaxed SIMD: a·b + c, fused or not (implementation-defined; see detect.ts)
  'f32x4.relaxed_madd': simd(0x105, VVV_V, 'none', {}, 'relaxed-simd'),
  'f32x4.relaxed_nmadd': simd(0x106, VVV_V, 'none', {}, 'relaxed-simd'),
} as const satisfies Record<string, InstructionSpec>;

export type InstructionName = keyof typeof INSTRUCTIONS;

/**
 * Structured control, parametric and variable instructions (core §5.4.1–§5.4.4): their operand
 * types depend on context, so the function builder and expr.ts write them directly.
 */
export const CONTROL = {
  unreachable: 0x00,
  nop: 0x01,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  'local.get': 0x20,
  'local.set': 0x21,
  'local.tee': 0x22,
  /** Block type of a block that takes and leaves nothing. */
  emptyBlockType: 0x40,
} as const;
