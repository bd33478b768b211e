import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CharLM, type CharLMConfig } from '../src/nn/charlm.js';
import { Tape } from '../src/autograd/tape.js';
import { tapeFor } from '../src/train/default-tape.js';
import { Rng } from '../src/tensor/rng.js';
import { extractFeatures, lengthOrder, unitTraces, type Pool } from '../src/features/extract.js';
import { decodeFeaturesSafetensors, encodeFeaturesSafetensors, formatFeaturesTsv, formatFloat32 } from '../src/features/format.js';

const CONFIG: CharLMConfig = { cell: 'mlstm', weightNorm: false, vocab: 11, embed: 5, hidden: 7, layers: 2 };

function randomSequences(seed: number, count: number, maxLen: number, vocab: number): Int32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => Int32Array.from({ length: 1 + rng.int(maxLen) }, () => rng.int(vocab)));
}

/**
 * The reference: the whole model's forward (CharLM.forward, head included) on ONE sequence as [T,1],
 * reading the top layer's c at the last step or averaging its h — none of extractFeatures' batching,
 * padding or windowing.
 */
function referenceFeature(model: CharLM, seq: Int32Array, pool: Pool): Float64Array {
  const tape = tapeFor({}); // the kernels extractFeatures defaults to
  return tape.noGrad(() => {
    const f = model.forward(tape, seq, seq.length, 1, model.zeroState(1));
    const H = model.config.hidden;
    const mean = new Float64Array(H);
    const last = new Float64Array(H);
    const c = (f.cs[f.cs.length - 1] ?? f.hs.value).data;
    for (let j = 0; j < H; j++) last[j] = c[(seq.length - 1) * H + j]!;
    const h = f.hs.value.data;
    for (let t = 0; t < seq.length; t++) for (let j = 0; j < H; j++) mean[j]! += h[t * H + j]! / seq.length;
    if (pool === 'mean') return mean;
    if (pool === 'last') return last;
    const both = new Float64Array(2 * H);
    both.set(mean);
    both.set(last, H);
    return both;
  });
}

function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / Math.max(1e-3, Math.abs(b[i]!)));
  return m;
}

