/**
 * Hostile input: each malformed case must be a SafetensorsError naming the problem (and the tensor,
 * offset and source where there is one); random corruption of valid files must either decode or
 * throw SafetensorsError — never another exception, an out-of-bounds read, a hang or a huge allocation.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SafetensorsError, decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from '../src/io/safetensors.js';
import { rawFile } from './safetensors-reference.js';

const entry = (dtype: string, shape: unknown, offsets: unknown): object => ({ dtype, shape, data_offsets: offsets });

/** Runs decode and returns the SafetensorsError it must throw. */
function decodeError(bytes: Uint8Array, source?: string): SafetensorsError {
  try {
    decodeSafetensors(bytes, source === undefined ? {} : { source });
  } catch (error) {
    expect(error).toBeInstanceOf(SafetensorsError);
    return error as SafetensorsError;
  }
  throw new Error('expected decodeSafetensors to throw');
}

describe('decodeSafetensors: malformed files', () => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['empty input', new Uint8Array(0), /file is 0 bytes, shorter than the 8-byte header-length prefix/],
    ['7 bytes', new Uint8Array(7), /file is 7 bytes, shorter than the 8-byte/],
    ['header length past the end', rawFile('{}', [], 1000), /header length 1000 \(bytes 0-7\) runs past the end of the file \(10 bytes/],
    ['header length over the 100 MB cap', rawFile('{}', [], 100_000_001), /header length 100000001 .* exceeds the 100000000-byte limit/],
    ['header length needing 64 bits', rawFile('{}', [], 2n ** 40n), /header length 1099511627776 .* exceeds/],
    ['header length 2^64-1', rawFile('{}', [], 2n ** 64n - 1n), /header length 18446744073709551615 .* exceeds/],
    ['empty header', rawFile(''), /header must start with '\{' at byte 8 \(found an empty header\)/],
    ['header not starting with {', rawFile(' {}'), /must start with '\{' at byte 8 \(found byte 0x20\)/],
    ['header is an array', rawFile('[]'), /must start with '\{'/],
    ['invalid JSON', rawFile('{"w": {"dtype": "F32",}}'), /header is not valid JSON: .* at header character 22/],
    [
      'trailing garbage after JSON',
      rawFile('{} x'),
      /header is not valid JSON: unexpected content after the JSON value at header character 3/,
    ],
    ['entry not an object', rawFile({ w: 3 }), /tensor "w": entry is a number, not an object/],
    ['missing dtype', rawFile({ w: { shape: [], data_offsets: [0, 0] } }), /tensor "w": missing "dtype"/],
    ['missing shape', rawFile({ w: { dtype: 'F32', data_offsets: [0, 0] } }), /tensor "w": missing "shape"/],
    ['missing data_offsets', rawFile({ w: { dtype: 'F32', shape: [0] } }), /tensor "w": missing "data_offsets"/],
    ['dtype not a string', rawFile({ w: entry(5 as unknown as string, [1], [0, 4]) }), /tensor "w": "dtype" is a number, not a string/],
    ['unknown dtype', rawFile({ w: entry('F8_E4M3', [1], [0, 1]) }, [0]), /tensor "w": unsupported dtype "F8_E4M3" \(supported: /],
    ['lower-case dtype', rawFile({ w: entry('f32', [1], [0, 4]) }, [0, 0, 0, 0]), /tensor "w": unsupported dtype "f32"/],
    ['shape not an array', rawFile({ w: entry('F32', '1', [0, 4]) }, [0, 0, 0, 0]), /tensor "w": "shape" is a string, not an array/],
    [
      'negative dim',
      rawFile({ w: entry('F32', [1, -2], [0, 0]) }),
      /tensor "w": shape \[1,-2\] has dimension 1 = -2; dimensions must be non-negative integers/,
    ],
    ['fractional dim', rawFile({ w: entry('F32', [1.5], [0, 0]) }), /tensor "w": shape \[1.5\] has dimension 0 = 1.5/],
    ['string dim', rawFile({ w: entry('F32', ['2'], [0, 8]) }, new Array(8).fill(0)), /tensor "w": shape \["2"\] has dimension 0 = "2"/],
    [
      'dim beyond 2^53',
      rawFile('{"w":{"dtype":"U8","shape":[9007199254740993],"data_offsets":[0,0]}}'),
      /tensor "w": shape .* has dimension 0/,
    ],
    [
      'one offset',
      rawFile({ w: entry('F32', [], [0]) }),
      /tensor "w": "data_offsets" must be an array \[begin, end\] of two integers \(found 1 items\)/,
    ],
    ['offsets an object', rawFile({ w: entry('F32', [], { a: 0 }) }), /tensor "w": "data_offsets" must be .* \(found an object\)/],
    [
      'fractional offset',
      rawFile({ w: entry('U8', [1], [0, 1.5]) }, [0, 0]),
      /tensor "w": data_offsets \[0,1.5\] must be non-negative integers/,
    ],
    ['negative offset', rawFile({ w: entry('U8', [1], [-1, 0]) }, [0]), /tensor "w": data_offsets \[-1,0\] must be non-negative integers/],
    ['begin > end', rawFile({ w: entry('U8', [0], [4, 0]) }, [0, 0, 0, 0]), /tensor "w": data_offsets \[4,0\] have begin > end/],
    [
      'end past the buffer',
      rawFile({ w: entry('F32', [2], [0, 8]) }, [0, 0, 0, 0]),
      /tensor "w": data_offsets \[0,8\] end past the data buffer, which holds 4 bytes \(file offset \d+ > file size \d+\)/,
    ],
    [
      'size mismatch',
      rawFile({ w: entry('F32', [3], [0, 8]) }, new Array(8).fill(0)),
      /tensor "w": data_offsets \[0,8\] hold 8 bytes but shape \[3\] of F32 \(4 bytes each\) needs 12/,
    ],
    [
      'overflowing shape',
      rawFile({ w: entry('F64', [2 ** 40, 2 ** 40, 2 ** 40], [0, 8]) }, new Array(8).fill(0)),
      /tensor "w": .* hold 8 bytes but shape .* needs more than 9007199254740991/,
    ],
    [
      'overlap',
      rawFile({ a: entry('U8', [4], [0, 4]), b: entry('U8', [4], [2, 6]) }, new Array(6).fill(0)),
      /tensors "a" \(data_offsets \[0,4\]\) and "b" \(data_offsets \[2,6\]\) overlap/,
    ],
    [
      'same range twice',
      rawFile({ a: entry('U8', [2], [0, 2]), b: entry('U8', [2], [0, 2]) }, [0, 0]),
      /tensors "a" .* and "b" .* overlap/,
    ],
    [
      'hole',
      rawFile({ a: entry('U8', [2], [0, 2]), b: entry('U8', [2], [3, 5]) }, new Array(5).fill(0)),
      /data bytes \[2,3\) \(file offset \d+\) before tensor "b" belong to no tensor/,
    ],
    [
      'trailing bytes',
      rawFile({ a: entry('U8', [2], [0, 2]) }, [0, 0, 9]),
      /1 trailing bytes after the last tensor \(data offset 2, file offset \d+\)/,
    ],
    ['metadata not an object', rawFile({ __metadata__: ['x'] }), /"__metadata__" is an array, not an object of strings/],
    [
      'metadata value not a string',
      rawFile({ __metadata__: { step: 3 } }),
      /"__metadata__" value for key "step" is a number, not a string/,
    ],
    [
      'duplicate tensor name',
      rawFile('{"w":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"w":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'),
      /header has the key "w" twice \(at header character 53\); names must be unique/,
    ],
    ['duplicate field', rawFile('{"w":{"dtype":"U8","dtype":"I8","shape":[0],"data_offsets":[0,0]}}'), /header has the key "dtype" twice/],
    [
      'deep nesting',
      rawFile(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`),
      /header is not valid JSON: nesting deeper than 64 levels/,
    ],
  ];

  it.each(cases)('%s', (_label, bytes, message) => {
    expect(decodeError(bytes).message).toMatch(message);
  });

  it('invalid UTF-8 in the header', () => {
    const header = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x7b, 0x7d, 0x7d]); // {"\xff":{}}
    const bytes = new Uint8Array(8 + header.length);
    bytes[0] = header.length;
    bytes.set(header, 8);
    expect(decodeError(bytes).message).toMatch(/header \(bytes 8-15\) is not valid UTF-8/);
  });

  it('names the source in every message when given', () => {
    for (const [, bytes] of cases)
      expect(decodeError(bytes, 'ckpt/model.safetensors').message).toMatch(/^decodeSafetensors: ckpt\/model.safetensors: /);
  });

  it('rejects non-byte input with a SafetensorsError', () => {
    expect(() => decodeSafetensors('abc' as unknown as Uint8Array)).toThrow(/expected a Uint8Array or ArrayBuffer, got string/);
    expect(() => decodeSafetensors(null as unknown as Uint8Array)).toThrow(SafetensorsError);
  });

  it('shortens absurdly long names in messages', () => {
    const name = 'n'.repeat(100_000);
    const message = decodeError(rawFile({ [name]: 1 })).message;
    expect(message.length).toBeLessThan(400);
  });

  it('accepts what the format allows: empty tensors, rank 0, spare whitespace, unknown entry fields, __proto__ keys', () => {
    const bytes = rawFile(
      '{ "__metadata__" : {"__proto__":"x"},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},\n"s":{"dtype":"I8","shape":[],"data_offsets":[0,1],"extra":true} }   ',
      [0xfe],
    );
    const decoded = decodeSafetensors(bytes);
    expect(decoded.tensors.get('e')).toEqual({ dtype: 'F32', shape: [0, 3], data: new Float32Array(0) });
    expect(decoded.tensors.get('s')!.data[0]).toBe(-2);
    expect(Object.getOwnPropertyDescriptor(decoded.metadata, '__proto__')?.value).toBe('x');
    expect(Object.getPrototypeOf(decoded.metadata)).toBe(Object.prototype);
  });
});

// ---------------------------------------------------------------- fuzz

const smallTensorArb: fc.Arbitrary<SafetensorsTensor> = fc.oneof(
  fc.float32Array({ maxLength: 6 }).map((data): SafetensorsTensor => ({ dtype: 'F32', shape: [data.length], data })),
  fc.float64Array({ maxLength: 4 }).map((data): SafetensorsTensor => ({ dtype: 'F64', shape: [1, data.length], data })),
  fc.int8Array({ maxLength: 5 }).map((data): SafetensorsTensor => ({ dtype: 'I8', shape: [data.length], data })),
  fc.bigInt64Array({ maxLength: 3 }).map((data): SafetensorsTensor => ({ dtype: 'I64', shape: [data.length], data })),
  fc.float32Array({ maxLength: 4 }).map((data): SafetensorsTensor => ({ dtype: 'F16', shape: [data.length], data })),
);
const validFileArb = fc
  .tuple(
    fc.uniqueArray(
      fc.tuple(
        fc.string({ maxLength: 4 }).filter((n) => n !== '__metadata__'),
        smallTensorArb,
      ),
      { selector: ([n]) => n, maxLength: 4 },
    ),
    fc.boolean(),
  )
  .map(([entries, meta]) => encodeSafetensors(new Map(entries), meta ? { kind: 'mlstm', n: '1' } : undefined));

/** Decoding must succeed or throw SafetensorsError; anything decoded must be self-consistent and re-encodable. */
function decodesOrRejects(bytes: Uint8Array): void {
  let file;
  try {
    file = decodeSafetensors(bytes);
  } catch (error) {
    if (!(error instanceof SafetensorsError)) throw error;
    return;
  }
  for (const t of file.tensors.values()) expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
  decodeSafetensors(encodeSafetensors(file.tensors, file.metadata));
}

describe('decodeSafetensors: fuzzing', () => {
  it('random truncations of valid files', () => {
    fc.assert(
      fc.property(validFileArb, fc.nat(), (bytes, cut) => decodesOrRejects(bytes.subarray(0, cut % (bytes.length + 1)))),
      { numRuns: 1000 },
    );
  });

  it('random byte overwrites of valid files (anywhere, and concentrated in the header)', () => {
    const edit = fc.tuple(
      fc.nat(),
      fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...Array.from('{}[]",:-.0123456789eE ', (c) => c.charCodeAt(0)))),
    );
    fc.assert(
      fc.property(validFileArb, fc.array(edit, { minLength: 1, maxLength: 6 }), fc.boolean(), (bytes, edits, headerOnly) => {
        const corrupt = bytes.slice();
        const headerEnd = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
        for (const [position, value] of edits) corrupt[position % (headerOnly ? headerEnd : corrupt.length)] = value;
        decodesOrRejects(corrupt);
      }),
      { numRuns: 3000 },
    );
  });

  it('numbers in the header replaced by hostile values', () => {
    const hostile = fc.constantFrom(
      '-1',
      '1.5',
      '1e400',
      '-0',
      '9007199254740993',
      '18446744073709551616',
      '4294967296',
      '0',
      '1',
      '99999999',
      'null',
      '"7"',
      '[]',
    );
    fc.assert(
      fc.property(validFileArb, fc.nat(), hostile, (bytes, pick, value) => {
        const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
        const numbers = [...text.matchAll(/\d+/g)];
        if (numbers.length === 0) return;
        const m = numbers[pick % numbers.length]!;
        const mutated = text.slice(0, m.index) + value + text.slice(m.index + m[0].length);
        decodesOrRejects(rawFile(mutated, bytes.subarray(8 + n)));
      }),
      { numRuns: 2000 },
    );
  });

  it('random bytes and random JSON headers', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => decodesOrRejects(bytes)),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.json(), fc.uint8Array({ maxLength: 16 }), (json, data) => decodesOrRejects(rawFile(json, data))),
      { numRuns: 1000 },
    );
  });
});
