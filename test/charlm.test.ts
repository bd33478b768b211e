import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { Tape } from '../src/autograd/tape.js';
import { CharLM, type CharLMConfig } from '../src/nn/charlm.js';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from '../src/io/checkpoint.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';

const base: CharLMConfig = { cell: 'mlstm', weightNorm: false, vocab: 5, embed: 3, hidden: 4, layers: 2 };

function tokensFor(rng: Rng, n: number, V: number): Int32Array {
  const t = new Int32Array(n);
  for (let i = 0; i < n; i++) t[i] = rng.int(V);
  return t;
}

describe('CharLM', () => {
  it('names its parameters as docs/CONTRACT.md, in a stable order', () => {
    const names = new CharLM(base, { rng: new Rng(1) }).namedParameters().map(([n]) => n);
    expect(names).toEqual([
      'embed.weight',
      ...['layers.0', 'layers.1'].flatMap((l) => ['wmx', 'wmh', 'whx', 'whm', 'bias'].map((p) => `${l}.${p}`)),
      'head.weight',
      'head.bias',
    ]);
    const wn = new CharLM({ ...base, layers: 1, weightNorm: true }, { rng: new Rng(1) }).namedParameters().map(([n]) => n);
    expect(wn).toContain('layers.0.whm.v');
    expect(wn).toContain('layers.0.whm.g');
    const lstm = new CharLM({ ...base, cell: 'lstm', layers: 1 }, { rng: new Rng(1) }).namedParameters().map(([n]) => n);
    expect(lstm).toEqual(['embed.weight', 'layers.0.wx', 'layers.0.wh', 'layers.0.bias', 'head.weight', 'head.bias']);
  });

  it('the same seed builds the same model; another seed another', () => {
    const a = new CharLM(base, { rng: new Rng(7) }).parameters().map((p) => Array.from(p.value.data));
    const b = new CharLM(base, { rng: new Rng(7) }).parameters().map((p) => Array.from(p.value.data));
    const c = new CharLM(base, { rng: new Rng(8) }).parameters().map((p) => Array.from(p.value.data));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('loss gradient matches central differences in float64 for every cell kind (whole model)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<CharLMConfig['cell']>('mlstm', 'lstm', 'mrnn'),
        fc.boolean(),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 0, max: 1000 }),
        (cell, wn, T, B, layers, seed) => {
          const config: CharLMConfig = { cell, weightNorm: wn && cell === 'mlstm', vocab: 4, embed: 2, hidden: 3, layers };
          const rng = new Rng(seed);
          const model = new CharLM(config, { rng, dtype: 'float64' });
          const inputs = tokensFor(rng, T * B, 4);
          const targets = tokensFor(rng, T * B, 4);
          const lossOf = (): number => {
            const tape = new Tape();
            return tape.noGrad(() => model.loss(tape, inputs, targets, T, B, model.zeroState(B)).loss.value.item());
          };
          const tape = new Tape();
          model.zeroGrad();
          tape.backward(model.loss(tape, inputs, targets, T, B, model.zeroState(B)).loss);
          const eps = 1e-6;
          for (const [name, p] of model.namedParameters()) {
            const d = p.value.data;
            for (let i = 0; i < d.length; i++) {
              const keep = d[i]!;
              d[i] = keep + eps;
              const up = lossOf();
              d[i] = keep - eps;
              const down = lossOf();
              d[i] = keep;
              const numeric = (up - down) / (2 * eps);
              const analytic = p.grad ? p.grad.data[i]! : 0;
              if (Math.abs(analytic - numeric) > 1e-6 + 1e-5 * Math.abs(numeric)) {
                throw new Error(`${cell} wn=${wn} ${name}[${i}]: analytic ${analytic} vs numeric ${numeric}`);
              }
            }
          }
        },
      ),
      { numRuns: 12, seed: 42 },
    );
  });

  it('rejects tokens that do not form [T,B] and configs with bad fields, naming them', () => {
    const model = new CharLM(base, { rng: new Rng(1) });
    expect(() => model.forward(new Tape(), new Int32Array(5), 2, 3, model.zeroState(3))).toThrow(/5 tokens do not form \[T,B\] = \[2,3\]/);
    expect(() => model.forward(new Tape(), Int32Array.of(0, 9), 1, 2, model.zeroState(2))).toThrow(/9/);
    expect(() => new CharLM({ ...base, hidden: 0 }, { rng: new Rng(1) })).toThrow(/hidden must be a positive integer/);
    expect(() => new CharLM({ ...base, cell: 'gru' as never }, { rng: new Rng(1) })).toThrow(/unknown cell 'gru'/);
    expect(() => new CharLM({ ...base, cell: 'lstm', weightNorm: true }, { rng: new Rng(1) })).toThrow(/weight norm/);
  });
});

