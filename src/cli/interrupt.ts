import { EXIT_INTERRUPTED } from './errors.js';
import type { ProgressReporter } from './progress.js';

/** Whether Ctrl-C was pressed since `watchInterrupts`; `dispose` stops listening. */
export interface InterruptWatch {
  readonly requested: boolean;
  dispose(): void;
}

/**
 * Ctrl-C for a command that saves before it stops: the first SIGINT prints `firstMessage` (what the
 * command will do) and sets `requested`, which the command polls between steps before it saves and
 * exits 130; a second SIGINT exits 130 at once, without saving.
 */
export function watchInterrupts(reporter: Pick<ProgressReporter, 'message' | 'finish'>, firstMessage: string): InterruptWatch {
  let count = 0;
  const onSigint = (): void => {
    count++;
    if (count > 1) {
      reporter.finish();
      process.stderr.write('mlstm: interrupted again; exiting without saving\n');
      process.exit(EXIT_INTERRUPTED);
    }
    reporter.message(firstMessage);
  };
  process.on('SIGINT', onSigint);
  return {
    get requested() {
      return count > 0;
    },
    dispose: () => void process.off('SIGINT', onSigint),
  };
}
