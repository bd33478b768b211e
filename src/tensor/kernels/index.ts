import type { Backend } from '../backend.js';
import { blockedBackend } from './gemm-blocked.js';
import { gemmNaive } from './gemm-naive.js';

export { blockedBackend, gemmBlocked } from './gemm-blocked.js';
export { gemmNaive } from './gemm-naive.js';

/** The reference backend: correct and slow; the yardstick for every fast one. */
export const naiveBackend: Backend = Object.freeze({ name: 'naive', gemm: gemmNaive });

/** The backend used when none is given: the packed, register-blocked single-thread kernel. */
export const defaultBackend: Backend = blockedBackend;
