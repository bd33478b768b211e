/**
 * Strict UTF-8 validation with the offset of the first bad byte. TextDecoder's `fatal` mode only says
 * *that* a file is malformed; a user needs to know *where*, so we validate ourselves first.
 */

/** The byte offset of the first malformed UTF-8 sequence in `bytes`, or -1 if it is all valid. */
import { InputError } from './input-error.js';

export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b0 = bytes[i]!;
    if (b0 < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number; // smallest code point this length may encode (rejects overlong forms)
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return i;
    }
    if (i + need >= n) return i; // sequence truncated by the end of the input
    let cp = b0 & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const b = bytes[i + k]!;
      if ((b & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** Decode UTF-8, rejecting malformed input with an error naming the source and byte offset. */
export function decodeUtf8Strict(bytes: Uint8Array, source = 'input'): string {
  const bad = firstInvalidUtf8Offset(bytes);
  if (bad >= 0) {
    const hex = bytes[bad]!.toString(16).padStart(2, '0');
    throw new InputError('utf8', `${source}: not valid UTF-8 at byte offset ${bad} (byte 0x${hex}); train with --bytes for arbitrary input`, bad);
  }
  // A leading byte-order mark is not text: drop it so it does not become a vocabulary symbol.
  return new TextDecoder('utf-8', { ignoreBOM: false }).decode(bytes);
}