describe('extractFeatures', () => {
  for (const cell of ['mlstm', 'lstm', 'mrnn'] as const) {
    it(`${cell}: batched, padded and windowed features equal the one-sequence reference (property)`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 1e6 }),
          fc.integer({ min: 1, max: 9 }),
          fc.integer({ min: 1, max: 5 }),
          fc.integer({ min: 1, max: 12 }),
          fc.constantFrom<Pool>('last', 'mean', 'mean+last'),
          (seed, count, batch, window, pool) => {
            const model = new CharLM({ ...CONFIG, cell }, { rng: new Rng(seed) });
            const seqs = randomSequences(seed + 1, count, 20, CONFIG.vocab);
            const got = extractFeatures(model, seqs, { pool, batch, window });
            const cols = pool === 'mean+last' ? 2 * CONFIG.hidden : CONFIG.hidden;
            expect([got.rows, got.cols]).toEqual([count, cols]);
            seqs.forEach((s, i) => {
              const ref = referenceFeature(model, s, pool);
              expect(maxRelativeError(got.data.subarray(i * cols, (i + 1) * cols), ref)).toBeLessThan(1e-5);
            });
          },
        ),
        { numRuns: 25 },
      );
    });
  }

  it('the default pool is mean, and mean+last is mean beside last', () => {
    const model = new CharLM(CONFIG, { rng: new Rng(11) });
    const seqs = randomSequences(12, 6, 25, CONFIG.vocab);
    const H = CONFIG.hidden;
    const byDefault = extractFeatures(model, seqs);
    const mean = extractFeatures(model, seqs, { pool: 'mean' });
    const last = extractFeatures(model, seqs, { pool: 'last' });
    const both = extractFeatures(model, seqs, { pool: 'mean+last' });
    expect(Array.from(byDefault.data)).toEqual(Array.from(mean.data));
    for (let i = 0; i < seqs.length; i++) {
      expect(Array.from(both.data.subarray(2 * H * i, 2 * H * i + H))).toEqual(Array.from(mean.data.subarray(H * i, H * (i + 1))));
      expect(Array.from(both.data.subarray(2 * H * i + H, 2 * H * (i + 1)))).toEqual(Array.from(last.data.subarray(H * i, H * (i + 1))));
    }
  });

  it('a text gets the same feature alone as in any batch (one at a time vs batched)', () => {
    const model = new CharLM(CONFIG, { rng: new Rng(3) });
    const seqs = randomSequences(4, 13, 40, CONFIG.vocab);
    for (const pool of ['last', 'mean'] as const) {
      const batched = extractFeatures(model, seqs, { pool, batch: 5, window: 16 });
      seqs.forEach((s, i) => {
        const alone = extractFeatures(model, [s], { pool, batch: 1 });
        expect(maxRelativeError(batched.data.subarray(i * 7, (i + 1) * 7), alone.data)).toBeLessThan(1e-6);
      });
    }
  });

  it('unitTraces: its last row is the last-pool feature and its mean the mean-pool feature of h', () => {
    const model = new CharLM(CONFIG, { rng: new Rng(5) });
    const seq = randomSequences(6, 1, 30, CONFIG.vocab)[0]!;
    const H = CONFIG.hidden;
    const c = unitTraces(model, seq, 'last', { window: 7 });
    const h = unitTraces(model, seq, 'mean', { window: 7 });
    expect(c.rows).toBe(seq.length);
    expect(maxRelativeError(c.data.subarray((seq.length - 1) * H), referenceFeature(model, seq, 'last'))).toBeLessThan(1e-6);
    const mean = new Float64Array(H);
    for (let t = 0; t < seq.length; t++) for (let j = 0; j < H; j++) mean[j]! += h.data[t * H + j]! / seq.length;
    expect(maxRelativeError(mean, referenceFeature(model, seq, 'mean'))).toBeLessThan(1e-5);
    const both = unitTraces(model, seq, 'mean+last', { window: 5 });
    expect(both.cols).toBe(2 * H);
    for (let t = 0; t < seq.length; t++) {
      expect(Array.from(both.data.subarray(t * 2 * H, t * 2 * H + H))).toEqual(Array.from(h.data.subarray(t * H, (t + 1) * H)));
      expect(Array.from(both.data.subarray(t * 2 * H + H, (t + 1) * 2 * H))).toEqual(Array.from(c.data.subarray(t * H, (t + 1) * H)));
    }
  });

  it('leaves the model in training mode if it was, and records nothing on the tape', () => {
    const model = new CharLM({ ...CONFIG, dropout: 0.5 }, { rng: new Rng(7) });
    model.train(true);
    const tape = new Tape();
    const seqs = randomSequences(8, 4, 10, CONFIG.vocab);
    const a = extractFeatures(model, seqs, { tape });
    const b = extractFeatures(model, seqs, { tape });
    expect(model.training).toBe(true);
    expect(tape.length).toBe(0);
    expect(Array.from(a.data)).toEqual(Array.from(b.data)); // dropout was off: deterministic
  });

  it('rejects empty sequences, tokens outside the vocabulary and bad options, naming them', () => {
    const model = new CharLM(CONFIG, { rng: new Rng(9) });
    expect(() => extractFeatures(model, [Int32Array.of(1), new Int32Array(0)])).toThrow(
      'extractFeatures: sequence 1 is empty; a feature needs at least one token',
    );
    expect(() => extractFeatures(model, [Int32Array.of(1, 11)])).toThrow(
      'extractFeatures: sequence 0 has token 11 at position 1, outside the vocabulary of 11',
    );
    expect(() => extractFeatures(model, [Int32Array.of(1)], { batch: 0 })).toThrow(
      'extractFeatures: batch must be a positive integer, got 0',
    );
    expect(() => extractFeatures(model, [Int32Array.of(1)], { pool: 'max' as Pool })).toThrow(/pool must be one of mean, last, mean\+last/);
    expect(extractFeatures(model, []).rows).toBe(0);
  });

  it('lengthOrder sorts by decreasing length, stably', () => {
    expect(lengthOrder([[1], [1, 2], [3], [1, 2, 3], [4, 5]])).toEqual([3, 1, 4, 0, 2]);
  });
});

describe('feature files', () => {
  it('safetensors round trip keeps values, labels and pool', () => {
    const data = Float32Array.from([0.5, -1.25, 3, 1e-8, 0, 7]);
    const f = { features: { data, rows: 3, cols: 2 }, labels: ['a', 'b\u00e9', 'a'], pool: 'mean' as const, checkpoint: 'm.safetensors' };
    const back = decodeFeaturesSafetensors(encodeFeaturesSafetensors(f), 'f.safetensors');
    expect(Array.from(back.features.data)).toEqual(Array.from(data));
    expect(back.labels).toEqual(f.labels);
    expect(back.pool).toBe('mean');
    expect(back.checkpoint).toBe('m.safetensors');
    expect(() => encodeFeaturesSafetensors({ ...f, labels: ['a'] })).toThrow('encodeFeaturesSafetensors: 1 labels for 3 feature rows');
  });

  it('TSV has a header and round-trips float32 values exactly', () => {
    const rng = new Rng(10);
    const data = Float32Array.from({ length: 6 }, () => rng.normal() * 10 ** rng.int(8));
    const tsv = formatFeaturesTsv({ features: { data, rows: 2, cols: 3 }, labels: ['x', 'y'], pool: 'last' });
    const lines = tsv.trimEnd().split('\n');
    expect(lines[0]).toBe('label\tu0\tu1\tu2');
    const parsed = lines.slice(1).flatMap((l) => l.split('\t').slice(1).map(Number));
    expect(Float32Array.from(parsed)).toEqual(data);
    expect(formatFloat32(0)).toBe('0');
    expect(formatFloat32(Math.fround(0.1))).toBe('0.100000001');
  });
});
