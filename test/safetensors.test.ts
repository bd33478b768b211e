import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SafetensorsError,
  decodeSafetensors,
  encodeSafetensors,
  fromTensor,
  toIntArray,
  toTensor,
  type SafetensorsDType,
  type SafetensorsTensor,
} from '../src/io/safetensors.js';
import { readElements, writeElements } from '../src/io/safetensors-data.js';
import { tensor } from '../src/tensor/tensor.js';
import { bfloatToNumber, halfToNumber, referenceRead } from './safetensors-reference.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const SHARED_FIXTURES = '/work/shared/fixtures';
const FIXTURE_FILES = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.safetensors'))
  .sort();

// ---------------------------------------------------------------- generators

const ALL_DTYPES: SafetensorsDType[] = ['F32', 'F64', 'I32', 'I64', 'F16', 'BF16', 'U8', 'I8'];
const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }); // rank 0..4, 0- and 1-sized dims

/** Values the dtype holds exactly, so a round trip must reproduce them bit for bit. */
function dataArb(dtype: SafetensorsDType, n: number): fc.Arbitrary<SafetensorsTensor['data']> {
  const len = { minLength: n, maxLength: n };
  switch (dtype) {
    case 'F32':
      return fc.float32Array(len);
    case 'F64':
      return fc.float64Array(len);
    case 'I32':
      return fc.int32Array(len);
    case 'I64':
      return fc.bigInt64Array(len);
    case 'U8':
      return fc.uint8Array(len);
    case 'I8':
      return fc.int8Array(len);
    case 'F16':
      return fc.array(fc.integer({ min: 0, max: 0xffff }), len).map((hs) => Float32Array.from(hs, halfToNumber));
    case 'BF16':
      return fc.array(fc.integer({ min: 0, max: 0xffff }), len).map((hs) => Float32Array.from(hs, bfloatToNumber));
  }
}

const tensorArb: fc.Arbitrary<SafetensorsTensor> = fc.tuple(fc.constantFrom(...ALL_DTYPES), shapeArb).chain(([dtype, shape]) =>
  dataArb(
    dtype,
    shape.reduce((a, b) => a * b, 1),
  ).map((data) => ({ dtype, shape, data })),
);

const nameArb = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('0', '10', '2', '__proto__', 'layers.0.wx'),
);
const tensorsArb = fc
  .uniqueArray(
    fc.tuple(
      nameArb.filter((n) => n !== '__metadata__'),
      tensorArb,
    ),
    { selector: ([name]) => name, maxLength: 6 },
  )
  .map((entries) => new Map(entries));
