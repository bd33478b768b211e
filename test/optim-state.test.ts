import { describe, expect, it } from 'vitest';
import type { Var } from '../src/autograd/var.js';
import { Adam, AdamW } from '../src/optim/adam.js';
import type { Optimizer, ParamsInput } from '../src/optim/optimizer.js';
import { SGD } from '../src/optim/sgd.js';
import { Tensor } from '../src/tensor/tensor.js';
import { makeParams, noSkip, skipSome, train } from './optim-helpers.js';

// Resumable training: saving the optimiser state mid-run, loading it into a fresh optimiser over
// fresh parameters holding the saved values, and continuing must give bit-identical parameters
// and state to a run that never stopped. The state also goes through raw little-endian bytes,
// as a safetensors file stores it, to show that the dtypes chosen keep it exact.

type Build = (params: ParamsInput) => Optimizer;
const builders: [string, Build][] = [
  ['Adam', (p) => new Adam(p, { lr: 0.01, weightDecay: 0.01 })],
  ['Adam amsgrad', (p) => new Adam(p, { lr: 0.01, amsgrad: true })],
  ['AdamW', (p) => new AdamW(p, { lr: 0.01, weightDecay: 0.1 })],
  ['SGD momentum', (p) => new SGD(p, { lr: 0.1, momentum: 0.9, dampening: 0.1 })],
  ['SGD Nesterov', (p) => new SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true })],
  ['SGD plain', (p) => new SGD(p, { lr: 0.1 })],
];

/** Through bytes and back, keeping the dtype: what writing and reading a safetensors file does. */
function throughBytes(dict: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, t] of dict) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
    const data = t.dtype === 'float64' ? new Float64Array(bytes.buffer) : new Float32Array(bytes.buffer);
    out.set(k, new Tensor(data, t.shape));
  }
  return out;
}

function values(params: readonly [string, Var][]): number[][] {
  return params.map(([, v]) => Array.from(v.value.data));
}

function sameState(a: ReadonlyMap<string, Tensor>, b: ReadonlyMap<string, Tensor>): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, t] of a) {
    expect(b.get(k)!.dtype, k).toBe(t.dtype);
    expect(Array.from(b.get(k)!.data), k).toEqual(Array.from(t.data));
  }
}

describe('optimiser state save → load → continue', () => {
  for (const [name, build] of builders) {
    for (const named of [true, false]) {
      it(`${name} (${named ? 'named' : 'indexed'} parameters): resumed after 4 of 9 steps equals the uninterrupted run bit for bit`, () => {
        const asInput = (p: [string, Var][]): ParamsInput => (named ? p : p.map(([, v]) => v));
        const straight = makeParams('float32');
        const optStraight = build(asInput(straight));
        train(optStraight, straight, 0, 9, skipSome);

        const first = makeParams('float32');
        const optFirst = build(asInput(first));
        train(optFirst, first, 0, 4, skipSome);
        const saved = optFirst.stateDict();
        const savedValues = values(first);
        train(optFirst, first, 4, 6, skipSome); // the saved copies must not follow later steps

        const resumed = makeParams('float32', 99); // different initial values, overwritten below
        resumed.forEach(([, v], k) => v.value.data.set(savedValues[k]!));
        const optResumed = build(asInput(resumed));
        optResumed.loadStateDict(throughBytes(saved));
        expect(optResumed.stepCount).toBe(4);
        train(optResumed, resumed, 4, 9, skipSome);

        expect(values(resumed)).toEqual(values(straight));
        sameState(optStraight.stateDict(), optResumed.stateDict());
      });
    }
  }

  it('counts are float64 [1] tensors, moments keep the parameter dtype and shape', () => {
    const params = makeParams('float32');
    const opt = new Adam(params, { amsgrad: true });
    train(opt, params, 0, 2, noSkip);
    const sd = opt.stateDict();
    expect(sd.get('optim.step')!.dtype).toBe('float64');
    expect(sd.get('optim.step')!.shape).toEqual([1]);
    expect(sd.get('optim.step')!.item()).toBe(2);
    expect(sd.get('optim.layer.0.w.step')!.dtype).toBe('float64');
    for (const b of ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq']) {
      expect(sd.get(`optim.layer.0.w.${b}`)!.dtype).toBe('float32');
      expect(sd.get(`optim.layer.0.w.${b}`)!.shape).toEqual([3, 4]);
    }
    expect(new SGD(params, { lr: 0.1, momentum: 0.9 }).stateDict().get('optim.layer.1.w.momentum_buffer')!.shape).toEqual([5]);
    expect([...new SGD(params, { lr: 0.1 }).stateDict().keys()]).toEqual([
      'optim.step',
      'optim.layer.0.w.step',
      'optim.layer.1.w.step',
      'optim.layer.2.w.step',
    ]);
  });
});

