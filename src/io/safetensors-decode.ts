/**
 * Reading safetensors bytes, treating the input as hostile.
 *
 * Layout: 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON (starting with '{',
 * possibly space-padded), then the data buffer. Every number in the header is validated before it
 * is used, and every tensor's byte range against the buffer and against the others, before any
 * tensor is allocated: the total allocation is therefore bounded by the file size (×2 for F16/BF16,
 * which widen to float32). Rules follow the reference implementation (huggingface/safetensors):
 * header ≤ 100,000,000 bytes; names unique; ranges sorted by offset must tile the data buffer
 * exactly — no overlap, no hole, no trailing bytes (which also rules out polyglot files).
 */
import { JsonObject, JsonSyntaxError, parseJson, type JsonValue } from './safetensors-json.js';
import { readElements } from './safetensors-data.js';
import {
  DTYPE_BYTES,
  SafetensorsError,
  describeType,
  elementCountUpTo,
  formatDims,
  isSafetensorsDType,
  quoteName,
  type SafetensorsDType,
  type SafetensorsFile,
  type SafetensorsTensor,
} from './safetensors-types.js';

/** The reference implementation's limit on the JSON header, against header-bomb files. */
export const MAX_HEADER_BYTES = 100_000_000;

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
  count: number;
}

export function decodeSafetensors(input: Uint8Array | ArrayBuffer, options: { source?: string } = {}): SafetensorsFile {
  const where = options.source !== undefined ? `decodeSafetensors: ${options.source}: ` : 'decodeSafetensors: ';
  const fail: Fail = (problem, cause) => {
    throw new SafetensorsError(where + problem, cause === undefined ? undefined : { cause });
  };

  let bytes: Uint8Array;
  if (input instanceof Uint8Array) bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  else if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
  else return fail(`expected a Uint8Array or ArrayBuffer, got ${describeType(input)}`);

  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header-length prefix`);
  const headerLengthLow = (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16)) + bytes[3]! * 2 ** 24;
  const headerLengthHigh = (bytes[4]! | (bytes[5]! << 8) | (bytes[6]! << 16) | (bytes[7]! << 24)) >>> 0;
  if (headerLengthHigh !== 0 || headerLengthLow > MAX_HEADER_BYTES) {
    const n = (BigInt(headerLengthHigh) << 32n) | BigInt(headerLengthLow);
    fail(`header length ${n} (bytes 0-7) exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const headerLength = headerLengthLow;
  if (8 + headerLength > bytes.length) {
    fail(
      `header length ${headerLength} (bytes 0-7) runs past the end of the file (${bytes.length} bytes leave room for ${bytes.length - 8})`,
    );
  }
  if (headerLength === 0 || bytes[8] !== 0x7b) {
    fail(
      `header must start with '{' at byte 8 (found ${headerLength === 0 ? 'an empty header' : `byte 0x${bytes[8]!.toString(16).padStart(2, '0')}`})`,
    );
  }

  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch (error) {
    fail(`header (bytes 8-${8 + headerLength - 1}) is not valid UTF-8`, error);
  }
  let root: JsonValue = null;
  try {
    root = parseJson(text);
  } catch (error) {
    if (error instanceof JsonSyntaxError && error.duplicateKey !== undefined) {
      fail(
        `header has the key ${quoteName(error.duplicateKey)} twice (at header character ${error.position}); names must be unique`,
        error,
      );
    }
    fail(`header is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  if (!(root instanceof JsonObject)) return fail(`header is not a JSON object (found ${describeJson(root)})`);

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const entries: HeaderEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of root.entries) {
    if (name === '__metadata__') metadata = parseMetadata(value, fail);
    else entries.push(parseEntry(name, value, dataLength, dataStart, fail));
  }
  checkTiling(entries, dataLength, dataStart, fail);

  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: readElements(bytes, dataStart + e.begin, e.count, e.dtype) });
  }
  return { tensors, metadata };
}

type Fail = (problem: string, cause?: unknown) => never;

function describeJson(value: JsonValue): string {
  if (value instanceof JsonObject) return 'an object';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return `a ${typeof value}`;
}

function isIndex(value: JsonValue): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function parseEntry(name: string, value: JsonValue, dataLength: number, dataStart: number, fail: Fail): HeaderEntry {
  const tensor = `tensor ${quoteName(name)}`;
  if (!(value instanceof JsonObject))
    return fail(`${tensor}: entry is ${describeJson(value)}, not an object with dtype, shape and data_offsets`);
  const field = (key: string): JsonValue | undefined => value.entries.find(([k]) => k === key)?.[1];
  const dtype = field('dtype');
  const shape = field('shape');
  const offsets = field('data_offsets');
  if (dtype === undefined) fail(`${tensor}: missing "dtype"`);
  if (shape === undefined) fail(`${tensor}: missing "shape"`);
  if (offsets === undefined) fail(`${tensor}: missing "data_offsets"`);

  if (typeof dtype !== 'string') return fail(`${tensor}: "dtype" is ${describeJson(dtype)}, not a string`);
  if (!isSafetensorsDType(dtype)) {
    return fail(`${tensor}: unsupported dtype ${quoteName(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
  }
  if (!Array.isArray(shape)) return fail(`${tensor}: "shape" is ${describeJson(shape)}, not an array`);
  shape.forEach((d, i) => {
    if (!isIndex(d))
      fail(
        `${tensor}: shape ${formatDims(shape)} has dimension ${i} = ${JSON.stringify(d) ?? String(d)}; dimensions must be non-negative integers`,
      );
  });
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    return fail(
      `${tensor}: "data_offsets" must be an array [begin, end] of two integers (found ${Array.isArray(offsets) ? `${offsets.length} items` : describeJson(offsets)})`,
    );
  }
  const [rawBegin, rawEnd] = offsets;
  if (!isIndex(rawBegin!) || !isIndex(rawEnd!)) {
    return fail(`${tensor}: data_offsets ${formatDims(offsets)} must be non-negative integers`);
  }
  const begin = rawBegin + 0; // + 0 turns a JSON "-0" into 0
  const end = rawEnd + 0;
  if (begin > end) fail(`${tensor}: data_offsets [${begin},${end}] have begin > end`);
  if (end > dataLength) {
    fail(
      `${tensor}: data_offsets [${begin},${end}] end past the data buffer, which holds ${dataLength} bytes (file offset ${dataStart + end} > file size ${dataStart + dataLength})`,
    );
  }
  const dims = (shape as number[]).map((d) => d + 0);
  const elementBytes = DTYPE_BYTES[dtype];
  const byteLength = end - begin;
  // Checked against the bytes present before anything is allocated; an absurd shape gives Infinity, not overflow.
  const count = elementCountUpTo(dims, Number.MAX_SAFE_INTEGER);
  if (count * elementBytes !== byteLength) {
    const needed = count === Infinity ? `more than ${Number.MAX_SAFE_INTEGER}` : String(count * elementBytes);
    fail(
      `${tensor}: data_offsets [${begin},${end}] hold ${byteLength} bytes but shape ${formatDims(dims)} of ${dtype} (${elementBytes} bytes each) needs ${needed}`,
    );
  }
  return { name, dtype, shape: dims, begin, end, count };
}

/** Sorted by offset, the ranges must cover the data buffer exactly once. */
function checkTiling(entries: readonly HeaderEntry[], dataLength: number, dataStart: number, fail: Fail): void {
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: HeaderEntry | undefined;
  for (const e of sorted) {
    if (previous !== undefined && e.begin < covered) {
      fail(
        `tensors ${quoteName(previous.name)} (data_offsets [${previous.begin},${previous.end}]) and ${quoteName(e.name)} (data_offsets [${e.begin},${e.end}]) overlap`,
      );
    }
    if (e.begin > covered) {
      fail(
        `data bytes [${covered},${e.begin}) (file offset ${dataStart + covered}) before tensor ${quoteName(e.name)} belong to no tensor; the format allows no holes`,
      );
    }
    covered = e.end;
    previous = e;
  }
  if (covered !== dataLength) {
    fail(
      `${dataLength - covered} trailing bytes after the last tensor (data offset ${covered}, file offset ${dataStart + covered}) belong to no tensor`,
    );
  }
}

function parseMetadata(value: JsonValue, fail: Fail): Record<string, string> {
  if (!(value instanceof JsonObject)) return fail(`"__metadata__" is ${describeJson(value)}, not an object of strings`);
  const metadata: Record<string, string> = {};
  for (const [key, v] of value.entries) {
    if (typeof v !== 'string') fail(`"__metadata__" value for key ${quoteName(key)} is ${describeJson(v)}, not a string`);
    // defineProperty, not assignment: a key named "__proto__" must stay data, not change the prototype.
    Object.defineProperty(metadata, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return metadata;
}
