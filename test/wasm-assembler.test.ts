import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { f32Bytes, i32Bytes, name, s32, u32, vector } from '../src/wasm/encoding.js';
import { f32, f32x4, i32, i32x4, select, v128, type Expr, type F32, type I32, type Local, type V128 } from '../src/wasm/expr.js';
import { CONTROL, INSTRUCTIONS, VALTYPES, type InstructionName } from '../src/wasm/instructions.js';
import { limitsBytes, ModuleBuilder, type FunctionBuilder, type Label } from '../src/wasm/module-builder.js';
import { wasmApi, type WasmMemory, type WasmModule } from '../src/wasm/runtime.js';
import { enableRelaxedSimd } from '../src/node/relaxed-simd.js';
import { detectWasmFeatures } from '../src/wasm/detect.js';

/*
 * The assembler (src/wasm): byte encodings against the WebAssembly specification, every
 * instruction of the table run on edge-case inputs against a JavaScript model of its semantics (a
 * wrong opcode computes something else and fails here even if it validates), control flow that
 * computes known results, and the errors a malformed kernel gets at generation time.
 */

enableRelaxedSimd(); // Node 20: relaxed SIMD is behind a V8 flag
const FEATURES = detectWasmFeatures();

// ---------------------------------------------------------------- encodings

