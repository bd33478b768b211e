import type { Backend, GemmArgs } from '../../src/tensor/backend.js';
import { naiveBackend } from '../../src/tensor/kernels/index.js';

/** A backend that records every gemm call (to check call counts and that no copies are passed) and computes it naively. */
export function countingBackend(): Backend & { calls: GemmArgs[] } {
  const calls: GemmArgs[] = [];
  return {
    name: 'counting',
    calls,
    gemm: (args) => {
      calls.push(args);
      naiveBackend.gemm(args);
    },
  };
}
