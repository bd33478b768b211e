/** Tensor-level (non-differentiable) operations, exported from the package as `tensorOps`. */
export {
  negTensor,
  expTensor,
  logTensor,
  tanhTensor,
  sigmoidTensor,
  reluTensor,
  sqrtTensor,
  absTensor,
  squareTensor,
  scaleTensor,
  addScalarTensor,
  powTensor,
  addTensor,
  subTensor,
  mulTensor,
  divTensor,
  maximumTensor,
  minimumTensor,
} from './elementwise.js';
export { sumTensor, meanTensor, maxTensor, maxWithIndices, argmaxTensor, reduceToShape, type Axes } from './reduce.js';
export { reshape, permute, transpose, slice, concat, split, stack } from './shape.js';
export { gatherRows, scatterAddRows } from './index.js';
export { softmax, logSoftmax, softmaxCrossEntropy, type CrossEntropyOptions, type CrossEntropyResult, type Reduction } from './softmax.js';
export { matmul, linear, type MatmulOptions } from './matmul.js';
