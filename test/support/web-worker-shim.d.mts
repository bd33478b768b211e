/** Types of web-worker-shim.mjs: a web-style module Worker over node:worker_threads. */
export declare class NodeWebWorker {
  static started: number;
  constructor(url: URL | string, options: { type: 'module'; name?: string });
  postMessage(message: unknown, transfer?: unknown[]): void;
  terminate(): void;
  addEventListener(type: string, listener: (event: { data?: unknown; message?: string }) => void): void;
  removeEventListener(type: string, listener: (event: { data?: unknown; message?: string }) => void): void;
}
