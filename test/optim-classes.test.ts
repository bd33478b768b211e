import { describe, expect, it } from 'vitest';
import { Var } from '../src/autograd/var.js';
import { Adam, AdamW } from '../src/optim/adam.js';
import { makeOptimizer } from '../src/optim/config.js';
import type { Optimizer } from '../src/optim/optimizer.js';
import { SGD } from '../src/optim/sgd.js';
import { Tensor } from '../src/tensor/tensor.js';
import { gradFor, makeParams, noSkip, schedule, setGrads, skipSome, train } from './optim-helpers.js';
import { maxScaledError, referenceAdam, referenceSgd } from './optim-reference.js';

// The optimiser classes driven like a trainer drives them (schedule sets lr, grads written, step),
// checked against the naive references of optim-reference.ts, plus their bookkeeping: skipping
// parameters without a gradient, step counts, validation and error messages.

/** For parameter k: its initial values, the grads it received and the lr of each of its updates. */
function history(p0: readonly number[], k: number, steps: number, skip: (k: number, s: number) => boolean) {
  const grads: number[][] = [];
  const lrs: number[] = [];
  for (let s = 0; s < steps; s++) {
    const g = gradFor(k, s, p0.length, skip);
    if (g) {
      grads.push(g);
      lrs.push(schedule(s));
    }
  }
  return { grads, lrs };
}

