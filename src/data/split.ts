/** The share of a corpus held out for validation when no separate validation file is given. */
export const DEFAULT_VALID_FRACTION = 0.05;

export interface TrainValidSplit {
  /** The first ⌈(1 − fraction)·N⌉ tokens (a view, not a copy). */
  train: Int32Array;
  /** The last ⌊fraction·N⌋ tokens (a view, not a copy). */
  valid: Int32Array;
}

/**
 * Hold out the *end* of the text: a contiguous tail keeps validation text unseen (no neighbouring
 * windows leaking into training) and keeps the split independent of any random seed.
 */
export function splitTrainValid(tokens: Int32Array, fraction = DEFAULT_VALID_FRACTION): TrainValidSplit {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`splitTrainValid: fraction must be in [0, 1), got ${fraction}`);
  const validLength = Math.floor(tokens.length * fraction);
  const cut = tokens.length - validLength;
  return { train: tokens.subarray(0, cut), valid: tokens.subarray(cut) };
}

/**
 * A 32-bit FNV-1a hash of the tokens and their count, stored with a run so that `--resume` can refuse
 * a different training text (which would silently break "resumed = uninterrupted").
 */
export function tokensFingerprint(tokens: Int32Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    for (let shift = 0; shift < 32; shift += 8) h = Math.imul(h ^ ((t >>> shift) & 0xff), 0x01000193);
  }
  return `${tokens.length}:${(h >>> 0).toString(16).padStart(8, '0')}`;
}