const metadataArb = fc.option(fc.dictionary(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' })), { nil: undefined });

/** Element lists that compare NaN equal to NaN and -0 unequal to 0. */
const values = (data: SafetensorsTensor['data']): unknown[] => Array.from(data as ArrayLike<unknown>);

// ---------------------------------------------------------------- round trip

describe('encodeSafetensors / decodeSafetensors round trip', () => {
  it('reproduces random tensor sets (all dtypes, rank 0..4, unicode names) and metadata', () => {
    fc.assert(
      fc.property(tensorsArb, metadataArb, (tensors, metadata) => {
        const bytes = encodeSafetensors(tensors, metadata);
        const decoded = decodeSafetensors(bytes);
        expect([...decoded.tensors.keys()]).toEqual([...tensors.keys()]); // header order kept, even for "0","10","2"
        for (const [name, t] of tensors) {
          const d = decoded.tensors.get(name)!;
          expect(d.dtype).toBe(t.dtype);
          expect(d.shape).toEqual(t.shape);
          expect(d.data.constructor).toBe(t.data.constructor);
          expect(values(d.data)).toEqual(values(t.data));
        }
        expect(decoded.metadata).toEqual(metadata ?? {});
      }),
      { numRuns: 300 },
    );
  });

  it('writes what an independent reader sees: given order, contiguous offsets, 8-aligned space-padded header', () => {
    fc.assert(
      fc.property(tensorsArb, metadataArb, (tensors, metadata) => {
        const bytes = encodeSafetensors(tensors, metadata);
        const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        expect(n % 8).toBe(0);
        const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
        expect(text.trimEnd().endsWith('}')).toBe(true);
        expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
        const { header, tensors: ref } = referenceRead(bytes);
        expect('__metadata__' in header).toBe(metadata !== undefined);
        let offset = 0;
        for (const [name, t] of tensors) {
          const info = header[name] as { data_offsets: [number, number] };
          expect(info.data_offsets[0]).toBe(offset);
          offset = info.data_offsets[1];
          expect(ref.get(name)!.values).toEqual(values(t.data));
        }
        expect(8 + n + offset).toBe(bytes.length);
      }),
      { numRuns: 200 },
    );
  });

  it('reads correctly at unaligned offsets and from a Uint8Array view at an odd byteOffset', () => {
    const tensors = new Map<string, SafetensorsTensor>([
      ['odd', { dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 3]) }],
      ['f32', { dtype: 'F32', shape: [2], data: Float32Array.from([1.5, -2.25]) }],
      ['f64', { dtype: 'F64', shape: [1], data: Float64Array.from([Math.PI]) }],
      ['i64', { dtype: 'I64', shape: [1], data: BigInt64Array.from([-(2n ** 62n)]) }],
    ]);
    const bytes = encodeSafetensors(tensors);
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const decoded = decodeSafetensors(new Uint8Array(shifted.buffer, 3, bytes.length));
    expect(Array.from(decoded.tensors.get('f32')!.data as Float32Array)).toEqual([1.5, -2.25]);
    expect(decoded.tensors.get('f64')!.data[0]).toBe(Math.PI);
    expect(decoded.tensors.get('i64')!.data[0]).toBe(-(2n ** 62n));
    expect(decodeSafetensors(bytes.slice().buffer).tensors.get('f64')!.data[0]).toBe(Math.PI); // ArrayBuffer input
  });

  it('copies data out: the decoded arrays never alias the input bytes', () => {
    const bytes = encodeSafetensors({
      a: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) },
      b: { dtype: 'U8', shape: [1], data: Uint8Array.from([7]) },
    });
    const decoded = decodeSafetensors(bytes);
    for (const t of decoded.tensors.values()) expect(t.data.buffer).not.toBe(bytes.buffer);
    bytes.fill(0xff, bytes.length - 9);
    expect(Array.from(decoded.tensors.get('a')!.data as Float32Array)).toEqual([1, 2]);
    expect(decoded.tensors.get('b')!.data[0]).toBe(7);
  });

  it('little-endian fast path and DataView (big-endian host) path agree, read and write, at any offset', () => {
    const dtypes: SafetensorsDType[] = ['F32', 'F64', 'I32', 'I64'];
    fc.assert(
      fc.property(fc.constantFrom(...dtypes), fc.uint8Array({ maxLength: 80 }), fc.nat(7), (dtype, raw, start) => {
        const size = { F32: 4, F64: 8, I32: 4, I64: 8 }[dtype as 'F32'];
        const count = Math.floor(Math.max(0, raw.length - start) / size);
        const fast = readElements(raw, start, count, dtype, true);
        const slow = readElements(raw, start, count, dtype, false);
        expect(new Uint8Array(slow.buffer)).toEqual(new Uint8Array(fast.buffer)); // bit-identical, NaN payloads included
        const outFast = new Uint8Array(count * size + start);
        const outSlow = new Uint8Array(count * size + start);
        writeElements(outFast, start, fast, dtype, true);
        writeElements(outSlow, start, fast, dtype, false);
        expect(outSlow).toEqual(outFast);
        expect(outFast.subarray(start)).toEqual(raw.subarray(start, start + count * size));
      }),
    );
    // Regression: a signalling NaN (0xff810000) used to come back quieted (0xffc10000) on the DataView path.
    const sNaN = Uint8Array.from([0, 0, 0x81, 0xff]);
    expect(new Uint8Array(readElements(sNaN, 0, 1, 'F32', false).buffer)).toEqual(sNaN);
    const out = new Uint8Array(4);
    writeElements(out, 0, new Float32Array(sNaN.buffer), 'F32', false);
    expect(out).toEqual(sNaN);
  });

  it('encodes an empty set as "{}" padded to 8 bytes, and metadata only when given', () => {
    const empty = encodeSafetensors(new Map());
    expect(Array.from(empty)).toEqual([8, 0, 0, 0, 0, 0, 0, 0, ...Array.from(new TextEncoder().encode('{}      '))]);
    expect(decodeSafetensors(empty)).toEqual({ tensors: new Map(), metadata: {} });
    const withMeta = decodeSafetensors(encodeSafetensors({}, { format: 'pt' }));
    expect(withMeta.metadata).toEqual({ format: 'pt' });
  });
});

// ---------------------------------------------------------------- fixtures

