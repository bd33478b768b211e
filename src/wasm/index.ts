import type { Backend } from '../tensor/backend.js';
import { blockedBackend } from '../tensor/kernels/gemm-blocked.js';
import { WasmBackend } from './backend.js';
import { detectWasmFeatures, type WasmFeatures } from './detect.js';
import type { MultiplyAdd } from './gemm-kernels.js';
import { WasmHeap, type HeapOptions } from './heap.js';
import { buildKernelModule, MEMORY_IMPORT, type KernelExports } from './kernel-module.js';
import { wasmApi, type WasmApi, type WasmImports, type WasmInstance, type WasmModule } from './runtime.js';

/**
 * mlstm's WebAssembly SIMD kernels: assembled at load time by our own TypeScript (module-builder.ts,
 * expr.ts), no toolchain and no .wasm file. Runtime-neutral: this folder touches no Node API.
 * On Node 20 (V8 11.3) relaxed SIMD sits behind a V8 flag; `mlstm/node`'s createWasmBackend sets
 * it before detecting (src/node/wasm.ts).
 */

export { WasmBackend, WasmPackedB } from './backend.js';
export { gemmPacked } from './gemm-driver.js';
export { detectWasmFeatures, relaxedMaddIsFused, relaxedSimdValidates, simdValidates, type WasmFeatures } from './detect.js';
export { WasmHeap, type HeapOptions } from './heap.js';
export { buildKernelModule, type KernelExports, type KernelModuleOptions } from './kernel-module.js';
export { type MultiplyAdd, MR as WASM_GEMM_MR, NR as WASM_GEMM_NR } from './gemm-kernels.js';
export {
  gemmErrorBound,
  gateErrorBound,
  gamma,
  FLOAT32_UNIT_ROUNDOFF,
  FUNCTION_RELATIVE_ERROR,
  FUNCTION_ABSOLUTE_ERROR,
  VECTOR_MATH_ACCURACY,
} from './accuracy.js';

export interface WasmBackendOptions {
  /**
   * The multiply-add of the GEMM: 'auto' (default) uses f32x4.relaxed_madd where it validates and
   * a numeric probe shows it fused; true requires that (throws otherwise); false always uses the
   * separate multiply and add (two roundings, bit-identical on every engine).
   */
  fma?: boolean | 'auto';
  /** The backend's memory: initial and maximum size, shared or not (see heap.ts). */
  memory?: HeapOptions;
}

/** Picks the arithmetic from the options and what the runtime offers (throws when it cannot be met). */
export function chooseMultiplyAdd(fma: boolean | 'auto', features: WasmFeatures): MultiplyAdd {
  if (!features.simd) {
    throw new Error('wasm backend: this runtime does not validate WebAssembly SIMD (fixed-width 128-bit); use the JS backend');
  }
  if (fma === false) return 'mul-add';
  if (features.fusedMultiplyAdd) return 'fma';
  if (fma === true) {
    throw new Error(
      features.relaxedSimd
        ? 'wasm backend: f32x4.relaxed_madd is not fused on this machine (no FMA); use fma: false or "auto"'
        : 'wasm backend: relaxed SIMD does not validate here (on Node 20, create the backend through mlstm/node, which enables it)',
    );
  }
  return 'mul-add';
}

const compiled = new Map<string, WasmModule>();

/** The kernel module's imports: the backend's memory. */
const importsOf = (heap: WasmHeap): WasmImports => ({ [MEMORY_IMPORT.module]: { [MEMORY_IMPORT.field]: heap.memory } });

/** An instantiated kernel module: its exports, the memory it runs over, its arithmetic, and the compiled module (for other threads). */
export interface KernelInstance {
  kernels: KernelExports;
  heap: WasmHeap;
  multiplyAdd: MultiplyAdd;
  /** The compiled module: a worker instantiates it over the same (shared) memory to run the same kernels. */
  module: WasmModule;
}

const kernelsOf = (instance: WasmInstance): KernelExports => instance.exports as unknown as KernelExports;

function setUp(options: WasmBackendOptions): {
  api: WasmApi;
  heap: WasmHeap;
  multiplyAdd: MultiplyAdd;
  key: string;
  bytes: () => Uint8Array;
} {
  const api = wasmApi();
  const multiplyAdd = chooseMultiplyAdd(options.fma ?? 'auto', detectWasmFeatures(api));
  const heap = new WasmHeap(options.memory);
  const key = `${multiplyAdd}/${heap.shared ? 'shared' : 'unshared'}`;
  return { api: api!, heap, multiplyAdd, key, bytes: () => buildKernelModule({ multiplyAdd, sharedMemory: heap.shared }) };
}

