/** A position in the stream of training windows: saved with a checkpoint, restored by `seek`. */
export interface StreamCursor {
  /** Completed passes over the text. */
  epoch: number;
  /** Index of the next window within the pass, 0 ≤ window < windowsPerEpoch. */
  window: number;
}

/** Too little text for the requested batch and window length. */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

/**
 * B parallel contiguous streams over a token sequence, read in windows of T for truncated BPTT.
 *
 * The text of N tokens is cut into B streams of L = ⌊N/B⌋ consecutive tokens (the last N − B·L tokens are
 * unused). Window w of a pass holds, for stream b, inputs `stream_b[wT .. wT+T)` and targets shifted by
 * one, `stream_b[wT+1 .. wT+T+1)`, so consecutive windows of a stream continue each other and the hidden
 * state carried from one window to the next sees the text in order. A pass has ⌊(L − 1)/T⌋ windows; the
 * remainder of each stream is skipped so every window has the same shape. After the last window the next
 * pass starts again at window 0 (and `next()` says so, so the trainer can reset its carried state).
 *
 * The window buffers are allocated once and overwritten by every `next()` (no allocation per step).
 */
export class WindowStreams {
  readonly tokens: Int32Array;
  readonly batch: number;
  readonly seq: number;
  readonly streamLength: number;
  readonly windowsPerEpoch: number;
  /** Time-major [T,B]: inputs[t*B + b]. */
  readonly inputs: Int32Array;
  /** Time-major [T,B]: the token after inputs[t*B + b] in stream b. */
  readonly targets: Int32Array;
  private epoch = 0;
  private window = 0;

  constructor(tokens: Int32Array, batch: number, seq: number, source = 'training text', unit = 'characters') {
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`WindowStreams: batch must be a positive integer, got ${batch}`);
    if (!Number.isInteger(seq) || seq < 1) throw new RangeError(`WindowStreams: seq must be a positive integer, got ${seq}`);
    this.tokens = tokens;
    this.batch = batch;
    this.seq = seq;
    this.streamLength = Math.floor(tokens.length / batch);
    this.windowsPerEpoch = this.streamLength >= 1 ? Math.floor((this.streamLength - 1) / seq) : 0;
    if (this.windowsPerEpoch < 1) {
      throw new DataError(
        `${source} is shorter than one window: ${tokens.length} ${unit} make ${batch} streams of ${this.streamLength}, ` +
          `but a window needs ${seq + 1} per stream (seq ${seq} + 1); use a smaller batch or seq, or a longer text`,
      );
    }
    this.inputs = new Int32Array(seq * batch);
    this.targets = new Int32Array(seq * batch);
  }

  /** Tokens of one pass (every window once) that are predicted: T·B per window. */
  get tokensPerWindow(): number {
    return this.seq * this.batch;
  }

  get cursor(): StreamCursor {
    return { epoch: this.epoch, window: this.window };
  }

  seek(cursor: StreamCursor): void {
    const { epoch, window } = cursor;
    if (!Number.isInteger(epoch) || epoch < 0 || !Number.isInteger(window) || window < 0 || window >= this.windowsPerEpoch) {
      throw new RangeError(
        `WindowStreams.seek: cursor {epoch: ${epoch}, window: ${window}} is outside 0 ≤ window < ${this.windowsPerEpoch}`,
      );
    }
    this.epoch = epoch;
    this.window = window;
  }

  /**
   * Fill `inputs`/`targets` with the window at the cursor and advance. Returns where that window was,
   * with `startsEpoch` true at window 0 (the streams restart there, so carried state should too).
   */
  next(): { epoch: number; window: number; startsEpoch: boolean } {
    const { tokens, batch: B, seq: T, streamLength: L, inputs, targets } = this;
    const epoch = this.epoch;
    const window = this.window;
    const start = window * T;
    for (let b = 0; b < B; b++) {
      const base = b * L + start;
      for (let t = 0; t < T; t++) {
        inputs[t * B + b] = tokens[base + t]!;
        targets[t * B + b] = tokens[base + t + 1]!;
      }
    }
    this.window++;
    if (this.window === this.windowsPerEpoch) {
      this.window = 0;
      this.epoch++;
    }
    return { epoch, window, startsEpoch: window === 0 };
  }
}