describe('PyTorch fixtures', () => {
  it('has all 7 fixture files locally', () => {
    expect(FIXTURE_FILES).toHaveLength(7);
  });

  it.skipIf(!existsSync(SHARED_FIXTURES))('local copies are byte-identical to the shared fixtures', () => {
    for (const f of FIXTURE_FILES) expect(readFileSync(join(FIXTURES, f)).equals(readFileSync(join(SHARED_FIXTURES, f)))).toBe(true);
  });

  it.each(FIXTURE_FILES)('%s decodes to what the naive reader sees, and re-encodes byte for byte', (file) => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, file)));
    const decoded = decodeSafetensors(bytes, { source: file });
    const { header, tensors: ref } = referenceRead(bytes);
    expect(decoded.tensors.size).toBe(ref.size);
    for (const [name, r] of ref) {
      const d = decoded.tensors.get(name)!;
      expect(d.dtype).toBe(r.dtype);
      expect(d.shape).toEqual(r.shape);
      expect(values(d.data)).toEqual(r.values);
    }
    expect(decoded.metadata).toEqual(header['__metadata__']);
    // The fixtures were written by Python's json.dumps: our writer reproduces that writer exactly.
    expect(encodeSafetensors(decoded.tensors, decoded.metadata)).toEqual(bytes);
  });

  it('mlstm_small: __metadata__.kind is "mlstm" and the tensors match its config', () => {
    const file = decodeSafetensors(readFileSync(join(FIXTURES, 'mlstm_small.safetensors')), { source: 'mlstm_small.safetensors' });
    expect(file.metadata['kind']).toBe('mlstm');
    const config = JSON.parse(file.metadata['config']!) as { steps: number; batch: number; input: number; hidden: number };
    const { steps: T, batch: B, input: D, hidden: H } = config;
    const x = toTensor(file.tensors.get('x')!, 'x');
    expect(x.dtype).toBe('float64');
    expect(x.shape).toEqual([T, B, D]);
    expect(file.tensors.get('whm')!.shape).toEqual([4 * H, H]);
    expect(file.tensors.get('out.h')!.shape).toEqual([T, B, H]);
    expect(file.tensors.get('out.loss')!.shape).toEqual([1]);
    for (const t of file.tensors.values()) expect(t.dtype).toBe('F64');
  });
});

// ---------------------------------------------------------------- conversions

