import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DataError, WindowStreams } from '../src/data/streams.js';

/** Sizes with at least one window: N ≥ B·(T + 1). */
const sizes = fc
  .record({ batch: fc.integer({ min: 1, max: 6 }), seq: fc.integer({ min: 1, max: 9 }), extra: fc.integer({ min: 0, max: 60 }) })
  .map(({ batch, seq, extra }) => ({ batch, seq, n: batch * (seq + 1) + extra }));

const ramp = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

describe('WindowStreams', () => {
  it('reads each of B contiguous streams in order, targets one ahead of inputs, over one pass', () => {
    fc.assert(
      fc.property(sizes, ({ batch: B, seq: T, n }) => {
        const tokens = ramp(n); // token value = position, so contiguity is visible directly
        const s = new WindowStreams(tokens, B, T);
        const L = Math.floor(n / B);
        expect(s.streamLength).toBe(L);
        expect(s.windowsPerEpoch).toBe(Math.floor((L - 1) / T));
        const seen: number[][] = Array.from({ length: B }, () => []);
        for (let w = 0; w < s.windowsPerEpoch; w++) {
          const where = s.next();
          expect(where).toEqual({ epoch: 0, window: w, startsEpoch: w === 0 });
          for (let t = 0; t < T; t++) {
            for (let b = 0; b < B; b++) {
              expect(s.targets[t * B + b]).toBe(s.inputs[t * B + b]! + 1);
              seen[b]!.push(s.inputs[t * B + b]!);
            }
          }
        }
        for (let b = 0; b < B; b++) {
          const expected = Array.from({ length: s.windowsPerEpoch * T }, (_, i) => b * L + i);
          expect(seen[b]).toEqual(expected);
          // every target stays inside its own stream
          expect(b * L + s.windowsPerEpoch * T).toBeLessThanOrEqual((b + 1) * L - 1);
        }
        expect(s.cursor).toEqual({ epoch: 1, window: 0 });
        expect(s.next().startsEpoch).toBe(true);
      }),
    );
  });

  it('seek(cursor) reproduces the windows an uninterrupted reader sees', () => {
    fc.assert(
      fc.property(sizes, fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 10 }), ({ batch, seq, n }, skip, more) => {
        const tokens = Int32Array.from({ length: n }, (_, i) => (i * 7919) % 97);
        const a = new WindowStreams(tokens, batch, seq);
        for (let i = 0; i < skip; i++) a.next();
        const b = new WindowStreams(tokens, batch, seq);
        b.seek(JSON.parse(JSON.stringify(a.cursor)));
        for (let i = 0; i < more; i++) {
          expect(b.next()).toEqual(a.next());
          expect(b.inputs).toEqual(a.inputs);
          expect(b.targets).toEqual(a.targets);
        }
      }),
    );
  });

  it('refuses a text shorter than one window, naming the sizes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 9 }), fc.nat(), (B, T, r) => {
        const n = r % (B * (T + 1)); // too short by construction
        expect(() => new WindowStreams(ramp(n), B, T, 'tiny.txt')).toThrow(DataError);
      }),
    );
    expect(() => new WindowStreams(ramp(100), 4, 64, 'tiny.txt')).toThrow(
      'tiny.txt is shorter than one window: 100 characters make 4 streams of 25, but a window needs 65 per stream (seq 64 + 1); use a smaller batch or seq, or a longer text',
    );
  });

  it('rejects a cursor outside the pass', () => {
    const s = new WindowStreams(ramp(100), 2, 4);
    expect(() => s.seek({ epoch: 0, window: s.windowsPerEpoch })).toThrow(/outside 0 ≤ window < 12/);
    expect(() => s.seek({ epoch: -1, window: 0 })).toThrow(RangeError);
  });
});