describe('optimiser classes against the naive references', () => {
  const cases: [string, (p: [string, Var][]) => Optimizer, (p0: number[], g: number[][], lrs: number[]) => number[][]][] = [
    [
      'Adam',
      (p) => new Adam(p, { betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.01 }),
      (p0, g, lrs) =>
        referenceAdam(p0, g, lrs, { beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.01, amsgrad: false, decoupled: false }),
    ],
    [
      'Adam amsgrad',
      (p) => new Adam(p, { amsgrad: true }),
      (p0, g, lrs) => referenceAdam(p0, g, lrs, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: true, decoupled: false }),
    ],
    [
      'AdamW',
      (p) => new AdamW(p, { weightDecay: 0.1 }),
      (p0, g, lrs) => referenceAdam(p0, g, lrs, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, amsgrad: false, decoupled: true }),
    ],
    [
      'SGD Nesterov',
      (p) => new SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.05 }),
      (p0, g, lrs) => referenceSgd(p0, g, lrs, { momentum: 0.9, dampening: 0, weightDecay: 0.05, nesterov: true }),
    ],
    [
      'SGD dampened',
      (p) => new SGD(p, { lr: 0.1, momentum: 0.5, dampening: 0.3 }),
      (p0, g, lrs) => referenceSgd(p0, g, lrs, { momentum: 0.5, dampening: 0.3, weightDecay: 0, nesterov: false }),
    ],
    [
      'SGD plain',
      (p) => new SGD(p, { lr: 0.1 }),
      (p0, g, lrs) => referenceSgd(p0, g, lrs, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }),
    ],
  ];
  for (const [name, build, reference] of cases) {
    for (const dtype of ['float64', 'float32'] as const) {
      it(`${name} (${dtype}): 8 scheduled steps with one parameter skipping some, each parameter on its own step count`, () => {
        const params = makeParams(dtype);
        const p0 = params.map(([, v]) => Array.from(v.value.data));
        const opt = build(params);
        train(opt, params, 0, 8, skipSome);
        expect(opt.stepCount).toBe(8);
        params.forEach(([, v], k) => {
          const { grads, lrs } = history(p0[k]!, k, 8, skipSome);
          const ref = reference(p0[k]!, grads, lrs);
          expect(maxScaledError(v.value.data, ref[ref.length - 1]!)).toBeLessThan(dtype === 'float64' ? 1e-12 : 2e-6);
        });
        const sd = opt.stateDict();
        expect(sd.get('optim.layer.1.w.step')!.item()).toBe(5); // missed updates 1 and 4
        expect(sd.get('optim.layer.0.w.step')!.item()).toBe(8);
      });
    }
  }

  it('a parameter whose grad is null is not touched, nor is its state', () => {
    const params = makeParams('float32');
    const opt = new Adam(params, { lr: 0.1 });
    const before = Array.from(params[2]![1].value.data);
    train(opt, params, 0, 3, (k) => k === 2);
    expect(Array.from(params[2]![1].value.data)).toEqual(before);
    const sd = opt.stateDict();
    expect(sd.get('optim.layer.2.w.step')!.item()).toBe(0);
    expect(Array.from(sd.get('optim.layer.2.w.exp_avg')!.data)).toEqual([0]);
  });

  it('zeroGrad zero-fills the gradients in place (a zero gradient still moves Adam through its momentum)', () => {
    const params = makeParams('float32');
    const opt = new Adam(params, { lr: 0.1 });
    train(opt, params, 0, 1);
    const buf = params[0]![1].grad!;
    opt.zeroGrad();
    expect(params[0]![1].grad).toBe(buf);
    expect(buf.data.every((x) => x === 0)).toBe(true);
    const before = Array.from(params[0]![1].value.data);
    opt.step();
    expect(Array.from(params[0]![1].value.data)).not.toEqual(before);
  });

  it('plain Vars are named by index; lr, stepCount and hyperparameters() read back', () => {
    const vars = makeParams('float32').map(([, v]) => v);
    const opt = new AdamW(vars, { lr: 0.002, betas: [0.85, 0.995], eps: 1e-7, weightDecay: 0.3, amsgrad: true });
    expect(opt.paramNames).toEqual(['0', '1', '2']);
    expect([...opt.stateDict().keys()]).toEqual([
      'optim.step',
      ...['0', '1', '2'].flatMap((n) => [`optim.${n}.step`, `optim.${n}.exp_avg`, `optim.${n}.exp_avg_sq`, `optim.${n}.max_exp_avg_sq`]),
    ]);
    opt.lr = 0.5;
    expect(opt.lr).toBe(0.5);
    expect(opt.hyperparameters()).toEqual({
      name: 'adamw',
      lr: 0.5,
      beta1: 0.85,
      beta2: 0.995,
      eps: 1e-7,
      weight_decay: 0.3,
      amsgrad: true,
    });
    expect(new SGD(vars, { lr: 0.1, momentum: 0.9, nesterov: true }).hyperparameters()).toEqual({
      name: 'sgd',
      lr: 0.1,
      momentum: 0.9,
      dampening: 0,
      weight_decay: 0,
      nesterov: true,
    });
    expect(new AdamW(vars).weightDecay).toBe(0.01); // PyTorch's defaults
    expect(new Adam(vars).hyperparameters()).toEqual({
      name: 'adam',
      lr: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weight_decay: 0,
      amsgrad: false,
    });
  });

  it('a non-finite update finishes the step for every parameter, then throws naming the parameter', () => {
    const params = makeParams('float32');
    const opt = new Adam(params, { lr: 0.1 });
    setGrads(params, 0, noSkip);
    params[1]![1].grad!.data[2] = NaN;
    const other = Array.from(params[2]![1].value.data);
    expect(() => opt.step()).toThrow(/Adam\.step: update 1 wrote non-finite values into parameter\(s\) layer\.1\.w/);
    expect(opt.stepCount).toBe(1);
    expect(Array.from(params[2]![1].value.data)).not.toEqual(other);
  });

  it('a gradient of the wrong size is an error naming the parameter and both shapes', () => {
    const params = makeParams('float32');
    const opt = new SGD(params, { lr: 0.1 });
    setGrads(params, 0, noSkip);
    params[0]![1].grad = new Tensor(new Float32Array(5), [5]);
    expect(() => opt.step()).toThrow(/SGD\.step: parameter 'layer\.0\.w' has shape \[3,4\] but its gradient has \[5\]/);
  });
});

