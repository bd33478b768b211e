import { describe, expect, it } from 'vitest';
import { collectGarbageUntil } from './support/collect.js';
import fc from 'fast-check';
import { Workspace, type WorkspaceMemory } from '../src/tensor/workspace.js';
import { Tape } from '../src/autograd/tape.js';
import { CharLM } from '../src/nn/charlm.js';
import { Rng } from '../src/tensor/rng.js';
import { createWasmBackendSync } from '../src/node/wasm.js';

/** A memory that hands out ordinary arrays and records what is taken and given back. */
function countingMemory(): WorkspaceMemory & { taken: Float32Array[]; freed: Float32Array[] } {
  const taken: Float32Array[] = [];
  const freed: Float32Array[] = [];
  return {
    taken,
    freed,
    allocate(length) {
      const x = new Float32Array(length);
      taken.push(x);
      return x;
    },
    free(x) {
      expect(taken).toContain(x);
      expect(freed).not.toContain(x);
      freed.push(x);
    },
  };
}

describe('Workspace (buffers reused across steps)', () => {
  it('lends zero-filled buffers of the requested dtype and length, and gives the same buffer back after release, zeroed again', () => {
    const ws = new Workspace();
    const a = ws.acquire('float32', 10);
    expect(a).toBeInstanceOf(Float32Array);
    expect(a.length).toBe(10);
    a.fill(7);
    ws.release(a);
    const again = ws.acquire('float32', 10);
    expect(again).toBe(a);
    expect(Array.from(again)).toEqual(new Array(10).fill(0));
    // Another dtype or length never gets it.
    ws.release(again);
    expect(ws.acquire('float64', 10)).not.toBe(a);
    expect(ws.acquire('float32', 11)).not.toBe(a);
    expect(ws.acquire('float32', 10)).toBe(a);
  });

  it('never lends one buffer twice: held buffers are not reused, whatever the order of acquire and release', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 3 }), fc.nat()), { maxLength: 60 }),
        fc.integer({ min: 0, max: 4 }),
        (ops, maxFree) => {
          const ws = new Workspace(maxFree);
          const held: Float32Array[] = [];
          for (const [take, len, pick] of ops) {
            if (take || held.length === 0) {
              const b = ws.acquire('float32', len) as Float32Array;
              expect(held).not.toContain(b);
              expect(b.every((v) => v === 0)).toBe(true);
              b.fill(1); // dirty it while held
              held.push(b);
            } else {
              ws.release(held.splice(pick % held.length, 1)[0]!);
            }
            expect(ws.idleStats.buffers).toBeLessThanOrEqual(maxFree);
          }
        },
      ),
    );
  });

  it('keeps at most maxFree idle buffers, dropping the oldest', () => {
    const ws = new Workspace(2);
    const [x, y, z] = [ws.acquire('float32', 4), ws.acquire('float32', 4), ws.acquire('float32', 4)];
    ws.release(x, y, z); // x is dropped
    expect(ws.idleStats).toEqual({ buffers: 2, bytes: 32 });
    const got = [ws.acquire('float32', 4), ws.acquire('float32', 4), ws.acquire('float32', 4)];
    expect(got).toContain(y);
    expect(got).toContain(z);
    expect(got).not.toContain(x);
  });

  it('refuses a buffer it did not lend, or one released twice, naming it', () => {
    const ws = new Workspace();
    expect(() => ws.release(new Float64Array(3))).toThrow(
      /Workspace.release: a float64\[3\] buffer that is not on loan from this workspace/,
    );
    const b = ws.acquire('float32', 5);
    ws.release(b);
    expect(() => ws.release(b)).toThrow(/not on loan .*released twice/);
    expect(() => new Workspace(-1)).toThrow(/maxFree must be a non-negative integer, got -1/);
  });

  it('takes float32 buffers from its memory (float64 from the JS heap) and gives one back when it is evicted, only then', () => {
    const mem = countingMemory();
    const ws = new Workspace(1, mem);
    const a = ws.acquire('float32', 6);
    const d = ws.acquire('float64', 6);
    expect(mem.taken).toEqual([a]);
    expect(d).toBeInstanceOf(Float64Array);
    ws.release(a);
    expect(ws.acquire('float32', 6)).toBe(a); // reused, not taken again
    expect(mem.taken).toHaveLength(1);
    const b = ws.acquire('float32', 3);
    ws.release(a, b); // maxFree 1: a is evicted
    expect(mem.freed).toEqual([a]);
    ws.release(d); // evicts b, which goes back to memory; d (float64) stays idle
    expect(mem.freed).toEqual([a, b]);
  });

  it('gives all its memory buffers back once it is collected, including those a never-cleared graph held', async () => {
    const be = createWasmBackendSync({ fma: false });
    const before = be.heap.allocatedBytes;
    (() => {
      const ws = new Workspace(4, { allocate: (n) => be.allocate(n), free: (x) => be.free(x) });
      ws.release(ws.acquire('float32', 1000), ws.acquire('float32', 2000)); // idle
      ws.acquire('float32', 3000); // held forever
    })();
    expect(be.heap.allocatedBytes).toBeGreaterThanOrEqual(before + 6000 * 4);
    await collectGarbageUntil(() => be.heap.allocatedBytes <= before);
    expect(be.heap.allocatedBytes).toBe(before);
    be.close();
  });

  it("a Tape on the wasm backend keeps the recurrent ops' buffers in its memory, and the losses and gradients are those of a JS-array workspace", () => {
    const be = createWasmBackendSync({ fma: false });
    const run = (withMemory: boolean): { losses: number[]; grads: Float32Array[]; inMemory: number } => {
      const model = new CharLM({ cell: 'mlstm', weightNorm: true, vocab: 11, embed: 5, hidden: 7, layers: 1 }, { rng: new Rng(3) });
      const tape = new Tape({ backend: be });
      if (!withMemory) Object.defineProperty(tape, 'workspace', { value: new Workspace() });
      let inMemory = 0;
      const acquire = tape.workspace.acquire.bind(tape.workspace);
      tape.workspace.acquire = (dtype, n) => {
        const x = acquire(dtype, n);
        if (be.owns(x)) inMemory++;
        return x;
      };
      const T = 6,
        B = 3;
      const rng = new Rng(9);
      const tokens = Int32Array.from({ length: (T + 1) * B }, () => Math.floor(rng.next() * 11));
      let state = model.zeroState(B);
      const losses: number[] = [];
      for (let step = 0; step < 3; step++) {
        const r = model.loss(tape, tokens.subarray(0, T * B), tokens.subarray(B), T, B, state);
        tape.backward(r.loss);
        losses.push(r.loss.value.data[0]!); // grads accumulate over the steps, alike in both runs
        state = model.detachState(r.state);
      }
      return { losses, grads: model.parameters().map((p) => p.grad!.data as Float32Array), inMemory };
    };
    const inPlace = run(true);
    const ordinary = run(false);
    expect(inPlace.inMemory).toBeGreaterThan(0);
    expect(ordinary.inMemory).toBe(0);
    expect(inPlace.losses).toEqual(ordinary.losses);
    inPlace.grads.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(ordinary.grads[i]!)));
    be.close();
  });
});
