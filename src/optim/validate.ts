/**
 * Hyperparameter checks shared by the optimisers, the schedules and the config reader.
 * Each returns the value it accepted, and throws a RangeError (TypeError for a non-number)
 * naming the owner (`Adam`, `SGD`, `cosine`, …), the hyperparameter and the offending value,
 * so a typo in a config file is reported where it is, not as a NaN a thousand steps later.
 */

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function requireNumber(owner: string, name: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`${owner}: ${name} must be a number, got ${describeValue(value)}`);
  return value;
}

/** A finite number ≥ 0 (learning rate, weight decay, momentum). */
export function nonNegative(owner: string, name: string, value: unknown): number {
  const v = requireNumber(owner, name, value);
  if (!Number.isFinite(v) || v < 0)
    throw new RangeError(`${owner}: invalid ${name} ${describeValue(value)} (must be a finite number >= 0)`);
  return v;
}

/** A finite number > 0 (epsilon). */
export function positive(owner: string, name: string, value: unknown): number {
  const v = requireNumber(owner, name, value);
  if (!Number.isFinite(v) || v <= 0)
    throw new RangeError(`${owner}: invalid ${name} ${describeValue(value)} (must be a finite number > 0)`);
  return v;
}

/** A number in [0, 1) (Adam's betas: β = 1 would divide by 1 − βᵗ = 0). */
export function unitHalfOpen(owner: string, name: string, value: unknown): number {
  const v = requireNumber(owner, name, value);
  if (!(v >= 0 && v < 1)) throw new RangeError(`${owner}: invalid ${name} ${describeValue(value)} (must be in [0, 1))`);
  return v;
}

/** A number in [0, 1] (SGD's dampening). */
export function unitClosed(owner: string, name: string, value: unknown): number {
  const v = requireNumber(owner, name, value);
  if (!(v >= 0 && v <= 1)) throw new RangeError(`${owner}: invalid ${name} ${describeValue(value)} (must be in [0, 1])`);
  return v;
}

/** An integer ≥ `min` (schedule lengths, step indices). */
export function integerAtLeast(owner: string, name: string, value: unknown, min: number): number {
  const v = requireNumber(owner, name, value);
  if (!Number.isSafeInteger(v) || v < min)
    throw new RangeError(`${owner}: invalid ${name} ${describeValue(value)} (must be an integer >= ${min})`);
  return v;
}

export function boolean(owner: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${owner}: ${name} must be a boolean, got ${describeValue(value)}`);
  return value;
}

/** Reject keys of a JSON-ish options object that the owner does not know (catches `weightdecay` typos). */
export function knownKeys(owner: string, obj: object, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new RangeError(`${owner}: unknown option '${key}' (expected one of ${allowed.join(', ')})`);
  }
}

export { describeValue };
