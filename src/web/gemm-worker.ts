/*
 * Entry point of one GEMM module Worker (started by gemm-workers.ts). A web worker cannot read
 * messages synchronously, so it drives GemmJobServer from its event loop: the first message is
 * the start data; after it and after every later message, `serve` blocks in Atomics.wait running
 * jobs, and returns here when a job needs a message not yet applied (a new shared buffer); the
 * worker then goes back to its event loop, whose next onmessage applies it and resumes the job.
 */
import { CONTROL_BYTES, MAX_WORKERS, type WorkerMessage } from '../parallel/gemm-parallel-protocol.js';
import { GemmJobServer } from '../parallel/gemm-parallel-worker.js';
import type { GemmWorkerReply, GemmWorkerStart } from './gemm-worker-messages.js';

/** The parts of a dedicated worker's global scope used here (compiled without the DOM typings). */
interface WorkerScope {
  onmessage: ((event: { data: unknown }) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;
let server: GemmJobServer | undefined;
let index = -1;

function start(data: unknown): GemmJobServer {
  const { kind, control, index: i } = (data ?? {}) as Partial<GemmWorkerStart>;
  if (kind !== 'start') throw new Error(`gemm worker: the first message must be the start data, got ${JSON.stringify(kind)}`);
  if (!(control instanceof SharedArrayBuffer) || control.byteLength < CONTROL_BYTES) {
    throw new Error(`gemm worker: control must be a SharedArrayBuffer of at least ${CONTROL_BYTES} bytes`);
  }
  if (!Number.isInteger(i) || i! < 0 || i! >= MAX_WORKERS)
    throw new Error(`gemm worker: index must be an integer in 0..${MAX_WORKERS - 1}, got ${i}`);
  index = i!;
  return new GemmJobServer(control, index);
}

scope.onmessage = (event) => {
  if (server === undefined) {
    try {
      server = start(event.data);
    } catch (error) {
      const reply: GemmWorkerReply = { kind: 'error', index, message: error instanceof Error ? error.message : String(error) };
      scope.postMessage(reply);
      scope.close();
      return;
    }
    const reply: GemmWorkerReply = { kind: 'ready', index };
    scope.postMessage(reply); // delivered while this thread waits in serve below
  } else {
    server.apply(event.data as WorkerMessage);
  }
  if (server.serve() === 'exit') scope.close();
};
