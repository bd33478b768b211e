import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { constant, cosine, linearDecay, makeSchedule, warmup, type ScheduleSpec } from '../src/optim/schedule.js';

// Schedules at their boundary steps (values fixed by their definitions, not by the code), plus
// properties: monotone decay between lr and floor, warm-up linear in s, specs equal to the functions.

describe('schedules', () => {
  it('constant is lr at every step', () => {
    const s = constant(0.3);
    for (const t of [0, 1, 17, 1e9]) expect(s(t)).toBe(0.3);
  });

  it('linearDecay: lr at 0, the midpoint at steps/2, floor at steps and after', () => {
    const s = linearDecay(1, 10, 0.2);
    expect(s(0)).toBe(1);
    expect(s(5)).toBeCloseTo(0.6, 15);
    expect(s(9)).toBeCloseTo(0.28, 15);
    expect(s(10)).toBe(0.2);
    expect(s(11)).toBe(0.2);
    expect(linearDecay(0.5, 4)(4)).toBe(0); // floor defaults to 0
  });

  it('cosine: lr at 0, (lr + floor)/2 at steps/2, floor at steps and after', () => {
    const s = cosine(1, 10, 0.2);
    expect(s(0)).toBe(1);
    expect(s(5)).toBeCloseTo(0.6, 15);
    expect(s(10)).toBe(0.2);
    expect(s(1000)).toBe(0.2);
    expect(cosine(2, 4)(2)).toBeCloseTo(1, 15);
  });

  it('decays are monotone non-increasing and stay within [floor, lr]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1000 }), (steps, a, b) => {
        const lr = 0.01;
        const floor = (lr * a) / 1000;
        for (const s of [linearDecay(lr, steps, floor), cosine(lr, steps, floor)]) {
          const [t0, t1] = a <= b ? [a, b] : [b, a];
          expect(s(t1)).toBeLessThanOrEqual(s(t0));
          expect(s(t0)).toBeLessThanOrEqual(lr);
          expect(s(t1)).toBeGreaterThanOrEqual(floor);
        }
      }),
    );
  });

  it('warmup: (s + 1)/N of the inner start for s < N, then the inner schedule from its step 0', () => {
    const inner = linearDecay(1, 10, 0);
    const s = warmup(4, inner);
    expect([0, 1, 2, 3].map(s)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(s(4)).toBe(inner(0));
    expect(s(9)).toBe(inner(5));
    expect(s(14)).toBe(0);
    expect(warmup(1, constant(0.1))(0)).toBe(0.1);
  });

  it('makeSchedule builds the same functions from JSON specs (nested warm-up included)', () => {
    const spec: ScheduleSpec = { kind: 'warmup', steps: 3, then: { kind: 'cosine', lr: 0.01, steps: 20, floor: 0.001 } };
    const fromSpec = makeSchedule(JSON.parse(JSON.stringify(spec)) as ScheduleSpec);
    const direct = warmup(3, cosine(0.01, 20, 0.001));
    for (let t = 0; t < 30; t++) expect(fromSpec(t)).toBe(direct(t));
    expect(makeSchedule({ kind: 'constant', lr: 0.2 })(5)).toBe(0.2);
    expect(makeSchedule({ kind: 'linear', lr: 1, steps: 2 })(1)).toBe(0.5);
  });

  it('bad specs and arguments throw naming the schedule, the field and the value', () => {
    expect(() => constant(-1)).toThrow(/constant: invalid lr -1/);
    expect(() => linearDecay(0.1, 0)).toThrow(/linearDecay: invalid steps 0/);
    expect(() => linearDecay(0.1, 2.5)).toThrow(/linearDecay: invalid steps 2.5/);
    expect(() => cosine(0.1, 10, 0.2)).toThrow(/cosine: floor 0.2 is above lr 0.1/);
    expect(() => cosine(NaN, 10)).toThrow(/cosine: invalid lr NaN/);
    expect(() => warmup(0, constant(1))).toThrow(/warmup: invalid steps 0/);
    expect(() => constant(1)(-1)).toThrow(/constant: step must be an integer >= 0, got -1/);
    expect(() => cosine(1, 5)(1.5)).toThrow(/cosine: step must be an integer >= 0, got 1.5/);
    expect(() => makeSchedule({ kind: 'exponential' } as unknown as ScheduleSpec)).toThrow(/makeSchedule: unknown kind "exponential"/);
    expect(() => makeSchedule({ kind: 'linear', lr: 1, steps: 5, flor: 0 } as unknown as ScheduleSpec)).toThrow(
      /makeSchedule\("linear"\): unknown option 'flor'/,
    );
    expect(() => makeSchedule({ kind: 'constant', lr: '0.1' } as unknown as ScheduleSpec)).toThrow(
      /constant: lr must be a number, got "0.1"/,
    );
    expect(() => makeSchedule({ kind: 'warmup', steps: 2, then: { kind: 'cosine', lr: 1 } } as unknown as ScheduleSpec)).toThrow(
      /cosine: steps must be a number, got undefined/,
    );
  });
});
