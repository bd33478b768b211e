/**
 * Writing safetensors bytes. Tensors go in the given order, back to back (the format allows no
 * holes); the JSON header is space-padded to a multiple of 8 bytes so the data buffer starts
 * 8-aligned, as the reference writer does. `__metadata__` is written first, and only when given.
 */
import { writeElements } from './safetensors-data.js';
import {
  DTYPE_BYTES,
  SafetensorsError,
  dataClassName,
  dataMatchesDType,
  describeType,
  elementCountUpTo,
  formatDims,
  isSafetensorsDType,
  quoteName,
  type SafetensorsTensor,
} from './safetensors-types.js';

interface PlannedTensor {
  entry: SafetensorsTensor;
  begin: number;
}

function fail(problem: string): never {
  throw new SafetensorsError(`encodeSafetensors: ${problem}`);
}

export function encodeSafetensors(
  tensors: ReadonlyMap<string, SafetensorsTensor> | Record<string, SafetensorsTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  if (tensors === null || typeof tensors !== 'object') fail(`tensors must be a Map or an object, got ${describeType(tensors)}`);
  const list: Array<[string, SafetensorsTensor]> = tensors instanceof Map ? [...tensors] : Object.entries(tensors);

  const headerParts: string[] = [];
  if (metadata !== undefined) headerParts.push(`"__metadata__":${metadataJson(metadata)}`);
  const planned: PlannedTensor[] = [];
  let offset = 0;
  for (const [name, entry] of list) {
    const byteLength = checkEntry(name, entry);
    headerParts.push(
      `${JSON.stringify(name)}:{"dtype":"${entry.dtype}","shape":[${entry.shape.join(',')}],"data_offsets":[${offset},${offset + byteLength}]}`,
    );
    planned.push({ entry, begin: offset });
    offset += byteLength;
  }

  const header = new TextEncoder().encode(`{${headerParts.join(',')}}`);
  const paddedLength = Math.ceil(header.length / 8) * 8;
  const dataStart = 8 + paddedLength;
  const out = new Uint8Array(dataStart + offset);
  const prefix = new DataView(out.buffer);
  prefix.setUint32(0, paddedLength % 2 ** 32, true);
  prefix.setUint32(4, Math.floor(paddedLength / 2 ** 32), true);
  out.set(header, 8);
  out.fill(0x20, 8 + header.length, dataStart);
  for (const { entry, begin } of planned) writeElements(out, dataStart + begin, entry.data, entry.dtype);
  return out;
}

/** Validates one tensor and returns its size in bytes. */
function checkEntry(name: unknown, entry: unknown): number {
  if (typeof name !== 'string') fail(`tensor names must be strings, got ${describeType(name)}`);
  const tensor = `tensor ${quoteName(name)}`;
  if (name === '__metadata__') fail(`${tensor}: the name is reserved for the metadata map`);
  if (entry === null || typeof entry !== 'object') fail(`${tensor}: expected {dtype, shape, data}, got ${describeType(entry)}`);
  const { dtype, shape, data } = entry as Partial<SafetensorsTensor>;
  if (!isSafetensorsDType(dtype))
    fail(`${tensor}: unsupported dtype ${JSON.stringify(dtype) ?? String(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
  if (!Array.isArray(shape)) fail(`${tensor}: shape must be an array, got ${describeType(shape)}`);
  shape.forEach((d: unknown, i) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      fail(`${tensor}: shape ${formatDims(shape)} has dimension ${i} = ${String(d)}; dimensions must be non-negative integers`);
    }
  });
  if (!dataMatchesDType(data, dtype))
    fail(`${tensor}: dtype ${dtype} needs its data in a ${dataClassName(dtype)}, got ${describeType(data)}`);
  const count = elementCountUpTo(shape, Number.MAX_SAFE_INTEGER);
  if (count !== data.length) {
    fail(
      `${tensor}: shape ${formatDims(shape)} needs ${count === Infinity ? `more than ${Number.MAX_SAFE_INTEGER}` : count} elements but data has ${data.length}`,
    );
  }
  return count * DTYPE_BYTES[dtype];
}

function metadataJson(metadata: unknown): string {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    fail(`metadata must be an object of strings, got ${describeType(metadata)}`);
  }
  const parts: string[] = [];
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string')
      fail(`metadata value for key ${quoteName(key)} is ${describeType(value)}, not a string (safetensors metadata is string → string)`);
    parts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
  }
  return `{${parts.join(',')}}`;
}
