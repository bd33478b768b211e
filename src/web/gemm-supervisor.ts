/*
 * Entry point of the GEMM supervisor module Worker (started by gemm-workers.ts), the browser
 * counterpart of src/node/gemm-supervisor.ts: it starts the GEMM workers as its own and listens to
 * them, because the caller cannot: it blocks in Atomics.wait while they compute, so their 'error'
 * events would wait in its event loop until the job they make impossible had ended, i.e. forever.
 * This thread's loop is always free: it reports a failure in the control block (reportFault),
 * which wakes the caller at once. Browsers tell no one when a worker ends, so a worker this thread
 * terminates (a 'terminate' fault drill) is reported by it right away.
 */
import { SUPERVISOR } from '../parallel/gemm-parallel-protocol.js';
import { isClosing, reportFault } from '../parallel/job-protocol.js';
import type { GemmWorkerReply, GemmWorkerStart, SupervisorReply, SupervisorStart } from './gemm-worker-messages.js';

interface WorkerScope {
  onmessage: ((event: { data: unknown }) => void) | null;
  postMessage(message: unknown): void;
}
interface WebWorker {
  postMessage(message: unknown, transfer?: unknown[]): void;
  terminate(): void;
  addEventListener(type: string, listener: (event: { data?: unknown; message?: string }) => void): void;
}
type WorkerConstructor = new (url: string, options: { type: 'module'; name?: string }) => WebWorker;

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = (event) => {
  scope.onmessage = null;
  const { control, ports, workerUrl } = event.data as SupervisorStart;
  const Worker = (globalThis as { Worker?: WorkerConstructor }).Worker;
  const reply = (message: SupervisorReply): void => scope.postMessage(message);
  if (typeof Worker !== 'function') {
    reply({ kind: 'error', index: 0, message: 'this runtime cannot start a Worker inside a worker' });
    return;
  }
  let serving = 0;
  let running = false; // every worker has started: from now on a failure is a fault of the backend
  let reported = false;
  /** Before every worker is serving, a failure rejects createWebParallelBackend; after, it is reported in the control block (once). */
  const fail = (index: number, why: string): void => {
    if (!running) {
      reply({ kind: 'error', index, message: why });
      return;
    }
    if (reported || isClosing(control)) return;
    reported = true;
    reportFault(control, SUPERVISOR, `gemm worker ${index + 1} of ${ports.length} ${why}`);
  };
  ports.forEach((port, index) => {
    let worker: WebWorker;
    try {
      worker = new Worker(workerUrl, { type: 'module', name: `mlstm-gemm-${index + 1}` });
    } catch (error) {
      fail(index, `could not be started: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    worker.addEventListener('message', ({ data }) => {
      const message = data as GemmWorkerReply | undefined;
      if (message?.kind === 'ready') {
        if (++serving === ports.length) {
          running = true;
          reply({ kind: 'ready' });
        }
      } else if (message?.kind === 'error') {
        fail(index, `failed to start: ${message.message}`);
      } else if (message?.kind === 'drill-terminate') {
        worker.terminate();
        fail(index, 'was terminated in the middle of a job (a fault drill)');
      }
    });
    // A script that is missing or not JavaScript gives an error event without a message.
    worker.addEventListener('error', ({ message }) =>
      fail(index, message ? `failed: ${message}` : 'could not be loaded (missing, not served as JavaScript, or blocked by COEP?)'),
    );
    worker.addEventListener('messageerror', () => fail(index, 'could not receive its start message (is the page cross-origin isolated?)'));
    const start: GemmWorkerStart = { kind: 'start', control, index, port };
    worker.postMessage(start, [port]); // queued until the worker's script has loaded
  });
};
