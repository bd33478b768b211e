/*
 * Entry point of one GEMM module Worker (started by the supervisor, gemm-supervisor.ts). A web
 * worker cannot read messages synchronously, so it drives GemmJobServer from its event loop: the
 * first message is the start data; after it and after every message on its port, `serve` blocks
 * in Atomics.wait running jobs, and returns here when a job needs a message not yet applied (a new
 * shared buffer); the worker then goes back to its event loop, whose next port message applies it
 * and resumes the job. Anything that throws outside a part (a message that cannot be applied or
 * received) is reported as this worker's fault, and the worker closes itself.
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
interface Port {
  onmessage: ((event: { data: unknown }) => void) | null;
  onmessageerror: ((event: unknown) => void) | null;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;
const describe = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

function start(data: unknown): { server: GemmJobServer; port: Port; index: number } {
  const { kind, control, index, port } = (data ?? {}) as Partial<GemmWorkerStart>;
  if (kind !== 'start') throw new Error(`gemm worker: the first message must be the start data, got ${JSON.stringify(kind)}`);
  if (!(control instanceof SharedArrayBuffer) || control.byteLength < CONTROL_BYTES) {
    throw new Error(`gemm worker: control must be a SharedArrayBuffer of at least ${CONTROL_BYTES} bytes`);
  }
  if (!Number.isInteger(index) || index! < 0 || index! >= MAX_WORKERS)
    throw new Error(`gemm worker: index must be an integer in 0..${MAX_WORKERS - 1}, got ${index}`);
  if (port === null || typeof port !== 'object') throw new Error('gemm worker: the start data has no port');
  const reply = (message: GemmWorkerReply): void => scope.postMessage(message);
  const server = new GemmJobServer(control, index!, { requestTermination: () => reply({ kind: 'drill-terminate', index: index! }) });
  return { server, port: port as Port, index: index! };
}

scope.onmessage = (event) => {
  scope.onmessage = null;
  let started: ReturnType<typeof start>;
  try {
    started = start(event.data);
  } catch (error) {
    const reply: GemmWorkerReply = { kind: 'error', index: -1, message: error instanceof Error ? error.message : String(error) };
    scope.postMessage(reply);
    scope.close();
    return;
  }
  const { server, port, index } = started;
  const stop = (): void => {
    port.close();
    scope.close();
  };
  const serve = (): void => {
    try {
      if (server.serve() === 'exit') stop();
    } catch (error) {
      server.fail(`gemm worker ${index + 1} failed: ${describe(error)}`);
      stop();
    }
  };
  port.onmessage = (message) => {
    try {
      server.apply(message.data as WorkerMessage);
    } catch (error) {
      server.fail(`gemm worker ${index + 1} could not apply a message: ${describe(error)}`);
      stop();
      return;
    }
    serve();
  };
  port.onmessageerror = () => {
    server.fail(`gemm worker ${index + 1} could not receive a message (is the page cross-origin isolated?)`);
    stop();
  };
  const reply: GemmWorkerReply = { kind: 'ready', index };
  scope.postMessage(reply); // delivered while this thread waits in serve below
  serve();
};
