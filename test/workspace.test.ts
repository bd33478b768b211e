import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Workspace } from '../src/tensor/workspace.js';

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
});