describe('checkpoints', () => {
  const vocab = { kind: 'chars' as const, symbols: ['a', 'b', ' ', '\n', 'é'] };

  it('round-trip exactly, with extra tensors and metadata, and read as plain safetensors', () => {
    for (const config of [base, { ...base, weightNorm: true, layers: 1 }, { ...base, cell: 'mrnn' as const }]) {
      const model = new CharLM(config, { rng: new Rng(3) });
      const extra = new Map([['train.rng', new Tensor(Float64Array.of(1, 2, 3, 4294967295), [4])]]);
      const bytes = encodeCheckpoint(model, vocab, { tensors: extra, metadata: { note: 'hi' } });
      const back = decodeCheckpoint(bytes, { source: 'x.safetensors' });
      expect(back.config).toEqual({
        cell: config.cell,
        weightNorm: config.weightNorm,
        vocab: 5,
        embed: 3,
        hidden: 4,
        layers: config.layers,
      });
      expect(back.vocab).toEqual(vocab);
      expect(back.metadata.note).toBe('hi');
      expect(Array.from(back.extraTensors.get('train.rng')!.data)).toEqual([1, 2, 3, 4294967295]);
      for (const [n, p] of model.namedParameters())
        expect(Array.from(back.model.stateDict().get(n)!.data), n).toEqual(Array.from(p.value.data));
      const raw = decodeSafetensors(bytes);
      expect(raw.metadata.format).toBe('mlstm-charlm/1');
      expect(JSON.parse(raw.metadata.config!)).toEqual({
        cell: config.cell,
        weight_norm: config.weightNorm,
        vocab: 5,
        embed: 3,
        hidden: 4,
        layers: config.layers,
      });
      expect(raw.tensors.get('embed.weight')!.dtype).toBe('F32');
    }
  });

  it('byte-level models say tokenizer "bytes"', () => {
    const model = new CharLM({ ...base, vocab: 256, layers: 1 }, { rng: new Rng(3) });
    const bytes = encodeCheckpoint(model, { kind: 'bytes' });
    expect(decodeSafetensors(bytes).metadata.tokenizer).toBe('bytes');
    expect(decodeCheckpoint(bytes).vocab).toEqual({ kind: 'bytes' });
  });

  it('a checkpoint that does not fit is an error naming what does not fit', () => {
    const model = new CharLM(base, { rng: new Rng(3) });
    const good = decodeSafetensors(encodeCheckpoint(model, vocab));
    const rewrite = (edit: (f: typeof good) => void): Uint8Array => {
      const f = decodeSafetensors(encodeCheckpoint(model, vocab));
      edit(f);
      return encodeSafetensors(f.tensors, f.metadata);
    };
    const cases: [string, Uint8Array, RegExp][] = [
      ['format', rewrite((f) => (f.metadata.format = 'other/2')), /not an mlstm checkpoint/],
      ['config json', rewrite((f) => (f.metadata.config = '{')), /'config' is not valid JSON/],
      [
        'config field',
        rewrite((f) => (f.metadata.config = good.metadata.config!.replace('"hidden":4', '"hidden":-1'))),
        /hidden must be a positive integer/,
      ],
      ['vocab size', rewrite((f) => (f.metadata.vocab = '["a","b"]')), /2 symbols but config.vocab is 5/],
      ['missing param', rewrite((f) => f.tensors.delete('layers.1.whm')), /missing parameter\(s\) layers.1.whm/],
      [
        'unexpected param',
        rewrite((f) => f.tensors.set('layers.2.whm', f.tensors.get('layers.1.whm')!)),
        /unexpected parameter\(s\) layers.2.whm/,
      ],
      [
        'shape',
        rewrite((f) => f.tensors.set('head.bias', { dtype: 'F32', shape: [4], data: new Float32Array(4) })),
        /'head.bias' has shape \[5\] in the model but \[4\]/,
      ],
    ];
    for (const [what, bytes, pattern] of cases) {
      expect(() => decodeCheckpoint(bytes, { source: 'm.safetensors' }), what).toThrow(CheckpointError);
      expect(() => decodeCheckpoint(bytes, { source: 'm.safetensors' }), what).toThrow(pattern);
    }
    expect(() => decodeCheckpoint(new Uint8Array(3), { source: 'm.safetensors' })).toThrow(/m.safetensors/);
  });
});
