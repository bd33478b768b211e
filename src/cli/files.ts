import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import { decodeUtf8Strict } from '../data/utf8.js';
import { describeUnknown, TextCodec, type EncodedText } from '../data/vocabulary.js';
import { CliError } from './errors.js';

function describeFsError(e: unknown, what: string): CliError {
  const code = (e as { code?: string }).code;
  const reason =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'is a directory'
          : (e as Error).message;
  return new CliError(`cannot read ${what}: ${reason}`);
}

/**
 * The bytes of an input file, or one clear error: missing, a directory, unreadable or empty.
 * `what` names it for the user, e.g. `--data 'corpus.txt'`.
 */
export function readInputFile(path: string, what: string): Uint8Array {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new CliError(`cannot read ${what}: is a directory`);
    size = st.size;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw describeFsError(e, what);
  }
  if (size === 0) throw new CliError(`${what} is empty`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw describeFsError(e, what);
  }
}

/**
 * A file as tokens for a vocabulary: raw bytes for a bytes vocabulary, else strict UTF-8 text, its
 * characters outside the vocabulary read as U+FFFD (counted) when the vocabulary has it.
 */
export function encodeFile(bytes: Uint8Array, codec: TextCodec, source: string): EncodedText {
  if (codec.vocab.kind === 'bytes') return { tokens: codec.encodeBytes(bytes), unknown: 0, unknownCharacters: [], firstUnknownOffset: -1 };
  return codec.encodeText(decodeUtf8Strict(bytes, source), source);
}

/** `unknown N — N characters outside the vocabulary were read as U+FFFD: …` (just `unknown 0` when none): a report line. */
export function unknownLine(e: Pick<EncodedText, 'unknown' | 'unknownCharacters'>): string {
  return e.unknown === 0 ? 'unknown 0' : `unknown ${e.unknown} — ${describeUnknown(e)}`;
}

/** `run/model.safetensors` → `run/model.svg` (any other name gets `.svg` appended). */
export function curvesPathFor(checkpointPath: string): string {
  return extname(checkpointPath) === '.safetensors' ? checkpointPath.slice(0, -'.safetensors'.length) + '.svg' : `${checkpointPath}.svg`;
}

/** Create the directory an output file goes into (so `--out runs/x.safetensors` works on a fresh clone). */
export function ensureParentDirectory(path: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (e) {
    throw new CliError(`cannot create the directory of '${path}': ${(e as Error).message}`);
  }
}

export function fileExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