describe('hyperparameter validation', () => {
  const vars = () => makeParams('float32').map(([, v]) => v);
  const bad: [string, () => unknown, RegExp][] = [
    ['negative lr', () => new Adam(vars(), { lr: -0.1 }), /Adam: invalid lr -0\.1/],
    ['NaN lr', () => new AdamW(vars(), { lr: NaN }), /AdamW: invalid lr NaN/],
    ['infinite lr', () => new SGD(vars(), { lr: Infinity }), /SGD: invalid lr Infinity/],
    ['missing SGD lr', () => new SGD(vars(), {} as { lr: number }), /SGD: lr must be a number, got undefined/],
    ['beta1 = 1', () => new Adam(vars(), { betas: [1, 0.999] }), /Adam: invalid beta1 1 \(must be in \[0, 1\)\)/],
    ['negative beta2', () => new Adam(vars(), { betas: [0.9, -0.5] }), /Adam: invalid beta2 -0\.5/],
    ['eps 0', () => new Adam(vars(), { eps: 0 }), /Adam: invalid eps 0 \(must be a finite number > 0\)/],
    ['negative weight decay', () => new AdamW(vars(), { weightDecay: -1e-4 }), /AdamW: invalid weightDecay -0\.0001/],
    ['string amsgrad', () => new Adam(vars(), { amsgrad: 'yes' as unknown as boolean }), /Adam: amsgrad must be a boolean, got "yes"/],
    ['negative momentum', () => new SGD(vars(), { lr: 0.1, momentum: -0.9 }), /SGD: invalid momentum -0\.9/],
    ['dampening 2', () => new SGD(vars(), { lr: 0.1, momentum: 0.9, dampening: 2 }), /SGD: invalid dampening 2/],
    [
      'nesterov without momentum',
      () => new SGD(vars(), { lr: 0.1, nesterov: true }),
      /SGD: nesterov requires momentum > 0 and dampening = 0 \(got momentum 0, dampening 0\)/,
    ],
    [
      'nesterov with dampening',
      () => new SGD(vars(), { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }),
      /SGD: nesterov requires .*dampening 0\.1/,
    ],
    [
      'lr setter',
      () => {
        new Adam(vars()).lr = -1;
      },
      /Adam: invalid lr -1/,
    ],
    ['empty parameter list', () => new Adam([]), /Adam: got an empty parameter list/],
    [
      'duplicate names',
      () =>
        new Adam([
          ['w', vars()[0]!],
          ['w', vars()[1]!],
        ]),
      /Adam: duplicate parameter name 'w'/,
    ],
    [
      'same Var twice',
      () => {
        const v = vars()[0]!;
        return new SGD([v, v], { lr: 1 });
      },
      /SGD: parameter '1' appears more than once/,
    ],
    [
      'mixed Vars and pairs',
      () => new Adam([vars()[0]!, ['w', vars()[1]!]] as unknown as Var[]),
      /Adam: parameters must be all Vars or all \[name, Var\] pairs \(entry 1 differs\)/,
    ],
    [
      'unknown optimiser name',
      () => makeOptimizer(vars(), { name: 'rmsprop' } as never),
      /makeOptimizer: unknown optimiser name "rmsprop"/,
    ],
    [
      'unknown config key',
      () => makeOptimizer(vars(), { name: 'adam', lr: 0.1, weightdecay: 0.1 } as never),
      /makeOptimizer\(adam\): unknown option 'weightdecay'/,
    ],
    ['bad config value', () => makeOptimizer(vars(), { name: 'adamw', beta2: 1.5 }), /AdamW: invalid beta2 1\.5/],
  ];
  for (const [what, fn, message] of bad) it(`rejects ${what}`, () => expect(fn).toThrow(message));
});

describe('makeOptimizer', () => {
  it('reads the fixtures’ optimiser config and round-trips hyperparameters() to an identically behaving optimiser', () => {
    const fixtureConfig = { name: 'adamw', lr: 0.005, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.1 } as const;
    const a = makeParams('float32');
    const b = makeParams('float32');
    const optA = makeOptimizer(a, fixtureConfig);
    expect(optA).toBeInstanceOf(AdamW);
    const optB = makeOptimizer(b, JSON.parse(JSON.stringify(optA.hyperparameters())));
    train(optA, a, 0, 5);
    train(optB, b, 0, 5);
    a.forEach(([, v], k) => expect(Array.from(v.value.data)).toEqual(Array.from(b[k]![1].value.data)));
    const sgd = makeOptimizer(a, { name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true });
    expect(sgd).toBeInstanceOf(SGD);
    expect(sgd.hyperparameters()).toEqual({ name: 'sgd', lr: 0.1, momentum: 0.9, dampening: 0, weight_decay: 0, nesterov: true });
  });
});
