/** Reverse-mode autodiff on an explicit tape, and the gradient checker. Imports only src/tensor. */
export { Var, type VarOptions, gradBuffer, accumulateGrad } from './var.js';
export { Tape, type TapeNode, type TapeOptions } from './tape.js';
export * from './gradcheck.js';
export * as ops from './ops/public.js';
