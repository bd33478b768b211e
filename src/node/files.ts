/**
 * Node file access for safetensors checkpoints: reading with errors that name the path, and
 * crash-safe writing.
 *
 * `writeFileAtomic` writes to a temporary file in the target's directory (same filesystem, so the
 * rename is atomic), fsyncs it, then renames it over the target and fsyncs the directory. A crash
 * or an I/O error at any point leaves either the complete old file or the complete new one —
 * never a half-written checkpoint — and a failed write removes its temporary file.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SafetensorsError, decodeSafetensors, encodeSafetensors, type SafetensorsFile, type SafetensorsTensor } from '../io/safetensors.js';

type TensorCollection = ReadonlyMap<string, SafetensorsTensor> | Record<string, SafetensorsTensor>;

const ERRNO_MEANINGS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only filesystem',
};

function fileError(op: string, path: string, action: string, cause: unknown): SafetensorsError {
  const code = (cause as { code?: unknown } | null)?.code;
  const reason =
    typeof code === 'string' && code in ERRNO_MEANINGS
      ? `${ERRNO_MEANINGS[code]} (${code})`
      : cause instanceof Error
        ? cause.message
        : String(cause);
  return new SafetensorsError(`${op}: ${path}: cannot ${action}: ${reason}`, { cause });
}

function decodeFile(op: string, path: string, bytes: Uint8Array): SafetensorsFile {
  if (bytes.length === 0) throw new SafetensorsError(`${op}: ${path}: file is empty (0 bytes), not a safetensors file`);
  return decodeSafetensors(bytes, { source: path });
}

export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = await fsp.readFile(path);
  } catch (error) {
    throw fileError('readSafetensorsFile', path, 'read', error);
  }
  return decodeFile('readSafetensorsFile', path, bytes);
}

export function readSafetensorsFileSync(path: string): SafetensorsFile {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(path);
  } catch (error) {
    throw fileError('readSafetensorsFileSync', path, 'read', error);
  }
  return decodeFile('readSafetensorsFileSync', path, bytes);
}

/** A fresh hidden name beside the target, so the final rename never crosses filesystems. */
function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
}

export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = temporaryPathFor(path);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(temporary, 'wx'); // 'x': never follow or clobber anything already there
    for (let written = 0; written < bytes.length;) {
      const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, written);
      written += bytesWritten;
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(temporary, path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await fsp.rm(temporary, { force: true }).catch(() => undefined);
    throw fileError('writeFileAtomic', path, 'write', error);
  }
  await syncDirectory(dirname(path));
}

export function writeFileAtomicSync(path: string, bytes: Uint8Array): void {
  const temporary = temporaryPathFor(path);
  let fd: number | undefined;
  try {
    fd = fs.openSync(temporary, 'wx');
    for (let written = 0; written < bytes.length;) {
      written += fs.writeSync(fd, bytes, written, bytes.length - written, written);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temporary, path);
  } catch (error) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing; the original error is the one to report
      }
    }
    try {
      fs.rmSync(temporary, { force: true });
    } catch {
      // best effort, as in the async variant
    }
    throw fileError('writeFileAtomicSync', path, 'write', error);
  }
  syncDirectorySync(dirname(path));
}

/**
 * Makes the rename itself durable. Best effort: some platforms (Windows) cannot open a directory
 * for fsync, and by this point the new file is complete and in place either way.
 */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await fsp.open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // see above
  }
}

function syncDirectorySync(directory: string): void {
  try {
    const fd = fs.openSync(directory, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // see syncDirectory
  }
}

/** Encodes (so bad tensors fail before the disk is touched), then writes atomically. */
export async function writeSafetensorsFile(path: string, tensors: TensorCollection, metadata?: Record<string, string>): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export function writeSafetensorsFileSync(path: string, tensors: TensorCollection, metadata?: Record<string, string>): void {
  writeFileAtomicSync(path, encodeSafetensors(tensors, metadata));
}
