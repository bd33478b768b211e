/**
 * A web-style module Worker over node:worker_threads, for running mlstm/web's workers in Node
 * (test/web-gemm-workers.test.ts): `new NodeWebWorker(url, { type: 'module' })` imports the script
 * in a thread whose globalThis has onmessage/postMessage/close and a Worker of this same kind (so a
 * worker can start nested workers, as the GEMM supervisor does), and events reach
 * addEventListener listeners. Transfer lists (MessagePorts) pass through.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

export class NodeWebWorker {
  static started = 0;
  #thread;
  #listeners = new Map();

  constructor(url, options) {
    if (options?.type !== 'module') throw new Error(`NodeWebWorker: only module workers, got ${JSON.stringify(options)}`);
    NodeWebWorker.started++;
    this.#thread = new Worker(new URL(import.meta.url), { workerData: { url: String(url), shim: true } });
    this.#thread.unref();
    this.#thread.on('message', (data) => this.#dispatch('message', { data }));
    this.#thread.on('error', (error) => this.#dispatch('error', { message: error.message }));
  }

  postMessage(message, transfer) {
    this.#thread.postMessage(message, transfer);
  }

  terminate() {
    void this.#thread.terminate();
  }

  addEventListener(type, listener) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type).add(listener);
  }

  removeEventListener(type, listener) {
    this.#listeners.get(type)?.delete(listener);
  }

  #dispatch(type, event) {
    for (const listener of this.#listeners.get(type) ?? []) listener(event);
  }
}

if (!isMainThread && workerData?.shim) {
  globalThis.postMessage = (message, transfer) => parentPort.postMessage(message, transfer);
  globalThis.close = () => parentPort.close();
  globalThis.Worker = NodeWebWorker;
  await import(workerData.url);
  // Messages sent before the script loaded wait in the port until this listener takes them.
  parentPort.on('message', (data) => globalThis.onmessage?.({ data }));
}
