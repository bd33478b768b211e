import type { Backend } from '../backend.js';
import { blockedBackend } from './gemm-blocked.js';
import { gemmNaive } from './gemm-naive.js';
import { jsRecurrentKernels } from './recurrent-kernels.js';

export { blockedBackend, gemmBlocked } from './gemm-blocked.js';
export { gemmNaive } from './gemm-naive.js';
export { jsRecurrentKernels } from './recurrent-kernels.js';

/** The reference backend: correct and slow; the yardstick for every fast one. */
export const naiveBackend: Backend = Object.freeze({
  name: 'naive',
  describe: () => 'js naive',
  gemm: gemmNaive,
  recurrent: jsRecurrentKernels,
  close: () => {},
});

/** The backend used when none is given: the packed, register-blocked single-thread kernel. */
export const defaultBackend: Backend = blockedBackend;
