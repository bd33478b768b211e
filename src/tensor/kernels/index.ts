import type { Backend } from '../backend.js';
import { gemmNaive } from './gemm-naive.js';

/** The reference backend: correct and slow; the yardstick for every fast one. */
export const naiveBackend: Backend = Object.freeze({ name: 'naive', gemm: gemmNaive });

/** The backend used when none is given. (Replaced by the blocked kernel once it lands.) */
export const defaultBackend: Backend = naiveBackend;
