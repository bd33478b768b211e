import v8 from 'node:v8';
import { relaxedSimdValidates } from '../wasm/detect.js';

/**
 * The Node side of the wasm backend's feature detection. V8 before 11.4 (Node 20 has 11.3) ships
 * relaxed SIMD behind --experimental-wasm-relaxed-simd; V8 reads wasm feature flags when it
 * validates or compiles, so setting the flag at run time, before the kernel module is compiled,
 * is enough (no restart, no command-line flag). The only file of the project that touches node:v8.
 */

/** The V8 version as [major, minor], or null where the runtime is not V8 (Bun) or does not say. */
function v8Version(): [number, number] | null {
  const match = /^(\d+)\.(\d+)/.exec(process.versions.v8 ?? '');
  return match === null ? null : [Number(match[1]), Number(match[2])];
}

/**
 * Makes relaxed SIMD available if this runtime can: validates the probe module; if that fails on a
 * V8 older than 11.4, sets the flag and validates again. Returns whether relaxed SIMD now validates.
 * On a newer V8 (or a non-V8 runtime) whose validator refuses it, nothing is changed.
 */
export function enableRelaxedSimd(): boolean {
  if (relaxedSimdValidates()) return true;
  const version = v8Version();
  if (version === null || version[0] > 11 || (version[0] === 11 && version[1] >= 4)) return false;
  try {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false; // a runtime that provides node:v8 without V8 flags
  }
  return relaxedSimdValidates();
}
