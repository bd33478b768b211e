import { Tape } from '../autograd/tape.js';
import type { Backend } from '../tensor/backend.js';
import { selectBackend } from '../wasm/index.js';

/** Where a model is trained, evaluated or used: a tape of the caller's, or the kernels to run on. */
export interface ComputeOptions {
  /** The tape to record on (its backend computes); wins over `backend`. */
  tape?: Tape;
  /** The kernels to compute on (default: selectBackend(), the wasm backend where WebAssembly SIMD validates, else the JS one). */
  backend?: Backend;
}

/** The caller's tape, else a new one on the caller's backend, else on the default (selectBackend). */
export function tapeFor(options: ComputeOptions): Tape {
  return options.tape ?? new Tape({ backend: options.backend ?? selectBackend().backend });
}
