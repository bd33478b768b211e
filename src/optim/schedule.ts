import { describeValue, integerAtLeast, knownKeys, nonNegative } from './validate.js';

/**
 * A learning-rate schedule: a pure function from the update index s (0 for the first update,
 * i.e. the optimiser's stepCount before the step) to the learning rate for that update.
 * Schedules validate their argument: s must be an integer ≥ 0.
 */
export type Schedule = (step: number) => number;

function checkStep(owner: string, step: number): void {
  if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`${owner}: step must be an integer >= 0, got ${describeValue(step)}`);
}

function checkFloor(owner: string, lr: number, floor: number): void {
  nonNegative(owner, 'floor', floor);
  if (floor > lr) throw new RangeError(`${owner}: floor ${floor} is above lr ${lr}`);
}

/** lr(s) = lr. */
export function constant(lr: number): Schedule {
  nonNegative('constant', 'lr', lr);
  return (s) => {
    checkStep('constant', s);
    return lr;
  };
}

/** Linear decay from lr at s = 0 to floor at s = steps, then floor: lr(s) = lr + (floor − lr)·min(s, steps)/steps. */
export function linearDecay(lr: number, steps: number, floor = 0): Schedule {
  nonNegative('linearDecay', 'lr', lr);
  integerAtLeast('linearDecay', 'steps', steps, 1);
  checkFloor('linearDecay', lr, floor);
  return (s) => {
    checkStep('linearDecay', s);
    if (s >= steps) return floor;
    return lr + (floor - lr) * (s / steps);
  };
}

/** Cosine annealing from lr at s = 0 to floor at s = steps, then floor: lr(s) = floor + (lr − floor)·(1 + cos(π·min(s, steps)/steps))/2. */
export function cosine(lr: number, steps: number, floor = 0): Schedule {
  nonNegative('cosine', 'lr', lr);
  integerAtLeast('cosine', 'steps', steps, 1);
  checkFloor('cosine', lr, floor);
  return (s) => {
    checkStep('cosine', s);
    if (s >= steps) return floor;
    return floor + (lr - floor) * 0.5 * (1 + Math.cos((Math.PI * s) / steps));
  };
}

/**
 * Linear warm-up over `steps` updates, then `inner` shifted to start where warm-up ends:
 *   lr(s) = inner(0)·(s + 1)/steps  for s < steps   (the first update already moves; s = steps−1 reaches inner(0))
 *   lr(s) = inner(s − steps)         otherwise
 */
export function warmup(steps: number, inner: Schedule): Schedule {
  integerAtLeast('warmup', 'steps', steps, 1);
  if (typeof inner !== 'function') throw new TypeError('warmup: inner must be a schedule function');
  const peak = inner(0);
  return (s) => {
    checkStep('warmup', s);
    return s < steps ? (peak * (s + 1)) / steps : inner(s - steps);
  };
}

/** A schedule as JSON (for configs and checkpoint metadata). `floor` defaults to 0. */
export type ScheduleSpec =
  | { kind: 'constant'; lr: number }
  | { kind: 'linear'; lr: number; steps: number; floor?: number }
  | { kind: 'cosine'; lr: number; steps: number; floor?: number }
  | { kind: 'warmup'; steps: number; then: ScheduleSpec };

/** Build a schedule from its spec, validating kind, keys and values (errors name the field). */
export function makeSchedule(spec: ScheduleSpec): Schedule {
  if (spec === null || typeof spec !== 'object') throw new TypeError(`makeSchedule: spec must be an object, got ${describeValue(spec)}`);
  const owner = `makeSchedule(${describeValue((spec as { kind?: unknown }).kind)})`;
  switch (spec.kind) {
    case 'constant':
      knownKeys(owner, spec, ['kind', 'lr']);
      return constant(spec.lr);
    case 'linear':
      knownKeys(owner, spec, ['kind', 'lr', 'steps', 'floor']);
      return linearDecay(spec.lr, spec.steps, spec.floor ?? 0);
    case 'cosine':
      knownKeys(owner, spec, ['kind', 'lr', 'steps', 'floor']);
      return cosine(spec.lr, spec.steps, spec.floor ?? 0);
    case 'warmup':
      knownKeys(owner, spec, ['kind', 'steps', 'then']);
      return warmup(spec.steps, makeSchedule(spec.then));
    default:
      throw new RangeError(
        `makeSchedule: unknown kind ${describeValue((spec as { kind?: unknown }).kind)} (expected constant, linear, cosine or warmup)`,
      );
  }
}
