/**
 * The package's main entry (`import … from 'mlstm'`) as Node resolves it (the "node" export
 * condition): the runtime-neutral library (src/index.ts), unchanged, after relaxed SIMD has been
 * turned on, so that the default wasm backend (`selectBackend()`, `loadModel`, a `Trainer` without a
 * tape) runs the FMA module on Node 20 as it does on newer runtimes. Browsers, Deno and Bun resolve
 * `mlstm` to src/index.ts itself.
 */
import './fma-first.js';

export * from '../index.js';
