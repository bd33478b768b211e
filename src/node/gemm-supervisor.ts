/*
 * Entry point of the GEMM supervisor thread (started by gemm-workers.ts): it starts the GEMM
 * worker threads as its own and listens to them. The caller's thread cannot: it blocks in
 * Atomics.wait while the workers compute, so their 'error' and 'exit' events would wait in its
 * event loop until the job they make impossible had ended, i.e. forever. This thread's event loop
 * is always free, so it hears a worker die at once and reports it in the control block
 * (reportFault), which wakes the caller. It runs nothing but these listeners, and reports its own
 * uncaught exception before it ends; it is not itself watched while the caller is blocked, so
 * the caller posts no job before every worker has started (the adapter's listeners on the
 * caller's thread hear this thread fail to start), and what could end it later (the process
 * dying) ends the caller too.
 */
import { Worker, workerData, type MessagePort } from 'node:worker_threads';
import { SUPERVISOR } from '../parallel/gemm-parallel-protocol.js';
import { isClosing, reportFault } from '../parallel/job-protocol.js';

interface SupervisorData {
  control: SharedArrayBuffer;
  /** One port per worker, the other end held by the caller (messages go straight to the workers). */
  ports: MessagePort[];
}

const { control, ports } = workerData as SupervisorData;
const entry = new URL('./gemm-worker.js', import.meta.url);
const describe = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

let reported = false;
/** Reports the first fault (this thread's fault-text area is written once); nothing once close() has posted Exit. */
function fault(text: string): void {
  if (reported || isClosing(control)) return;
  reported = true;
  reportFault(control, SUPERVISOR, text);
}

process.on('uncaughtException', (error) => {
  fault(`the gemm supervisor thread failed: ${describe(error)}`);
  process.exit(1);
});

const drilled = new Set<number>();
ports.forEach((port, index) => {
  const name = `gemm worker ${index + 1} of ${ports.length}`;
  let worker: Worker;
  try {
    worker = new Worker(entry, { workerData: { control, index, port }, transferList: [port] });
  } catch (error) {
    fault(`${name} could not be started: ${describe(error)}`);
    return;
  }
  worker.on('error', (error) => fault(`${name} failed: ${describe(error)}`));
  worker.on('messageerror', (error) => fault(`${name} could not receive a message: ${describe(error)}`));
  worker.on('exit', (code) =>
    fault(
      drilled.has(index)
        ? `${name} was terminated in the middle of a job (a fault drill)`
        : `${name} exited unexpectedly (exit code ${code})`,
    ),
  );
  worker.on('message', (message: { kind?: string } | undefined) => {
    if (message?.kind !== 'drill-terminate') return;
    drilled.add(index);
    void worker.terminate();
  });
});