describe('toTensor / toIntArray / fromTensor', () => {
  it('fromTensor → encode → decode → toTensor reproduces float32 and float64 tensors', () => {
    fc.assert(
      fc.property(shapeArb, fc.boolean(), fc.infiniteStream(fc.double({ noNaN: true })), (shape, wide, stream) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const t = tensor([...stream.take(n)], shape, wide ? 'float64' : 'float32');
        const entry = fromTensor(t);
        expect(entry.dtype).toBe(wide ? 'F64' : 'F32');
        const back = toTensor(decodeSafetensors(encodeSafetensors({ t: entry })).tensors.get('t')!, 't');
        expect(back.dtype).toBe(t.dtype);
        expect(back.shape).toEqual(t.shape);
        expect(Array.from(back.data)).toEqual(Array.from(t.data));
      }),
    );
  });

  it('fromTensor converts dtype on request and copies', () => {
    const t = tensor([1.1, 2], [2], 'float64');
    const f32 = fromTensor(t, 'F32');
    expect(f32.data).toBeInstanceOf(Float32Array);
    expect(f32.data[0]).toBe(Math.fround(1.1));
    expect(fromTensor(tensor([1, 2]), 'F64').data).toBeInstanceOf(Float64Array);
    const copy = fromTensor(t);
    (copy.data as Float64Array)[0] = 9;
    expect(t.data[0]).toBe(1.1);
    expect(() => fromTensor(t, 'F16' as 'F32')).toThrow(/fromTensor: dtype must be 'F32' or 'F64'/);
  });

  it('toTensor widens F16/BF16 to float32, copies, and refuses integer dtypes naming the tensor', () => {
    const entry: SafetensorsTensor = { dtype: 'BF16', shape: [2], data: Float32Array.from([1, -2]) };
    const t = toTensor(entry, 'e');
    expect(t.dtype).toBe('float32');
    t.data[0] = 5;
    expect(entry.data[0]).toBe(1);
    expect(() => toTensor({ dtype: 'I32', shape: [1], data: Int32Array.of(1) }, 'tokens')).toThrow(
      /toTensor: tensor "tokens" has integer dtype I32; read it with toIntArray/,
    );
    expect(() => toTensor({ dtype: 'F32', shape: [3], data: Float32Array.of(1) }, 'w')).toThrow(
      /toTensor: tensor "w": shape \[3\] does not match its 1 elements/,
    );
    expect(() => toTensor({ dtype: 'F32', shape: [1], data: Float64Array.of(1) }, 'w')).toThrow(
      /tensor "w": dtype F32 needs its data in a Float32Array, got Float64Array/,
    );
  });

  it('toIntArray reads I32/I64/U8/I8 and names tensor and element for out-of-range I64', () => {
    expect(Array.from(toIntArray({ dtype: 'U8', shape: [2], data: Uint8Array.of(0, 255) }))).toEqual([0, 255]);
    expect(Array.from(toIntArray({ dtype: 'I8', shape: [2], data: Int8Array.of(-128, 127) }))).toEqual([-128, 127]);
    expect(Array.from(toIntArray({ dtype: 'I64', shape: [2], data: BigInt64Array.of(-(2n ** 31n), 2n ** 31n - 1n) }))).toEqual([
      -(2 ** 31),
      2 ** 31 - 1,
    ]);
    const tokens: SafetensorsTensor = { dtype: 'I32', shape: [2], data: Int32Array.of(3, 4) };
    const read = toIntArray(tokens);
    read[0] = 0;
    expect(tokens.data[0]).toBe(3);
    expect(() => toIntArray({ dtype: 'I64', shape: [2, 2], data: BigInt64Array.of(0n, 0n, 0n, 2n ** 31n) }, 'step')).toThrow(
      /toIntArray: tensor "step": I64 value 2147483648 at element 3 \(index \[1,1\]\) is outside the int32 range/,
    );
    expect(() => toIntArray({ dtype: 'F32', shape: [1], data: Float32Array.of(1) }, 'w')).toThrow(
      /tensor "w" has float dtype F32; read it with toTensor/,
    );
  });

  it('every conversion failure is a SafetensorsError', () => {
    expect(() => toIntArray({ dtype: 'F64', shape: [], data: Float64Array.of(1) })).toThrow(SafetensorsError);
    expect(() => toTensor({ dtype: 'X' as 'F32', shape: [], data: Float32Array.of(1) })).toThrow(SafetensorsError);
  });
});

// ---------------------------------------------------------------- encoder validation

describe('encodeSafetensors rejects bad input, naming the tensor', () => {
  const f32 = (n: number): SafetensorsTensor => ({ dtype: 'F32', shape: [n], data: new Float32Array(n) });
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['reserved name', () => encodeSafetensors({ __metadata__: f32(1) }), /tensor "__metadata__": the name is reserved/],
    ['unknown dtype', () => encodeSafetensors({ w: { ...f32(1), dtype: 'F8' as 'F32' } }), /tensor "w": unsupported dtype "F8"/],
    [
      'wrong data class',
      () => encodeSafetensors({ w: { dtype: 'I32', shape: [1], data: new Float32Array(1) } }),
      /tensor "w": dtype I32 needs its data in a Int32Array, got Float32Array/,
    ],
    [
      'F16 needs float32',
      () => encodeSafetensors({ h: { dtype: 'F16', shape: [1], data: new Float64Array(1) } }),
      /tensor "h": dtype F16 needs its data in a Float32Array/,
    ],
    [
      'length mismatch',
      () => encodeSafetensors({ w: { ...f32(2), shape: [3] } }),
      /tensor "w": shape \[3\] needs 3 elements but data has 2/,
    ],
    ['negative dim', () => encodeSafetensors({ w: { ...f32(0), shape: [-1] } }), /tensor "w": shape \[-1\] has dimension 0 = -1/],
    [
      'overflowing shape',
      () => encodeSafetensors({ w: { ...f32(1), shape: [2 ** 52, 2 ** 52] } }),
      /tensor "w": shape .* needs more than 9007199254740991 elements/,
    ],
    [
      'metadata value not a string',
      () => encodeSafetensors({}, { steps: 3 as unknown as string }),
      /metadata value for key "steps" is number, not a string/,
    ],
    [
      'metadata not an object',
      () => encodeSafetensors({}, ['x'] as unknown as Record<string, string>),
      /metadata must be an object of strings, got array/,
    ],
  ];
  it.each(cases)('%s', (_label, run, message) => {
    expect(run).toThrow(SafetensorsError);
    expect(run).toThrow(message);
  });
});