/** Reads one unsigned/signed LEB128 from bytes[0…]: an independent decoder (spec §5.2.2). */
function decodeLeb(bytes: readonly number[], signed: boolean): number {
  let result = 0;
  let shift = 0;
  let byte: number;
  let i = 0;
  do {
    byte = bytes[i++]!;
    result += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  if (i !== bytes.length) throw new Error('trailing bytes');
  if (signed && byte & 0x40) result -= 2 ** shift;
  return result;
}

describe('LEB128 and value encodings (spec §5.2)', () => {
  it('u32: known encodings, including the spec example 624485 → e5 8e 26', () => {
    expect(u32(0)).toEqual([0x00]);
    expect(u32(127)).toEqual([0x7f]);
    expect(u32(128)).toEqual([0x80, 0x01]);
    expect(u32(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(u32(0x105)).toEqual([0x85, 0x02]); // f32x4.relaxed_madd's opcode
    expect(u32(2 ** 32 - 1)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
  });

  it('s32: known encodings at the sign boundaries', () => {
    expect(s32(0)).toEqual([0x00]);
    expect(s32(-1)).toEqual([0x7f]);
    expect(s32(63)).toEqual([0x3f]);
    expect(s32(64)).toEqual([0xc0, 0x00]);
    expect(s32(-64)).toEqual([0x40]);
    expect(s32(-65)).toEqual([0xbf, 0x7f]);
    expect(s32(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(s32(2 ** 31 - 1)).toEqual([0xff, 0xff, 0xff, 0xff, 0x07]);
    expect(s32(-(2 ** 31))).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
  });

  it('round-trips every integer through an independent decoder, in the fewest bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (v) => {
        const b = u32(v);
        expect(decodeLeb(b, false)).toBe(v);
        expect(b.length).toBe(Math.max(1, Math.ceil(Math.log2(v + 1) / 7)));
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (v) => {
        expect(decodeLeb(s32(v), true)).toBe(v);
      }),
    );
  });

  it('refuses values outside the range with a message naming it', () => {
    expect(() => u32(-1)).toThrow(/u32: -1/);
    expect(() => u32(2 ** 32)).toThrow(/u32/);
    expect(() => u32(1.5)).toThrow(/u32/);
    expect(() => s32(2 ** 31)).toThrow(/s32/);
  });

  it('floats are little-endian IEEE 754, names are UTF-8 vectors', () => {
    expect(f32Bytes(1)).toEqual([0x00, 0x00, 0x80, 0x3f]);
    expect(f32Bytes(-2)).toEqual([0x00, 0x00, 0x00, 0xc0]);
    expect(i32Bytes(0x8000_0000)).toEqual([0, 0, 0, 0x80]);
    expect(i32Bytes(-1)).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(name('gemm')).toEqual([4, 0x67, 0x65, 0x6d, 0x6d]);
    expect(name('σ')).toEqual([2, 0xcf, 0x83]);
    expect(vector([[1], [2, 3]])).toEqual([2, 1, 2, 3]);
  });

  it('memory limits: 0x00 min, 0x01 min max, 0x03 min max for a shared memory (threads proposal)', () => {
    expect(limitsBytes({ initial: 1 })).toEqual([0x00, 0x01]);
    expect(limitsBytes({ initial: 2, maximum: 300 })).toEqual([0x01, 0x02, 0xac, 0x02]);
    expect(limitsBytes({ initial: 1, maximum: 65536, shared: true })).toEqual([0x03, 0x01, 0x80, 0x80, 0x04]);
    expect(() => limitsBytes({ initial: 1, shared: true })).toThrow(/shared memory needs a maximum/);
    expect(() => limitsBytes({ initial: 4, maximum: 2 })).toThrow(/maximum 2 < initial 4/);
  });
});

/*
 * The opcodes as transcribed from the specifications (by hand, separately from the source):
 * core spec §5.4 (binary instructions), proposals/simd/BinarySIMD.md, and
 * proposals/relaxed-simd/Overview.md ("opcode" column, not the prototype opcodes).
 */
const CORE_OPCODES: Record<string, number> = {
  'i32.const': 0x41,
  'f32.const': 0x43,
  'i32.load': 0x28,
  'f32.load': 0x2a,
  'i32.store': 0x36,
  'f32.store': 0x38,
  'i32.eqz': 0x45,
  'i32.eq': 0x46,
  'i32.ne': 0x47,
  'i32.lt_s': 0x48,
  'i32.lt_u': 0x49,
  'i32.gt_s': 0x4a,
  'i32.gt_u': 0x4b,
  'i32.le_s': 0x4c,
  'i32.le_u': 0x4d,
  'i32.ge_s': 0x4e,
  'i32.ge_u': 0x4f,
  'f32.eq': 0x5b,
  'f32.ne': 0x5c,
  'f32.lt': 0x5d,
  'f32.gt': 0x5e,
  'f32.le': 0x5f,
  'f32.ge': 0x60,
  'i32.add': 0x6a,
  'i32.sub': 0x6b,
  'i32.mul': 0x6c,
  'i32.div_u': 0x6e,
  'i32.rem_u': 0x70,
  'i32.and': 0x71,
  'i32.or': 0x72,
  'i32.xor': 0x73,
  'i32.shl': 0x74,
  'i32.shr_s': 0x75,
  'i32.shr_u': 0x76,
  'f32.abs': 0x8b,
  'f32.neg': 0x8c,
  'f32.nearest': 0x90,
  'f32.add': 0x92,
  'f32.sub': 0x93,
  'f32.mul': 0x94,
  'f32.div': 0x95,
  'f32.min': 0x96,
  'f32.max': 0x97,
  'i32.reinterpret_f32': 0xbc,
  'f32.reinterpret_i32': 0xbe,
};
const SIMD_OPCODES: Record<string, number> = {
  'v128.load': 0x00,
  'v128.load32_splat': 0x09,
  'v128.store': 0x0b,
  'v128.const': 0x0c,
  'i8x16.shuffle': 0x0d,
  'i32x4.splat': 0x11,
  'f32x4.splat': 0x13,
  'i32x4.extract_lane': 0x1b,
  'f32x4.extract_lane': 0x1f,
  'f32x4.replace_lane': 0x20,
  'i32x4.eq': 0x37,
  'i32x4.gt_s': 0x3b,
  'f32x4.eq': 0x41,
  'f32x4.ne': 0x42,
  'f32x4.lt': 0x43,
  'f32x4.gt': 0x44,
  'f32x4.le': 0x45,
  'f32x4.ge': 0x46,
  'v128.not': 0x4d,
  'v128.and': 0x4e,
  'v128.andnot': 0x4f,
  'v128.or': 0x50,
  'v128.xor': 0x51,
  'v128.bitselect': 0x52,
  'v128.any_true': 0x53,
  'v128.store32_lane': 0x5a,
  'v128.store64_lane': 0x5b,
  'v128.load32_zero': 0x5c,
  'f32x4.nearest': 0x6a,
  'i32x4.shl': 0xab,
  'i32x4.shr_s': 0xac,
  'i32x4.shr_u': 0xad,
  'i32x4.add': 0xae,
  'i32x4.sub': 0xb1,
  'i32x4.mul': 0xb5,
  'f32x4.abs': 0xe0,
  'f32x4.neg': 0xe1,
  'f32x4.sqrt': 0xe3,
  'f32x4.add': 0xe4,
  'f32x4.sub': 0xe5,
  'f32x4.mul': 0xe6,
  'f32x4.div': 0xe7,
  'f32x4.min': 0xe8,
  'f32x4.max': 0xe9,
  'f32x4.pmin': 0xea,
  'f32x4.pmax': 0xeb,
  'i32x4.trunc_sat_f32x4_s': 0xf8,
  'f32x4.convert_i32x4_s': 0xfa,
};
const RELAXED_OPCODES: Record<string, number> = { 'f32x4.relaxed_madd': 0x105, 'f32x4.relaxed_nmadd': 0x106 };

describe('the instruction table against the specifications', () => {
  it('every entry has the spec opcode: one byte for core, 0xFD + LEB128 for (relaxed) SIMD', () => {
    const names = Object.keys(INSTRUCTIONS) as InstructionName[];
    for (const n of names) {
      const spec = INSTRUCTIONS[n];
      if (n in CORE_OPCODES) expect(spec.opcode, n).toEqual([CORE_OPCODES[n]]);
      else if (n in SIMD_OPCODES) expect(spec.opcode, n).toEqual([0xfd, ...u32(SIMD_OPCODES[n]!)]);
      else if (n in RELAXED_OPCODES) expect(spec.opcode, n).toEqual([0xfd, ...u32(RELAXED_OPCODES[n]!)]);
      else throw new Error(`${n} has no transcribed spec opcode in this test`);
      const expectedProposal = n in CORE_OPCODES ? 'core' : n in SIMD_OPCODES ? 'simd' : 'relaxed-simd';
      expect(spec.proposal, n).toBe(expectedProposal);
    }
    expect(names.length).toBe(Object.keys({ ...CORE_OPCODES, ...SIMD_OPCODES, ...RELAXED_OPCODES }).length);
  });

  it('value types and control opcodes', () => {
    expect(VALTYPES).toEqual({ i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b });
    expect(CONTROL).toMatchObject({ block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, br_if: 0x0d, call: 0x10 });
    expect(CONTROL).toMatchObject({
      drop: 0x1a,
      select: 0x1b,
      'local.get': 0x20,
      'local.set': 0x21,
      'local.tee': 0x22,
      emptyBlockType: 0x40,
    });
  });

  it('encodes a small function byte for byte as the spec prescribes', () => {
    const mb = new ModuleBuilder();
    mb.function('add', { a: 'i32', b: 'i32' }, ['i32'], (f, { a, b }) => f.result(i32.add(a, b)));
    const bytes = Array.from(mb.build());
    // magic, version; type section: 1 type (i32 i32) → i32; function section; export "add"; code.
    expect(bytes.slice(0, 8)).toEqual([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    expect(bytes.slice(8, 15 + 2)).toEqual([0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f]);
    const code = [0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b];
    expect(bytes.join(',')).toContain(code.join(','));
  });
});

// ---------------------------------------------------------------- semantics of every instruction

const api = wasmApi()!;

/** Instantiates a module with a 1-page memory at env.memory. */
function instantiate(mb: ModuleBuilder): { exports: Record<string, (...args: number[]) => number>; memory: WasmMemory } {
  const bytes = mb.build();
  expect(api.validate(bytes)).toBe(true);
  const memory = new api.Memory({ initial: 1 });
  const instance = new api.Instance(new api.Module(bytes), { env: { memory } });
  return { exports: instance.exports as Record<string, (...args: number[]) => number>, memory };
}

/**
 * Applies a vector expression of `arity` v128 inputs to lane data (u32 bit patterns) and returns
 * the result's bits: inputs at bytes 0, 16, 32, result at 64.
 */
function runVector(arity: number, build: (...xs: V128[]) => V128, ...inputs: number[][]): number[] {
  const mb = new ModuleBuilder().importMemory('env', 'memory', { initial: 1 });
  mb.function('run', {}, [], (f) => {
    const args = Array.from({ length: arity }, (_, i) => v128.load(i32.const(16 * i)));
    f.emit(v128.store(i32.const(64), build(...args)));
  });
  const { exports, memory } = instantiate(mb);
  const u = new Uint32Array(memory.buffer);
  inputs.forEach((lanes, i) =>
    u.set(
      lanes.map((x) => x >>> 0),
      4 * i,
    ),
  );
  exports['run']!();
  return Array.from(u.subarray(16, 20));
}

const F32_SAMPLES = [0, -0, 1, -1, 0.5, 1.5, 2.5, -2.5, 3.7, -3.7, 1e30, -1e-40, Infinity, -Infinity, NaN, 2 ** 31, -(2 ** 31) - 512, 6e9];
const bitsF = (x: number): number => new Uint32Array(Float32Array.of(x).buffer)[0]!;
const fromBitsF = (b: number): number => new Float32Array(Uint32Array.of(b >>> 0).buffer)[0]!;
/** Rounds half to even (f32x4.nearest, f32.nearest). */
function nearestEven(x: number): number {
  if (!Number.isFinite(x) || Math.abs(x) >= 2 ** 23) return x;
  const r = Math.round(x);
  const v = Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : r;
  return v === 0 ? (Object.is(x, -0) || x < 0 ? -0 : 0) : v;
}
const truncSat = (x: number): number => (Number.isNaN(x) ? 0 : Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.trunc(x))));

/** Lane results compare bit for bit, except that any NaN matches a NaN (NaN payloads are nondeterministic in wasm). */
function expectLanesF32(actualBits: number[], expected: number[], what: string): void {
  actualBits.forEach((b, i) => {
    const got = fromBitsF(b);
    const want = Math.fround(expected[i]!);
    if (Number.isNaN(want)) expect(Number.isNaN(got), `${what} lane ${i}`).toBe(true);
    else expect(Object.is(got, want), `${what} lane ${i}: got ${got}, want ${want}`).toBe(true);
  });
}

/** Groups of 4 samples (every sample in every lane position over the groups). */
function quads(xs: readonly number[]): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < xs.length; i++) out.push([xs[i]!, xs[(i + 5) % xs.length]!, xs[(i + 7) % xs.length]!, xs[(i + 11) % xs.length]!]);
  return out;
}

describe('every instruction computes what the specification says', () => {
  const F_UNARY: [string, (x: V128) => V128, (x: number) => number][] = [
    ['f32x4.nearest', f32x4.nearest, nearestEven],
    ['f32x4.sqrt', f32x4.sqrt, Math.sqrt],
    ['f32x4.convert_i32x4_s (of the bits as int32)', f32x4.convertI32x4S, (x) => bitsF(x) | 0],
  ];
  const F_BINARY: [string, (a: V128, b: V128) => V128, (a: number, b: number) => number][] = [
    ['f32x4.add', f32x4.add, (a, b) => a + b],
    ['f32x4.sub', f32x4.sub, (a, b) => a - b],
    ['f32x4.mul', f32x4.mul, (a, b) => a * b],
    ['f32x4.div', f32x4.div, (a, b) => a / b],
    ['f32x4.min (NaN-propagating, −0 < +0)', f32x4.min, Math.min],
    ['f32x4.max', f32x4.max, Math.max],
    ['f32x4.pmin (b < a ? b : a)', f32x4.pmin, (a, b) => (b < a ? b : a)],
    ['f32x4.pmax (a < b ? b : a)', f32x4.pmax, (a, b) => (a < b ? b : a)],
  ];

  it('f32x4 arithmetic: correctly rounded (fround of the float64 result is, for these operations)', () => {
    for (const q of quads(F32_SAMPLES)) {
      const r = [...q].reverse();
      for (const [what, op, model] of F_UNARY) expectLanesF32(runVector(1, op, q.map(bitsF)), q.map(model), what);
      for (const [what, op, model] of F_BINARY)
        expectLanesF32(
          runVector(2, op, q.map(bitsF), r.map(bitsF)),
          q.map((a, i) => model(Math.fround(a), Math.fround(r[i]!))),
          what,
        );
    }
  });

  it('abs, neg (sign-bit operations, NaN included), the comparisons, truncation and splat-like lane ops', () => {
    const cmp: [string, (a: V128, b: V128) => V128, (a: number, b: number) => boolean][] = [
      ['f32x4.eq', f32x4.eq, (a, b) => a === b],
      ['f32x4.ne', f32x4.ne, (a, b) => a !== b],
      ['f32x4.lt', f32x4.lt, (a, b) => a < b],
      ['f32x4.gt', f32x4.gt, (a, b) => a > b],
      ['f32x4.le', f32x4.le, (a, b) => a <= b],
      ['f32x4.ge', f32x4.ge, (a, b) => a >= b],
    ];
    for (const q of quads(F32_SAMPLES)) {
      const bits = q.map(bitsF);
      expect(runVector(1, f32x4.abs, bits)).toEqual(bits.map((b) => (b & 0x7fff_ffff) >>> 0));
      expect(runVector(1, f32x4.neg, bits)).toEqual(bits.map((b) => (b ^ 0x8000_0000) >>> 0));
      expect(runVector(1, i32x4.truncSatF32x4S, bits)).toEqual(q.map((x) => truncSat(Math.fround(x)) >>> 0));
      const r = [...q].reverse();
      for (const [what, op, model] of cmp) {
        expect(runVector(2, op, bits, r.map(bitsF)), what).toEqual(
          q.map((a, i) => (model(Math.fround(a), Math.fround(r[i]!)) ? 0xffff_ffff : 0)),
        );
      }
    }
  });

  it('integer lanes: add, sub, mul wrap; shifts take the count mod 32; eq, gt_s', () => {
    const ints = [0, 1, -1, 0x7fff_ffff, -0x8000_0000, 12345, -987654, 0x1234_5678];
    for (const q of quads(ints)) {
      const r = [...q].reverse();
      const u = (xs: number[]) => xs.map((x) => x >>> 0);
      expect(runVector(2, i32x4.add, q, r)).toEqual(u(q.map((a, i) => a + r[i]!)));
      expect(runVector(2, i32x4.sub, q, r)).toEqual(u(q.map((a, i) => a - r[i]!)));
      expect(runVector(2, i32x4.mul, q, r)).toEqual(u(q.map((a, i) => Math.imul(a, r[i]!))));
      expect(runVector(2, i32x4.eq, q, r)).toEqual(q.map((a, i) => (a === r[i] ? 0xffff_ffff : 0)));
      expect(runVector(2, i32x4.gtS, q, r)).toEqual(q.map((a, i) => (a > r[i]! ? 0xffff_ffff : 0)));
      for (const count of [0, 3, 31, 33]) {
        expect(runVector(1, (x) => i32x4.shl(x, i32.const(count)), q)).toEqual(u(q.map((a) => a << count)));
        expect(runVector(1, (x) => i32x4.shrS(x, i32.const(count)), q)).toEqual(u(q.map((a) => a >> count)));
        expect(runVector(1, (x) => i32x4.shrU(x, i32.const(count)), q)).toEqual(u(q.map((a) => a >>> count)));
      }
    }
  });

  it('bitwise ops, bitselect, any_true, shuffle, splats, lanes and constants', () => {
    const a = [0xf0f0_f0f0, 0x1234_5678, 0xffff_0000, 0x0000_0001];
    const b = [0x0ff0_0ff0, 0x8765_4321, 0x00ff_00ff, 0xffff_fffe];
    const m = [0xffff_ffff, 0, 0x8000_0000, 0x0f0f_0f0f];
    const u = (xs: number[]) => xs.map((x) => x >>> 0);
    expect(runVector(1, v128.not, a)).toEqual(u(a.map((x) => ~x)));
    expect(runVector(2, v128.and, a, b)).toEqual(u(a.map((x, i) => x & b[i]!)));
    expect(runVector(2, v128.andnot, a, b)).toEqual(u(a.map((x, i) => x & ~b[i]!)));
    expect(runVector(2, v128.or, a, b)).toEqual(u(a.map((x, i) => x | b[i]!)));
    expect(runVector(2, v128.xor, a, b)).toEqual(u(a.map((x, i) => x ^ b[i]!)));
    expect(runVector(3, v128.bitselect, a, b, m)).toEqual(u(a.map((x, i) => (x & m[i]!) | (b[i]! & ~m[i]!))));
    // shuffle: 32-bit lanes (b1, a0, b3, a2) written as byte indices.
    const lanes = [5, 0, 7, 2].flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
    expect(runVector(2, (x, y) => v128.shuffle(x, y, lanes), a, b)).toEqual(u([b[1]!, a[0]!, b[3]!, a[2]!]));
    expect(runVector(0, () => v128.i32x4(1, -2, 3, 0x8000_0000))).toEqual(u([1, -2, 3, 0x8000_0000]));
    expect(runVector(0, () => v128.f32x4(1, -2, 0.5, -0))).toEqual([1, -2, 0.5, -0].map(bitsF));
    expect(runVector(0, () => v128.splatF32(3))).toEqual([3, 3, 3, 3].map(bitsF));
    expect(runVector(0, () => i32x4.splat(i32.const(-7)))).toEqual(u([-7, -7, -7, -7]));
    expect(runVector(0, () => f32x4.splat(f32.const(2.5)))).toEqual([2.5, 2.5, 2.5, 2.5].map(bitsF));
    expect(runVector(1, (x) => f32x4.replaceLane(x, 2, f32.const(9)), a)).toEqual(u([a[0]!, a[1]!, bitsF(9), a[3]!]));
    expect(runVector(1, (x) => i32x4.splat(i32.reinterpretF32(f32x4.extractLane(x, 1))), a)).toEqual(u([a[1]!, a[1]!, a[1]!, a[1]!]));
    expect(runVector(1, (x) => i32x4.splat(i32x4.extractLane(x, 3)), a)).toEqual(u([a[3]!, a[3]!, a[3]!, a[3]!]));
    expect(runVector(1, (x) => i32x4.splat(v128.anyTrue(x)), [0, 0, 0, 0])).toEqual([0, 0, 0, 0]);
    expect(runVector(1, (x) => i32x4.splat(v128.anyTrue(x)), [0, 0, 2, 0])).toEqual([1, 1, 1, 1]);
  });

  it('memory: loads and stores of scalars, vectors, splats and single lanes, at offsets', () => {
    const mb = new ModuleBuilder().importMemory('env', 'memory', { initial: 1 });
    mb.function('run', { p: 'i32' }, [], (f, { p }) => {
      f.emit(v128.store(p, v128.load32Splat(p, { offset: 4 }), { offset: 16 })); // [16..32) ← splat(p[1])
      f.emit(v128.store(p, v128.load32Zero(p, { offset: 8 }), { offset: 32 })); // [32..48) ← (p[2], 0, 0, 0)
      f.emit(v128.store32Lane(p, v128.load(p), 3, { offset: 48 })); // [48] ← p[3]
      f.emit(v128.store64Lane(p, v128.load(p), 1, { offset: 56 })); // [56..64) ← p[2], p[3]
      f.emit(i32.store(p, i32.add(i32.load(p), i32.const(1)), { offset: 64 }));
      f.emit(f32.store(p, f32.mul(f32.load(p, { offset: 4 }), f32.const(2)), { offset: 68 }));
    });
    const { exports, memory } = instantiate(mb);
    const u = new Uint32Array(memory.buffer, 256, 32);
    u.fill(0xdead_beef);
    u.set([7, bitsF(1.5), 8, 9]);
    exports['run']!(256);
    expect(Array.from(u.subarray(4, 8))).toEqual([bitsF(1.5), bitsF(1.5), bitsF(1.5), bitsF(1.5)]);
    expect(Array.from(u.subarray(8, 12))).toEqual([8, 0, 0, 0]);
    expect(Array.from(u.subarray(12, 14))).toEqual([9, 0xdead_beef]); // one lane written, the next untouched
    expect(Array.from(u.subarray(14, 18))).toEqual([8, 9, 8, bitsF(3)]);
  });

  it('scalar i32 and f32 instructions', () => {
    const mb = new ModuleBuilder();
    const i2: [string, (a: I32, b: I32) => I32, (a: number, b: number) => number][] = [
      ['eq', i32.eq, (a, b) => +(a === b)],
      ['ne', i32.ne, (a, b) => +(a !== b)],
      ['lt_s', i32.ltS, (a, b) => +(a < b)],
      ['lt_u', i32.ltU, (a, b) => +(a >>> 0 < b >>> 0)],
      ['gt_s', i32.gtS, (a, b) => +(a > b)],
      ['gt_u', i32.gtU, (a, b) => +(a >>> 0 > b >>> 0)],
      ['le_s', i32.leS, (a, b) => +(a <= b)],
      ['le_u', i32.leU, (a, b) => +(a >>> 0 <= b >>> 0)],
      ['ge_s', i32.geS, (a, b) => +(a >= b)],
      ['ge_u', i32.geU, (a, b) => +(a >>> 0 >= b >>> 0)],
      ['add', i32.add, (a, b) => (a + b) | 0],
      ['sub', i32.sub, (a, b) => (a - b) | 0],
      ['mul', i32.mul, Math.imul],
      ['div_u', i32.divU, (a, b) => Math.trunc((a >>> 0) / (b >>> 0)) | 0],
      ['rem_u', i32.remU, (a, b) => ((a >>> 0) % (b >>> 0)) | 0],
      ['and', i32.and, (a, b) => a & b],
      ['or', i32.or, (a, b) => a | b],
      ['xor', i32.xor, (a, b) => a ^ b],
      ['shl', i32.shl, (a, b) => a << b],
      ['shr_s', i32.shrS, (a, b) => a >> b],
      ['shr_u', i32.shrU, (a, b) => (a >>> b) | 0],
    ];
    const f2: [string, (a: F32, b: F32) => Expr, (a: number, b: number) => number][] = [
      ['f.add', f32.add, (a, b) => a + b],
      ['f.sub', f32.sub, (a, b) => a - b],
      ['f.mul', f32.mul, (a, b) => a * b],
      ['f.div', f32.div, (a, b) => a / b],
      ['f.min', f32.min, Math.min],
      ['f.max', f32.max, Math.max],
      ['f.eq', f32.eq, (a, b) => +(a === b)],
      ['f.ne', f32.ne, (a, b) => +(a !== b)],
      ['f.lt', f32.lt, (a, b) => +(a < b)],
      ['f.gt', f32.gt, (a, b) => +(a > b)],
      ['f.le', f32.le, (a, b) => +(a <= b)],
      ['f.ge', f32.ge, (a, b) => +(a >= b)],
    ];
    for (const [n, op] of i2) mb.function(n, { a: 'i32', b: 'i32' }, ['i32'], (f, { a, b }) => f.result(op(a, b)));
    for (const [n, op] of f2) {
      const probe = op(f32.const(0), f32.const(0));
      mb.function(n, { a: 'f32', b: 'f32' }, [probe.type as 'i32' | 'f32'], (f, { a, b }) => f.result(op(a, b)));
    }
    mb.function('eqz', { a: 'i32' }, ['i32'], (f, { a }) => f.result(i32.eqz(a)));
    mb.function('f.abs', { a: 'f32' }, ['f32'], (f, { a }) => f.result(f32.abs(a)));
    mb.function('f.neg', { a: 'f32' }, ['f32'], (f, { a }) => f.result(f32.neg(a)));
    mb.function('f.nearest', { a: 'f32' }, ['f32'], (f, { a }) => f.result(f32.nearest(a)));
    mb.function('bits', { a: 'f32' }, ['i32'], (f, { a }) => f.result(i32.reinterpretF32(a)));
    mb.function('float', { a: 'i32' }, ['f32'], (f, { a }) => f.result(f32.reinterpretI32(a)));
    mb.function('sel', { a: 'i32', b: 'i32', c: 'i32' }, ['i32'], (f, { a, b, c }) => f.result(select(a, b, c)));
    const { exports } = instantiate(mb);
    const ints = [0, 1, -1, 7, -8, 0x7fff_ffff, -0x8000_0000, 31, 33];
    for (const a of ints)
      for (const b of ints) {
        for (const [n, , model] of i2) {
          if ((n === 'div_u' || n === 'rem_u') && b === 0) continue;
          expect(exports[n]!(a, b), `${n}(${a}, ${b})`).toBe(model(a, n.startsWith('sh') ? b & 31 : b));
        }
        expect(exports['sel']!(a, b, a & 1)).toBe(a & 1 ? a : b);
      }
    const floats = F32_SAMPLES.map(Math.fround);
    for (const a of floats) {
      for (const b of floats)
        for (const [n, , model] of f2) {
          const want = Math.fround(model(a, b));
          const got = exports[n]!(a, b);
          expect(Number.isNaN(want) ? Number.isNaN(got) : Object.is(got, want), `${n}(${a}, ${b}) = ${got}`).toBe(true);
        }
      if (!Number.isNaN(a)) {
        expect(Object.is(exports['f.abs']!(a), Math.abs(a))).toBe(true);
        expect(Object.is(exports['f.neg']!(a), -a)).toBe(true);
        expect(Object.is(exports['f.nearest']!(a), nearestEven(a))).toBe(true);
        expect(exports['float']!(exports['bits']!(a))).toBe(a);
      }
    }
    expect(exports['eqz']!(0)).toBe(1);
    expect(exports['eqz']!(5)).toBe(0);
    expect(exports['bits']!(1) >>> 0).toBe(0x3f80_0000);
  });

  it.runIf(FEATURES.relaxedSimd)('relaxed_madd and relaxed_nmadd give a·b ± c, rounded once or twice as detected', () => {
    const a = [1 + 2 ** -12, 3, -2, 0.5];
    const b = [1 + 2 ** -12, 5, 7, -0.25];
    const c = [-(1 + 2 ** -11), 1, -1, 8];
    const fused = FEATURES.fusedMultiplyAdd;
    const madd = runVector(3, f32x4.relaxedMadd, a.map(bitsF), b.map(bitsF), c.map(bitsF));
    expectLanesF32(madd, [fused ? 2 ** -24 : 0, 16, -15, 7.875], 'relaxed_madd');
    const nmadd = runVector(
      3,
      f32x4.relaxedNmadd,
      a.map(bitsF),
      b.map(bitsF),
      c.map(bitsF).map((x, i) => (i === 0 ? bitsF(1 + 2 ** -11) : x)),
    );
    expectLanesF32(nmadd, [fused ? -(2 ** -24) : 0, -14, 13, 8.125], 'relaxed_nmadd');
  });
});

// ---------------------------------------------------------------- modules, control flow, calls

describe('modules and control flow', () => {
  it('nested blocks, loops and ifs with computed branch depths: the primes below 100 (25 of them)', () => {
    const mb = new ModuleBuilder();
    mb.function('primes', { limit: 'i32' }, ['i32'], (f, { limit }) => {
      const n = f.local('i32', 'n');
      const d = f.local('i32', 'd');
      const count = f.local('i32', 'count');
      f.set(n, i32.const(2));
      f.block((done) => {
        f.loop((nextN) => {
          f.brIf(done, i32.geU(n, limit));
          f.block((composite) => {
            f.set(d, i32.const(2));
            f.loop((nextD) => {
              f.if(i32.gtU(i32.mul(d, d), n), () => {
                f.set(count, i32.add(count, i32.const(1)));
                f.br(composite); // prime: leave both the if and the loop
              });
              f.brIf(composite, i32.eqz(i32.remU(n, d)));
              f.set(d, i32.add(d, i32.const(1)));
              f.br(nextD);
            });
          });
          f.set(n, i32.add(n, i32.const(1)));
          f.br(nextN);
        });
      });
      f.result(count);
    });
    expect(instantiate(mb).exports['primes']!(100)).toBe(25);
  });

  it('calls (declared before their body), if/else, tee and drop', () => {
    const mb = new ModuleBuilder();
    const sq = mb.declare('square', { x: 'i32' }, ['i32'], { export: false });
    mb.function('sumOfSquares', { a: 'i32', b: 'i32' }, ['i32'], (f, { a, b }) => {
      const t = f.local('i32');
      f.drop(f.tee(t, f.callValue(sq, a)));
      f.if(
        i32.gtS(b, i32.const(0)),
        () => f.set(t, i32.add(t, f.callValue(sq, b))),
        () => f.set(t, i32.sub(t, f.callValue(sq, b))),
      );
      f.result(t);
    });
    mb.define(sq, (f, { x }) => f.result(i32.mul(x, x)));
    const { exports } = instantiate(mb);
    expect(exports['sumOfSquares']!(3, 4)).toBe(25);
    expect(exports['sumOfSquares']!(3, -4)).toBe(-7);
    expect(exports['square']).toBeUndefined(); // not exported
  });

  it('writes the function names into a "name" custom section', () => {
    const mb = new ModuleBuilder();
    mb.function('first', {}, [], () => {});
    mb.function('second_σ', {}, [], () => {});
    const module = new api.Module(mb.build());
    const sections = (api.Module as unknown as { customSections(m: WasmModule, name: string): ArrayBuffer[] }).customSections;
    const [section] = sections(module, 'name');
    const bytes = new Uint8Array(section!);
    expect(bytes[0]).toBe(1); // function names subsection
    expect(new TextDecoder().decode(bytes)).toContain('second_σ');
  });

  it('a module importing a shared memory links only to a shared memory', () => {
    const mb = new ModuleBuilder().importMemory('env', 'memory', { initial: 1, maximum: 65536, shared: true });
    mb.function('get', { p: 'i32' }, ['i32'], (f, { p }) => f.result(i32.load(p)));
    const module = new api.Module(mb.build());
    const shared = new api.Memory({ initial: 1, maximum: 10, shared: true });
    new Int32Array(shared.buffer)[1] = 42;
    const instance = new api.Instance(module, { env: { memory: shared } });
    expect((instance.exports['get'] as (p: number) => number)(4)).toBe(42);
    expect(() => new api.Instance(module, { env: { memory: new api.Memory({ initial: 1 }) } })).toThrow();
  });
});

describe('malformed kernels fail at generation time, naming the problem', () => {
  const PARAMS = { x: 'i32', v: 'v128' } as const;
  type Body = (f: FunctionBuilder<typeof PARAMS>, p: { readonly x: Local<'i32'>; readonly v: Local<'v128'> }) => void;
  const fn =
    (body: Body, results: ('i32' | 'f32' | 'v128')[] = []) =>
    () =>
      new ModuleBuilder().function('bad', PARAMS, results, body);

  it('operand types, counts, lanes, alignment, shuffles', () => {
    const anyOp = (e: Expr): I32 => e as I32;
    expect(fn((f, p) => f.result(i32.add(p.x, anyOp(p.v))), ['i32'])).toThrow(/i32.add: operand 2 must be i32, got v128/);
    expect(fn((f, p) => f.emit(v128.store32Lane(p.x, p.v, 4)))).toThrow(/lane 4 is not in \[0, 4\)/);
    expect(fn((f, p) => f.emit(v128.store(p.x, p.v, { align: 5 })))).toThrow(/alignment 2\^5 exceeds the natural 2\^4/);
    expect(fn((f, p) => f.drop(v128.shuffle(p.v, p.v, [32, ...new Array<number>(15).fill(0)])))).toThrow(/shuffle/);
    expect(fn((f, p) => f.set(p.x, anyOp(p.v)))).toThrow(/local.set x: i32 local given a v128/);
    expect(fn((f, p) => f.emit(i32.add(p.x, p.x) as unknown as Expr<'void'>))).toThrow(/i32 value used as a statement/);
    expect(() => i32.const(2 ** 32)).toThrow(/i32.const/);
  });

  it('branches, results and definitions', () => {
    expect(
      fn((f) => {
        let escaped: Label | undefined;
        f.block((l) => (escaped = l));
        f.br(escaped!);
      }),
    ).toThrow(/branch to a label that does not enclose it/);
    expect(fn(() => {}, ['i32'])).toThrow(/no result given/);
    expect(fn((f, p) => f.result(p.v), ['i32'])).toThrow(/result must be i32, got v128/);
    const mb = new ModuleBuilder();
    mb.declare('later', {}, []);
    expect(() => mb.build()).toThrow(/declared but not defined: later/);
    expect(() => mb.declare('later', {}, [])).toThrow(/declared twice/);
  });
});
