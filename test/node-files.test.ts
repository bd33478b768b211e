/**
 * Node file layer, in a fresh temporary directory. Failures midway through an atomic write are
 * simulated by wrapping node:fs / node:fs/promises (vi.mock delegates to the real modules unless a
 * test arms a fault), so the real code path runs up to the injected error.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as realFsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SafetensorsError, decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from '../src/io/safetensors.js';
import {
  readSafetensorsFile,
  readSafetensorsFileSync,
  writeFileAtomic,
  writeFileAtomicSync,
  writeSafetensorsFile,
  writeSafetensorsFileSync,
} from '../src/node/files.js';

const faults = vi.hoisted(() => ({ failWriteMidway: false, failRename: false }));

function injected(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected failure, ${syscall}`), { code, syscall });
}

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...real,
    // A handle whose write puts down half the bytes and then fails, like a disk filling up.
    open: async (...args: Parameters<typeof real.open>) => {
      const handle = await real.open(...args);
      if (!faults.failWriteMidway) return handle;
      return new Proxy(handle, {
        get(target, key) {
          if (key === 'write') {
            return async (buffer: Uint8Array, offset: number, length: number, position: number) => {
              await target.write(buffer, offset, Math.floor(length / 2), position);
              throw injected('ENOSPC', 'write');
            };
          }
          const value: unknown = Reflect.get(target, key, target);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
    rename: async (...args: Parameters<typeof real.rename>) => {
      if (faults.failRename) throw injected('EIO', 'rename');
      return real.rename(...args);
    },
  };
});

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    writeSync: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => {
      if (!faults.failWriteMidway) return real.writeSync(fd, buffer, offset, length, position);
      real.writeSync(fd, buffer, offset, Math.floor(length / 2), position);
      throw injected('ENOSPC', 'write');
    },
    renameSync: (from: string, to: string) => {
      if (faults.failRename) throw injected('EIO', 'rename');
      real.renameSync(from, to);
    },
  };
});

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mlstm-files-'));
});
afterEach(() => {
  faults.failWriteMidway = false;
  faults.failRename = false;
  rmSync(dir, { recursive: true, force: true });
});

const sample = (): Map<string, SafetensorsTensor> =>
  new Map<string, SafetensorsTensor>([
    ['layers.0.wx', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
    ['step', { dtype: 'I64', shape: [], data: BigInt64Array.of(7n) }],
  ]);
const bigBytes = (): Uint8Array => encodeSafetensors({ w: { dtype: 'F64', shape: [4096], data: new Float64Array(4096).fill(0.5) } });

type Flavour = 'async' | 'sync';
const api = {
  async: { read: readSafetensorsFile, writeAtomic: writeFileAtomic, writeFile: writeSafetensorsFile },
  sync: {
    read: async (p: string) => readSafetensorsFileSync(p),
    writeAtomic: async (p: string, b: Uint8Array) => writeFileAtomicSync(p, b),
    writeFile: async (p: string, t: Map<string, SafetensorsTensor>, m?: Record<string, string>) => writeSafetensorsFileSync(p, t, m),
  },
} as const;

async function rejection(promise: Promise<unknown>): Promise<SafetensorsError> {
  const error = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SafetensorsError);
  return error as SafetensorsError;
}

describe.each(['async', 'sync'] as const)('%s', (flavour: Flavour) => {
  const { read, writeAtomic, writeFile } = api[flavour];

  it('writes and reads back a checkpoint', async () => {
    const path = join(dir, 'model.safetensors');
    await writeFile(path, sample(), { format: 'mlstm-charlm/1' });
    const file = await read(path);
    expect(file.metadata).toEqual({ format: 'mlstm-charlm/1' });
    expect(file.tensors).toEqual(sample());
    expect(readdirSync(dir)).toEqual(['model.safetensors']); // no temporary file left behind
  });

  it('replaces an existing file completely', async () => {
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, bigBytes());
    const small = encodeSafetensors(sample());
    await writeAtomic(path, small);
    expect(new Uint8Array(readFileSync(path))).toEqual(small);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('keeps the old file intact when the write fails midway, and cleans up', async () => {
    const path = join(dir, 'model.safetensors');
    const old = encodeSafetensors(sample());
    writeFileSync(path, old);
    faults.failWriteMidway = true;
    const error = await rejection(writeAtomic(path, bigBytes()));
    faults.failWriteMidway = false;
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/no space left on device \(ENOSPC\)/);
    expect(new Uint8Array(readFileSync(path))).toEqual(old);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('keeps the old file intact when the final rename fails', async () => {
    const path = join(dir, 'model.safetensors');
    const old = encodeSafetensors(sample());
    writeFileSync(path, old);
    faults.failRename = true;
    const error = await rejection(writeAtomic(path, bigBytes()));
    expect(error.message).toMatch(new RegExp(`writeFileAtomic(Sync)?: ${path.replace(/[.]/g, '\\.')}: cannot write: EIO`));
    expect(new Uint8Array(readFileSync(path))).toEqual(old);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('a target that is a directory fails (for real) without leaving a temporary file', async () => {
    const path = join(dir, 'taken');
    mkdirSync(join(path, 'child'), { recursive: true });
    const error = await rejection(writeAtomic(path, encodeSafetensors(sample())));
    expect(error.message).toContain(path);
    expect(readdirSync(dir)).toEqual(['taken']);
  });

  it('a missing parent directory is an error naming the path', async () => {
    const path = join(dir, 'nope', 'model.safetensors');
    const error = await rejection(writeAtomic(path, new Uint8Array(8)));
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/no such file or directory \(ENOENT\)/);
  });

  it('invalid tensors fail before the disk is touched', async () => {
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, 'old');
    const bad = new Map<string, SafetensorsTensor>([['w', { dtype: 'F32', shape: [3], data: new Float32Array(2) }]]);
    await expect(writeFile(path, bad)).rejects.toThrow(/encodeSafetensors: tensor "w"/);
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('read errors name the path: missing file, empty file, directory, corrupt file', async () => {
    const missing = join(dir, 'missing.safetensors');
    expect((await rejection(read(missing))).message).toMatch(
      new RegExp(`${missing.replace(/[.]/g, '\\.')}: cannot read: no such file or directory \\(ENOENT\\)`),
    );
    const empty = join(dir, 'empty.safetensors');
    writeFileSync(empty, '');
    expect((await rejection(read(empty))).message).toMatch(/empty\.safetensors: file is empty \(0 bytes\)/);
    expect((await rejection(read(dir))).message).toMatch(new RegExp(`${dir}: cannot read: is a directory \\(EISDIR\\)`));
    const corrupt = join(dir, 'corrupt.safetensors');
    writeFileSync(corrupt, encodeSafetensors(sample()).subarray(0, 40));
    expect((await rejection(read(corrupt))).message).toMatch(
      new RegExp(`^decodeSafetensors: ${corrupt.replace(/[.]/g, '\\.')}: header length`),
    );
  });
});

it('the mocks delegate to the real modules when no fault is armed', async () => {
  // Guards the fault-injection tests above: with faults off, the mocked open/rename are the real behaviour.
  const path = join(dir, 'plain.bin');
  await writeFileAtomic(path, Uint8Array.of(1, 2, 3));
  expect(Array.from(await realFsp.readFile(path))).toEqual([1, 2, 3]);
  expect(decodeSafetensors(encodeSafetensors({})).tensors.size).toBe(0);
});
