import { decodeCheckpoint } from '../io/checkpoint.js';
import { CliError } from './errors.js';
import { readInputFile } from './files.js';

export type LoadedCheckpoint = ReturnType<typeof decodeCheckpoint>;

/** Read and decode a checkpoint; a missing, empty, truncated or malformed file is one line naming it. */
export function loadCheckpointFile(path: string): LoadedCheckpoint {
  return decodeCheckpointOrExplain(readInputFile(path, `checkpoint '${path}'`), path);
}

export function decodeCheckpointOrExplain(bytes: Uint8Array, path: string): LoadedCheckpoint {
  try {
    return decodeCheckpoint(bytes, { source: path });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new CliError(message.includes(path) ? message : `'${path}' is not a usable checkpoint: ${message}`);
  }
}
