/** Differentiable operations (each takes the tape first), exported from the package as `ops`. */
export * from './elementwise.js';
export * from './reduce.js';
export * from './shape.js';
export { embedding } from './index.js';
export * from './softmax.js';
export { matmul, linear } from './matmul.js';
