import { describe, expect, it } from 'vitest';
import { collectGarbageUntil } from './support/collect.js';
import { Rng } from '../src/tensor/rng.js';
import { blockedBackend } from '../src/tensor/kernels/index.js';
import { createWasmBackend, createWasmBackendSync } from '../src/node/wasm.js';
import { enableRelaxedSimd } from '../src/node/relaxed-simd.js';
import {
  chooseMultiplyAdd,
  createWasmBackend as createWasmBackendCore,
  detectWasmFeatures,
  relaxedSimdValidates,
  simdValidates,
  WasmHeap,
  type WasmBackend,
} from '../src/wasm/index.js';

/*
 * The wasm backend's lifecycle and feature detection: what the Node entry enables, what detection
 * chooses and says (describe()), the asynchronous and synchronous factories, the memory (shared
 * or not, growth, the allocator), and close().
 */

describe('feature detection and the Node entry', () => {
  it('SIMD validates on Node 20; the Node entry makes relaxed SIMD validate (a run-time V8 flag on V8 11.3)', () => {
    expect(simdValidates()).toBe(true);
    expect(enableRelaxedSimd()).toBe(true);
    expect(relaxedSimdValidates()).toBe(true);
    expect(enableRelaxedSimd()).toBe(true); // idempotent
  });

  it('the numeric probe finds the fused multiply-add on an x64 CPU with FMA, and detection picks that module', () => {
    enableRelaxedSimd();
    const features = detectWasmFeatures();
    expect(features).toEqual({ simd: true, relaxedSimd: true, fusedMultiplyAdd: true });
    expect(createWasmBackendSync().describe()).toBe('wasm-simd fma');
    expect(createWasmBackendSync({ fma: false }).describe()).toBe('wasm-simd');
    expect((blockedBackend as { describe?: () => string }).describe?.()).toBe('js');
  });

  it('chooseMultiplyAdd: what each option gives for each runtime, and the one-line refusals', () => {
    const none = { simd: false, relaxedSimd: false, fusedMultiplyAdd: false };
    const simdOnly = { simd: true, relaxedSimd: false, fusedMultiplyAdd: false };
    const unfused = { simd: true, relaxedSimd: true, fusedMultiplyAdd: false };
    const fused = { simd: true, relaxedSimd: true, fusedMultiplyAdd: true };
    expect(() => chooseMultiplyAdd('auto', none)).toThrow(/does not validate WebAssembly SIMD.*use the JS backend/);
    expect(chooseMultiplyAdd('auto', simdOnly)).toBe('mul-add');
    expect(chooseMultiplyAdd('auto', unfused)).toBe('mul-add');
    expect(chooseMultiplyAdd('auto', fused)).toBe('fma');
    expect(chooseMultiplyAdd(false, fused)).toBe('mul-add');
    expect(() => chooseMultiplyAdd(true, simdOnly)).toThrow(/relaxed SIMD does not validate here.*mlstm\/node/);
    expect(() => chooseMultiplyAdd(true, unfused)).toThrow(/not fused on this machine/);
  });
});

describe('creating and closing the backend', () => {
  const product = async (create: () => Promise<WasmBackend>) => {
    const be = await create();
    const a = Float32Array.of(1, 2, 3, 4);
    const c = new Float32Array(4);
    be.gemm({ m: 2, n: 2, k: 2, a, b: a, c });
    be.close();
    return Array.from(c);
  };

  it('asynchronously (WebAssembly.compile, as a browser main thread needs) and synchronously, with the same results', async () => {
    const expected = [7, 10, 15, 22];
    expect(await product(() => createWasmBackend())).toEqual(expected);
    expect(await product(() => createWasmBackendCore({ fma: false }))).toEqual(expected);
    expect(await product(() => Promise.resolve(createWasmBackendSync()))).toEqual(expected);
  });

  it('after close(), every kernel says the backend is closed', () => {
    const be = createWasmBackendSync({ fma: false });
    be.close();
    const x = new Float32Array(8);
    expect(() => be.tanhForward(8, x, 0, x, 0)).toThrow(/tanhForward: the wasm backend is closed/);
    expect(() => be.lstmGatesForward(1, 1, x, 0, x, 0, x, 0, x, 0, x, 0)).toThrow(/closed/);
    expect(() => be.allocate(4)).toThrow(/closed/);
  });
});

describe('the memory', () => {
  it('a non-shared memory works the same; allocate then gives ordinary arrays (a view would detach on grow)', () => {
    const shared = createWasmBackendSync({ fma: false });
    const plain = createWasmBackendSync({ fma: false, memory: { shared: false, initialBytes: 1 << 16 } });
    expect(shared.heap.shared).toBe(true);
    expect(plain.heap.shared).toBe(false);
    const x = plain.allocate(10);
    expect(plain.owns(x)).toBe(false);
    const rng = new Rng(2);
    const a = Float32Array.from({ length: 300 * 70 }, () => rng.uniform(-1, 1));
    const b = Float32Array.from({ length: 70 * 90 }, () => rng.uniform(-1, 1));
    const c1 = new Float32Array(300 * 90),
      c2 = new Float32Array(300 * 90);
    shared.gemm({ m: 300, n: 90, k: 70, a, b, c: c1 });
    plain.gemm({ m: 300, n: 90, k: 70, a, b, c: c2 }); // grows the 64 KiB memory mid-way
    expect(plain.heap.byteLength).toBeGreaterThan(1 << 16);
    expect(Array.from(c2)).toEqual(Array.from(c1));
    shared.close();
    plain.close();
  });

  it('the allocator reuses freed blocks, merges neighbours, and says when the maximum is reached', () => {
    const heap = new WasmHeap({ initialBytes: 1 << 16, maximumBytes: 1 << 18 });
    const p = heap.alloc(1000);
    const q = heap.alloc(1000);
    expect(p % 64).toBe(0);
    expect(q).toBeGreaterThanOrEqual(p + 1000);
    heap.release(p);
    heap.release(q);
    expect(heap.alloc(2000)).toBe(p); // the merged block
    expect(() => heap.release(q)).toThrow(/not an allocated block/);
    expect(() => heap.alloc(1 << 18)).toThrow(/out of memory.*maximum of 262144 bytes/);
    expect(() => new WasmHeap({ initialBytes: 1 << 20, maximumBytes: 1 << 16 })).toThrow(/exceeds maximumBytes/);
  });

  it('a prepared operand nobody released is freed once the garbage collector finds it unreachable', async () => {
    const be = createWasmBackendSync({ fma: false });
    const b = new Float32Array(256 * 256);
    be.releaseB(be.prepareB({ k: 256, n: 256, b })); // the scratch block b is copied through now exists
    const before = be.heap.allocatedBytes;
    (() => {
      for (let i = 0; i < 4; i++) be.prepareB({ k: 256, n: 256, b }); // dropped without releaseB
    })();
    expect(be.heap.allocatedBytes).toBeGreaterThanOrEqual(before + 4 * 256 * 256 * 4);
    await collectGarbageUntil(() => be.heap.allocatedBytes <= before);
    expect(be.heap.allocatedBytes).toBe(before);
    be.close();
  });

  it('freeFloat32 takes only arrays it allocated', () => {
    const be = createWasmBackendSync({ fma: false });
    const x = be.allocate(16);
    expect(() => be.heap.freeFloat32(x.subarray(4))).toThrow(/takes an array returned by allocFloat32/);
    be.free(x);
    be.free(new Float32Array(3)); // an ordinary array: nothing to do
    be.close();
  });
});
