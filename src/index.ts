/**
 * mlstm: multiplicative LSTMs in TypeScript with no dependencies. This entry point is runtime-neutral
 * (Node, browsers, workers); file-system helpers live in `mlstm/node`.
 */
export * from './tensor/index.js';
export * from './autograd/index.js';
export * from './nn/index.js';
export * from './optim/index.js';
export * from './io/index.js';
export * from './data/index.js';
export * from './train/index.js';
export * from './features/index.js';
export * from './probe/index.js';
export * from './compare/index.js';
export * from './model/index.js';
export {
  selectBackend,
  selectBackendAsync,
  wasmUnavailable,
  createWasmBackend,
  createWasmBackendSync,
  detectWasmFeatures,
  WasmBackend,
  type BackendKind,
  type BackendSelection,
  type WasmBackendOptions,
  type WasmFeatures,
} from './wasm/index.js';
