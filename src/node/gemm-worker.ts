/*
 * Entry point of one GEMM worker thread (started by the supervisor, gemm-supervisor.ts): serves
 * jobs from the shared control block until told to exit. Node-specific only in how it receives
 * its start data and its messages (synchronously, from a MessagePort, while the thread never
 * returns to its loop), and in how a 'terminate' fault drill asks its parent to end it.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import type { WorkerMessage } from '../parallel/gemm-parallel-protocol.js';
import { serveGemmJobs } from '../parallel/gemm-parallel-worker.js';

interface GemmWorkerData {
  control: SharedArrayBuffer;
  index: number;
  port: MessagePort;
}

const { control, index, port } = workerData as GemmWorkerData;
const parent = parentPort;
serveGemmJobs(
  control,
  index,
  () => receiveMessageOnPort(port)?.message as WorkerMessage | undefined,
  parent ? { requestTermination: () => parent.postMessage({ kind: 'drill-terminate' }) } : {},
);
port.close();
