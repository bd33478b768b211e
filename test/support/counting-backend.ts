import type { Backend, GemmArgs, RecurrentKernelName, RecurrentKernels } from '../../src/tensor/backend.js';
import { jsRecurrentKernels, naiveBackend } from '../../src/tensor/kernels/index.js';

/** What a test backend that only replaces gemm (and perhaps prepareB) takes from the JS backends: the gate kernels, describe, close. */
export const jsBackendBase = { describe: (): string => 'js', recurrent: jsRecurrentKernels, close: (): void => {} } as const;

const KERNEL_NAMES: readonly RecurrentKernelName[] = [
  'lstmGatesForward',
  'lstmGatesBackward',
  'multiplicativeForward',
  'multiplicativeBackward',
  'tanhForward',
  'tanhBackward',
];

/** `inner`'s recurrent table, every kernel counting its calls into `counts` before running `inner`'s. */
export function countingKernels(inner: RecurrentKernels, counts: Record<RecurrentKernelName, number>): RecurrentKernels {
  const table = { accuracy: inner.accuracy } as Record<string, unknown>;
  for (const name of KERNEL_NAMES) {
    counts[name] = 0;
    const kernel = inner[name] as (...args: unknown[]) => void;
    table[name] = (...args: unknown[]): void => {
      counts[name]++;
      kernel(...args);
    };
  }
  return table as unknown as RecurrentKernels;
}

export interface CountingBackend extends Backend {
  /** Every gemm call, in order (to check call counts and that no copies are passed). */
  calls: GemmArgs[];
  /** Calls of each recurrent kernel through this backend. */
  kernelCalls: Record<RecurrentKernelName, number>;
}

/**
 * A backend that records every gemm call and counts every recurrent kernel call, and computes them
 * on `inner` (default: the naive gemm and the JS gate kernels).
 */
export function countingBackend(inner: Backend = naiveBackend): CountingBackend {
  const calls: GemmArgs[] = [];
  const kernelCalls = {} as Record<RecurrentKernelName, number>;
  return {
    name: 'counting',
    describe: () => `counting ${inner.describe()}`,
    calls,
    kernelCalls,
    gemm: (args) => {
      calls.push(args);
      inner.gemm(args);
    },
    recurrent: countingKernels(inner.recurrent, kernelCalls),
    close: () => {},
  };
}
