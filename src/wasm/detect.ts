import { f32x4 } from './expr.js';
import { ModuleBuilder } from './module-builder.js';
import { wasmApi, type WasmApi } from './runtime.js';

/**
 * Feature detection, done once by the backend factory (XNNPACK's rule: a kernel is chosen by
 * detection and says which it is). Three questions, each answered by the runtime itself:
 *  1. Does WebAssembly SIMD validate? (Node ≥ 16.4, Chromium ≥ 91, Firefox ≥ 89, Safari ≥ 16.4.)
 *  2. Does relaxed SIMD validate? Shipped in Chromium 114 / V8 11.4; in Node 20 (V8 11.3) it is
 *     behind --experimental-wasm-relaxed-simd, which the Node entry (src/node/wasm.ts) can set at
 *     run time before asking again.
 *  3. Is f32x4.relaxed_madd fused? The proposal lets an engine round once (an FMA instruction)
 *     or twice (multiply, then add); only the fused form gains precision, and on a CPU without FMA
 *     the unfused lowering is no faster than our explicit mul+add module. A numeric probe tells
 *     them apart: a = b = 1 + 2⁻¹², c = −(1 + 2⁻¹¹). Exactly, a·b + c = 2⁻²⁴; rounded first,
 *     a·b = 1 + 2⁻¹¹ + 2⁻²⁴ is a tie that rounds to even, 1 + 2⁻¹¹, so the sum is 0.
 */

export interface WasmFeatures {
  simd: boolean;
  relaxedSimd: boolean;
  /** relaxed_madd validated and was measured to round once. */
  fusedMultiplyAdd: boolean;
}

/** (v128, v128) → v128 adding lanes: the smallest module that needs SIMD. */
function simdProbe(): Uint8Array {
  const mb = new ModuleBuilder();
  mb.function('add', { a: 'v128', b: 'v128' }, ['v128'], (f, { a, b }) => f.result(f32x4.add(a, b)));
  return mb.build();
}

/**
 * (a, c) → lane 0 of relaxed_madd(a, a, c). The values are parameters, not constants, so no
 * compiler can fold the probe with other rounding than the kernels get at run time.
 */
function relaxedMaddProbe(): Uint8Array {
  const mb = new ModuleBuilder();
  mb.function('probe', { a: 'f32', c: 'f32' }, ['f32'], (f, { a, c }) => {
    const x = f.let(f32x4.splat(a));
    f.result(f32x4.extractLane(f32x4.relaxedMadd(x, x, f32x4.splat(c)), 0));
  });
  return mb.build();
}

export function simdValidates(api: WasmApi | undefined = wasmApi()): boolean {
  return api !== undefined && api.validate(simdProbe());
}

export function relaxedSimdValidates(api: WasmApi | undefined = wasmApi()): boolean {
  return api !== undefined && api.validate(relaxedMaddProbe());
}

/** Runs the numeric probe (relaxed SIMD must validate). */
export function relaxedMaddIsFused(api: WasmApi | undefined = wasmApi()): boolean {
  if (api === undefined || !relaxedSimdValidates(api)) return false;
  const instance = new api.Instance(new api.Module(relaxedMaddProbe()));
  return (instance.exports['probe'] as (a: number, c: number) => number)(1 + 2 ** -12, -(1 + 2 ** -11)) === 2 ** -24;
}

/** What this runtime offers, asked afresh (cheap: two tiny validations and one tiny instance). */
export function detectWasmFeatures(api: WasmApi | undefined = wasmApi()): WasmFeatures {
  const simd = simdValidates(api);
  const relaxedSimd = simd && relaxedSimdValidates(api);
  return { simd, relaxedSimd, fusedMultiplyAdd: relaxedSimd && relaxedMaddIsFused(api) };
}