describe('loadStateDict checks', () => {
  function trained(): [Optimizer, Map<string, Tensor>] {
    const params = makeParams('float32');
    const opt = new Adam(params, { lr: 0.01 });
    train(opt, params, 0, 3, noSkip);
    return [opt, opt.stateDict()];
  }

  it('ignores keys outside optim. (model parameters may share the map)', () => {
    const [, sd] = trained();
    sd.set('layers.0.wmx', new Tensor(new Float32Array(6), [2, 3]));
    const fresh = new Adam(makeParams('float32'));
    fresh.loadStateDict(sd);
    expect(fresh.stepCount).toBe(3);
  });

  const cases: [string, (sd: Map<string, Tensor>) => void, RegExp][] = [
    [
      'a missing buffer',
      (sd) => sd.delete('optim.layer.1.w.exp_avg_sq'),
      /Adam\.loadStateDict \(run\/ckpt\.safetensors\): missing optim\.layer\.1\.w\.exp_avg_sq/,
    ],
    ['a missing global step', (sd) => sd.delete('optim.step'), /missing optim\.step/],
    [
      'state of another optimiser kind',
      (sd) => sd.set('optim.layer.0.w.max_exp_avg_sq', new Tensor(new Float32Array(12), [3, 4])),
      /unexpected optim\.layer\.0\.w\.max_exp_avg_sq/,
    ],
    [
      'a parameter the optimiser does not have',
      (sd) => sd.set('optim.layer.9.w.step', new Tensor(Float64Array.of(1), [1])),
      /unexpected optim\.layer\.9\.w\.step/,
    ],
    [
      'a buffer of the wrong shape',
      (sd) => sd.set('optim.layer.0.w.exp_avg', new Tensor(new Float32Array(12), [4, 3])),
      /parameter 'layer\.0\.w' has shape \[3,4\] but 'optim\.layer\.0\.w\.exp_avg' has \[4,3\]/,
    ],
    [
      'a fractional step count',
      (sd) => sd.set('optim.step', new Tensor(Float64Array.of(2.5), [1])),
      /'optim\.step' must be one non-negative integer, got 2\.5/,
    ],
    [
      'a negative step count',
      (sd) => sd.set('optim.layer.2.w.step', new Tensor(Float64Array.of(-1), [1])),
      /'optim\.layer\.2\.w\.step' must be one non-negative integer, got -1/,
    ],
    [
      'a step count of several elements',
      (sd) => sd.set('optim.step', new Tensor(new Float64Array(2), [2])),
      /'optim\.step' must be one non-negative integer, got a tensor of shape \[2\]/,
    ],
  ];
  for (const [what, corrupt, message] of cases) {
    it(`rejects ${what}, naming the key, and changes nothing`, () => {
      const [, sd] = trained();
      corrupt(sd);
      const params = makeParams('float32');
      const fresh = new Adam(params, { lr: 0.01 });
      train(fresh, params, 0, 1, noSkip);
      const before = fresh.stateDict();
      expect(() => fresh.loadStateDict(sd, { source: 'run/ckpt.safetensors' })).toThrow(message);
      sameState(before, fresh.stateDict());
    });
  }
});
