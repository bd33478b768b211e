/**
 * L1-regularised binary logistic regression (objective and stopping rule: logistic-objective.ts),
 * solved by coordinate descent (default; coordinate-descent.ts) or FISTA (fista.ts).
 */
import type { DesignMatrix } from './design.js';
import { fitL1LogisticCD } from './coordinate-descent.js';
import { fitL1LogisticFista } from './fista.js';
import type { L1LogisticFit, L1LogisticOptions } from './logistic-objective.js';

export { kktViolation, lambdaMax, sigmoid, softplus, type L1LogisticFit, type L1LogisticOptions } from './logistic-objective.js';
export { fitL1LogisticCD } from './coordinate-descent.js';
export { fitL1LogisticFista } from './fista.js';

export function fitL1Logistic(x: DesignMatrix, y: ArrayLike<number>, options: L1LogisticOptions): L1LogisticFit {
  const solver = options.solver ?? 'cd';
  if (solver === 'cd') return fitL1LogisticCD(x, y, options);
  if (solver === 'fista') return fitL1LogisticFista(x, y, options);
  throw new RangeError(`fitL1Logistic: solver must be 'cd' or 'fista', got ${JSON.stringify(solver)}`);
}
