/** Storage, shapes, seeded randomness and the kernels behind the Backend interface. Imports nothing else of ours. */
export { type DType, type Storage, allocate, dtypeOf, promote } from './dtype.js';
export { type Shape, ShapeError, formatShape, sizeOf, stridesOf, shapesEqual, broadcastShapes, normalizeAxis } from './shape.js';
export { Tensor, type NestedArray, zeros, ones, full, zerosLike, arange, tensor, scalar } from './tensor.js';
export { Rng } from './rng.js';
export { Workspace, type WorkspaceMemory } from './workspace.js';
export type { Backend, GemmArgs, PreparedB, PrepareBArgs, RecurrentKernels, RecurrentKernelName } from './backend.js';
export * from './kernels/index.js';
export { gemmNaive } from './kernels/gemm-naive.js';
export * as tensorOps from './ops/public.js';
