/*
 * Naive float64 re-implementations of PyTorch's optimiser algorithms, written directly from the
 * algorithm boxes of the torch.optim.SGD / Adam / AdamW documentation (one loop per element, plain
 * arrays, none of the library's code), as the reference the optimisers are tested against.
 */

export interface RefSgd {
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

export interface RefAdam {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  decoupled: boolean;
}

/** Parameters after each step t = 1..T (lrs[t-1] the learning rate of step t). */
export function referenceSgd(p0: readonly number[], grads: readonly (readonly number[])[], lrs: readonly number[], hp: RefSgd): number[][] {
  const p = p0.slice();
  const b = p0.map(() => 0);
  const out: number[][] = [];
  for (let t = 1; t <= grads.length; t++) {
    const lr = lrs[t - 1]!;
    for (let i = 0; i < p.length; i++) {
      let g = grads[t - 1]![i]!;
      if (hp.weightDecay !== 0) g = g + hp.weightDecay * p[i]!;
      if (hp.momentum !== 0) {
        if (t > 1) b[i] = hp.momentum * b[i]! + (1 - hp.dampening) * g;
        else b[i] = g;
        if (hp.nesterov) g = g + hp.momentum * b[i]!;
        else g = b[i]!;
      }
      p[i] = p[i]! - lr * g;
    }
    out.push(p.slice());
  }
  return out;
}

/**
 * Adam / AdamW (decoupled) with optional AMSGrad. For AMSGrad this follows what torch's code
 * computes (running max of the raw v, bias-corrected with the current t); the documentation box
 * writes the max over v̂ instead, which PyTorch does not implement.
 */
export function referenceAdam(
  p0: readonly number[],
  grads: readonly (readonly number[])[],
  lrs: readonly number[],
  hp: RefAdam,
): number[][] {
  const p = p0.slice();
  const m = p0.map(() => 0);
  const v = p0.map(() => 0);
  const vMax = p0.map(() => 0);
  const out: number[][] = [];
  for (let t = 1; t <= grads.length; t++) {
    const lr = lrs[t - 1]!;
    for (let i = 0; i < p.length; i++) {
      let g = grads[t - 1]![i]!;
      if (hp.decoupled) p[i] = p[i]! - lr * hp.weightDecay * p[i]!;
      else if (hp.weightDecay !== 0) g = g + hp.weightDecay * p[i]!;
      m[i] = hp.beta1 * m[i]! + (1 - hp.beta1) * g;
      v[i] = hp.beta2 * v[i]! + (1 - hp.beta2) * g * g;
      const mHat = m[i]! / (1 - hp.beta1 ** t);
      let vHat = v[i]! / (1 - hp.beta2 ** t);
      if (hp.amsgrad) {
        vMax[i] = Math.max(vMax[i]!, v[i]!);
        vHat = vMax[i]! / (1 - hp.beta2 ** t);
      }
      p[i] = p[i]! - (lr * mHat) / (Math.sqrt(vHat) + hp.eps);
    }
    out.push(p.slice());
  }
  return out;
}

/** max |a − b| / (1 + |b|) over elements. */
export function maxScaledError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxScaledError: lengths ${a.length} and ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!));
    if (!(e <= worst)) worst = e; // NaN wins
  }
  return worst;
}