/** The kernel module compiled (once per variant and process) and instantiated over a new memory, synchronously. */
export function instantiateKernelsSync(options: WasmBackendOptions = {}): KernelInstance {
  const { api, heap, multiplyAdd, key, bytes } = setUp(options);
  let module = compiled.get(key);
  if (module === undefined) {
    module = new api.Module(bytes());
    compiled.set(key, module);
  }
  return { kernels: kernelsOf(new api.Instance(module, importsOf(heap))), heap, multiplyAdd, module };
}

/** instantiateKernelsSync, compiled and instantiated asynchronously (as a browser's main thread requires). */
export async function instantiateKernels(options: WasmBackendOptions = {}): Promise<KernelInstance> {
  const { api, heap, multiplyAdd, key, bytes } = setUp(options);
  let module = compiled.get(key);
  if (module === undefined) {
    module = await api.compile(bytes());
    compiled.set(key, module);
  }
  return { kernels: kernelsOf(await api.instantiate(module, importsOf(heap))), heap, multiplyAdd, module };
}

/**
 * The wasm backend, compiled synchronously: fine in Node, Deno, Bun and workers; browsers refuse
 * synchronous compilation of large modules on the main thread (use createWasmBackend there).
 */
export function createWasmBackendSync(options: WasmBackendOptions = {}): WasmBackend {
  const { kernels, heap, multiplyAdd } = instantiateKernelsSync(options);
  return new WasmBackend(kernels, heap, multiplyAdd);
}

/** The wasm backend, compiled asynchronously (works everywhere, including a browser's main thread). */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const { kernels, heap, multiplyAdd } = await instantiateKernels(options);
  return new WasmBackend(kernels, heap, multiplyAdd);
}

/** Which kernels compute: the JS ones (the reference) or the WebAssembly SIMD ones. */
export type BackendKind = 'js' | 'wasm';

/** What selectBackend chose, and why. */
export interface BackendSelection {
  readonly backend: Backend;
  readonly kind: BackendKind;
  /** Why this backend: e.g. 'WebAssembly SIMD validates', or why wasm could not be used. */
  readonly reason: string;
}

let sharedWasm: BackendSelection | undefined;

/**
 * The backend mlstm computes on where the caller names none (Trainer, evaluate, the CLI, the demo):
 * the WebAssembly SIMD backend wherever SIMD validates (with the fused multiply-add where relaxed
 * SIMD validates and fuses: on Node 20 call mlstm/node's selectBackend, which enables it first),
 * else the JS blocked kernel, the fallback and the reference; `reason` says why. 'js' and 'wasm'
 * ask for one ('wasm' throws where it cannot run). The wasm backend is made once per thread and
 * shared by every caller: its close() does nothing (it holds no thread, and its memory goes with
 * the thread). It compiles synchronously, which a browser's main thread refuses for large modules:
 * there, await selectBackendAsync() once first.
 */
export function selectBackend(kind: BackendKind | 'auto' = 'auto'): BackendSelection {
  if (kind === 'js') return { backend: blockedBackend, kind: 'js', reason: 'the JS kernels were asked for' };
  const why = wasmUnavailable();
  if (why !== undefined) return jsBecause(kind, why);
  if (sharedWasm !== undefined) return sharedWasm;
  try {
    return remember(createWasmBackendSync());
  } catch (error) {
    return jsBecause(kind, `the wasm kernels could not be compiled (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** selectBackend with asynchronous compilation (a browser's main thread); later selectBackend calls return the same backend. */
export async function selectBackendAsync(kind: BackendKind | 'auto' = 'auto'): Promise<BackendSelection> {
  const why = kind === 'js' ? undefined : wasmUnavailable();
  if (kind === 'js' || why !== undefined || sharedWasm !== undefined) return selectBackend(kind);
  try {
    return remember(await createWasmBackend());
  } catch (error) {
    return jsBecause(kind, `the wasm kernels could not be compiled (${error instanceof Error ? error.message : String(error)})`);
  }
}

/**
 * Why the wasm backend cannot run here (no WebAssembly, or SIMD does not validate), or undefined where it
 * can: the decision selectBackend makes before compiling anything, for callers that only need the kind
 * (the CLI's --backend default, the demo's training worker) and build their backend themselves.
 */
export function wasmUnavailable(): string | undefined {
  const api = wasmApi();
  if (api === undefined) return 'this runtime has no WebAssembly';
  if (!detectWasmFeatures(api).simd) return 'this runtime does not validate WebAssembly SIMD';
  return undefined;
}

function jsBecause(kind: BackendKind | 'auto', why: string): BackendSelection {
  if (kind === 'wasm') throw new Error(`wasm backend: ${why}; use the JS backend`);
  return { backend: blockedBackend, kind: 'js', reason: `${why}: the JS kernels run` };
}

function remember(backend: WasmBackend): BackendSelection {
  backend.close = (): void => {}; // shared by every caller of selectBackend: nobody's close may end it
  sharedWasm = { backend, kind: 'wasm', reason: 'WebAssembly SIMD validates' };
  return sharedWasm;
}
