import type { CheckpointReason, RunOutcome, Trainer } from '../train/trainer.js';
import { ProgressMeter, ProgressReporter } from './progress.js';

/** The live progress of a run on stdout: rewritten in place on a terminal, every `logEvery` steps otherwise. */
export function stdoutReporter(steps: number, logEvery: number | undefined, clock: () => number): ProgressReporter {
  return new ProgressReporter(
    { write: (s) => process.stdout.write(s), isTTY: process.stdout.isTTY === true },
    logEvery ?? Math.max(1, Math.ceil(steps / 20)),
    clock,
  );
}

export interface ProgressRun {
  reporter: ProgressReporter;
  clock: () => number;
  /** Polled before every step: true stops the run after a checkpoint (status 'interrupted'). */
  stopRequested: () => boolean;
  /** Persist the run (periodically, at the end, on interrupt). */
  save: (reason: CheckpointReason) => Promise<void>;
}

/**
 * Run a trainer to its last step with the progress line (step, training bpc, chars/s, ETA), a line per
 * validation and per warning; validations and periodic saves do not count as training time.
 */
export async function trainWithProgress(trainer: Trainer, run: ProgressRun): Promise<RunOutcome> {
  const { reporter } = run;
  const { steps, batch, seq } = trainer.options;
  const meter = new ProgressMeter(batch * seq, run.clock);
  try {
    return await trainer.run({
      onStep: (r) => reporter.update(meter.record(r.step, steps, r.bpc)),
      onValidation: (step, bpc) => {
        reporter.message(`step ${step}: validation bpc ${bpc.toFixed(4)}`);
        meter.skipPause();
      },
      onWarning: (message) => {
        reporter.finish();
        process.stderr.write(`mlstm: warning: ${message}\n`);
      },
      onCheckpoint: async (reason) => {
        await run.save(reason);
        if (reason === 'periodic') meter.skipPause();
      },
      shouldStop: run.stopRequested,
    });
  } finally {
    reporter.finish();
  }
}
