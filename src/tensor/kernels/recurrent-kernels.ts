import type { RecurrentKernels } from '../backend.js';
import { lstmGatesBackward, lstmGatesForward } from './recurrent-lstm-gates.js';
import { multiplicativeBackward, multiplicativeForward } from './recurrent-multiplicative.js';
import { tanhBackward, tanhForward } from './recurrent-tanh.js';

const REFERENCE =
  'the reference: float64 arithmetic (Math.exp, Math.tanh within about 1 float64 ulp), each stored value rounded once to the storage dtype';

/**
 * The JS recurrent kernels as a Backend's `recurrent` table: the reference every other table is
 * measured against, used by every JS backend (blocked, naive, the threaded ones) and by the wasm
 * backend for float64 operands.
 */
export const jsRecurrentKernels: RecurrentKernels = Object.freeze({
  lstmGatesForward,
  lstmGatesBackward,
  multiplicativeForward,
  multiplicativeBackward,
  tanhForward,
  tanhBackward,
  accuracy: Object.freeze({
    lstmGatesForward: REFERENCE,
    lstmGatesBackward: REFERENCE,
    multiplicativeForward: `${REFERENCE} (one product: correctly rounded)`,
    multiplicativeBackward: `${REFERENCE} (one product each: correctly rounded)`,
    tanhForward: REFERENCE,
    tanhBackward: REFERENCE,
  }),
});
