/** Progress reporting for `mlstm train`: a live line on a terminal, plain periodic lines otherwise. */

/** "42s", "3m05s", "1h02m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** "950", "12.3k", "1.25M" characters per second. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond < 0) return '?';
  if (perSecond < 1000) return perSecond.toFixed(0);
  if (perSecond < 1e6) return `${(perSecond / 1e3).toFixed(1)}k`;
  return `${(perSecond / 1e6).toFixed(2)}M`;
}

export interface ProgressSnapshot {
  step: number;
  steps: number;
  /** Recent training bits/char (moving average). */
  bpc: number;
  charsPerSecond: number;
  etaSeconds: number;
}

export function formatProgress(p: ProgressSnapshot): string {
  const width = String(p.steps).length;
  const bpc = Number.isFinite(p.bpc) ? p.bpc.toFixed(3) : '  nan';
  return `step ${String(p.step).padStart(width)}/${p.steps}  train bpc ${bpc}  ${formatRate(p.charsPerSecond)} chars/s  ETA ${formatDuration(p.etaSeconds)}`;
}

/**
 * Rates and ETA from step timings. The rate is measured over this session only (a resumed run does not
 * count steps it did not time), as a moving average so a slow validation pause does not dominate.
 */
export class ProgressMeter {
  private lastTime: number;
  private secondsPerStep = NaN;
  private bpcAverage = 0;
  private bpcWeight = 0;

  constructor(
    private readonly charsPerStep: number,
    private readonly clock: () => number,
  ) {
    this.lastTime = clock();
  }

  /** Record that a step finished with this training bits/char (NaN for a skipped step). */
  record(step: number, steps: number, bpc: number): ProgressSnapshot {
    const now = this.clock();
    const dt = (now - this.lastTime) / 1000;
    this.lastTime = now;
    this.secondsPerStep = Number.isFinite(this.secondsPerStep) ? 0.9 * this.secondsPerStep + 0.1 * dt : dt;
    if (Number.isFinite(bpc)) {
      this.bpcAverage = 0.9 * this.bpcAverage + 0.1 * bpc;
      this.bpcWeight = 0.9 * this.bpcWeight + 0.1;
    }
    return {
      step,
      steps,
      bpc: this.bpcWeight > 0 ? this.bpcAverage / this.bpcWeight : NaN,
      charsPerSecond: this.secondsPerStep > 0 ? this.charsPerStep / this.secondsPerStep : NaN,
      etaSeconds: (steps - step) * this.secondsPerStep,
    };
  }

  /** Exclude a pause (validation, checkpoint writing) from the next step's timing. */
  skipPause(): void {
    this.lastTime = this.clock();
  }
}

/** Where progress goes: a stream-like sink that knows whether it is a terminal. */
export interface ProgressSink {
  write(text: string): void;
  readonly isTTY: boolean;
}

/**
 * On a TTY: one line rewritten in place (\r, erase to end of line), at most every `refreshMs`; other
 * messages first erase it, print, then redraw it. Not a TTY: a full line every `every` steps and at the
 * last step, so logs stay readable.
 */
export class ProgressReporter {
  private live = '';
  private lastDraw = -Infinity;

  constructor(
    private readonly sink: ProgressSink,
    private readonly every: number,
    private readonly clock: () => number,
    private readonly refreshMs = 100,
  ) {}

  update(p: ProgressSnapshot): void {
    const line = formatProgress(p);
    if (this.sink.isTTY) {
      const now = this.clock();
      if (now - this.lastDraw < this.refreshMs && p.step !== p.steps) {
        this.live = line;
        return;
      }
      this.lastDraw = now;
      this.live = line;
      this.sink.write(`\r${line}\x1b[K`);
    } else if (p.step % this.every === 0 || p.step === p.steps) {
      this.sink.write(`${line}\n`);
    }
  }

  /** Print a whole line (validation result, warning) without garbling the live line. */
  message(text: string): void {
    if (this.sink.isTTY && this.live) {
      this.sink.write(`\r\x1b[K${text}\n${this.live}\x1b[K`);
    } else {
      this.sink.write(`${text}\n`);
    }
  }

  /** End the live line (before the program prints its summary). */
  finish(): void {
    if (this.sink.isTTY && this.live) this.sink.write('\n');
    this.live = '';
  }
}

/**
 * A status line on stderr, rewritten in place on a terminal and erased by `end`; nothing at all when
 * stderr is a file or pipe (a log should not fill with intermediate states).
 */
export function terminalStatusLine(): { show: (text: string) => void; end: () => void } {
  const live = process.stderr.isTTY === true;
  let shown = false;
  return {
    show(text) {
      if (!live) return;
      process.stderr.write(`\r\x1b[K${text}`);
      shown = true;
    },
    end() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}
