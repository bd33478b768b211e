import type { Backend } from '../tensor/backend.js';
import type { Storage } from '../tensor/dtype.js';
import { Rng } from '../tensor/rng.js';
import { formatShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { Tape } from './tape.js';
import { accumulateGrad, type Var } from './var.js';

export interface GradcheckOptions {
  /** Central-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-6). */
  atol?: number;
  /** Relative tolerance, against |numeric| (default 1e-6). */
  rtol?: number;
  /** Seed of the random upstream gradient that projects the output to a scalar (default 0). */
  seed?: number;
  /** Throw a GradcheckError on failure (default true); otherwise just return the report. */
  raise?: boolean;
  /** Backend for the tapes gradcheck creates (default: the Tape's default). */
  backend?: Backend;
}

export interface GradcheckWorst {
  /** Position of the input in `inputs`. */
  input: number;
  /** Multi-index of the element inside that input. */
  index: number[];
  analytic: number;
  numeric: number;
}

export interface GradcheckReport {
  ok: boolean;
  /** max |analytic − numeric| over every checked element (NaN if any side was NaN). */
  maxError: number;
  /** Number of input elements checked. */
  checked: number;
  /**
   * The element that violates the tolerance the most, i.e. with the largest
   * |analytic − numeric| / (atol + rtol·|numeric|); null when nothing was checked.
   */
  worst: GradcheckWorst | null;
  message: string;
}

export class GradcheckError extends Error {
  readonly report: GradcheckReport;
  constructor(report: GradcheckReport) {
    super(report.message);
    this.name = 'GradcheckError';
    this.report = report;
  }
}

/**
 * Compare the gradients an op's backward computes with central differences.
 *
 * The inputs are copied to float64 leaves and `fn(tape, ...leaves)` is evaluated. Its output, of any
 * shape, is projected to the scalar L = Σ out ⊙ u with a fixed random upstream u (seeded), so every
 * output element contributes with a distinct weight. The analytic gradient is `tape.backward(out, u)`;
 * the numeric one is (L(x + eps·e_j) − L(x − eps·e_j)) / (2·eps) for every element j of every input.
 * An element fails when |analytic − numeric| > atol + rtol·|numeric| (NaN on either side fails).
 * The check also fails if forward or backward wrote into an input.
 *
 * `fn` must compute in float64 (it does when every tensor it touches is an input or float64):
 * a float32 output would make the differences meaningless, so it is an error.
 */
export function gradcheck(
  fn: (tape: Tape, ...inputs: Var[]) => Var,
  inputs: readonly Tensor[],
  options: GradcheckOptions = {},
): GradcheckReport {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-6;
  const rtol = options.rtol ?? 1e-6;
  const raise = options.raise ?? true;
  const tapeOptions = options.backend ? { backend: options.backend } : {};
  if (!(eps > 0) || !(atol >= 0) || !(rtol >= 0)) {
    throw new RangeError(`gradcheck: eps must be > 0 and atol, rtol >= 0 (got eps=${eps}, atol=${atol}, rtol=${rtol})`);
  }

  const xs = inputs.map((t) => t.astype('float64')); // astype copies: the caller's tensors are never touched
  const pristine = xs.map((t) => t.data.slice());

  // ---- analytic
  const tape = new Tape(tapeOptions);
  const leaves = xs.map((t, i) => tape.leaf(t, `input${i}`));
  const out = fn(tape, ...leaves);
  if (out.value.dtype !== 'float64') {
    throw new TypeError(
      `gradcheck: fn returned a ${out.value.dtype} output of shape ${formatShape(out.shape)}; it must compute in float64`,
    );
  }
  const upstream = new Tensor(new Rng(options.seed ?? 0).fillNormal(new Float64Array(out.size)), out.shape);
  if (out.tape) tape.backward(out, upstream);
  else if (leaves.includes(out)) accumulateGrad(out, upstream, 'gradcheck'); // fn returned an input unchanged
  const analytic = leaves.map((v) => (v.grad ? v.grad.data : new Float64Array(v.size)));

  const mutated = findMutation(xs, pristine);
  if (mutated) {
    const report: GradcheckReport = {
      ok: false,
      maxError: NaN,
      checked: 0,
      worst: null,
      message: `gradcheck: fn modified input ${mutated.input} at [${mutated.index.join(',')}] (shape ${formatShape(xs[mutated.input]!.shape)}); ops must not write into their inputs`,
    };
    if (raise) throw new GradcheckError(report);
    return report;
  }

  // ---- numeric, reusing the same float64 buffers (each element is restored right after its probe)
  const projected = (): number => {
    const t = new Tape(tapeOptions);
    const y = t.noGrad(() => fn(t, ...xs.map((x, i) => t.leaf(x, `input${i}`))));
    const yd = y.value.data;
    const ud = upstream.data;
    if (yd.length !== ud.length) {
      throw new Error(`gradcheck: fn output changed shape from ${formatShape(out.shape)} to ${formatShape(y.shape)} between evaluations`);
    }
    let s = 0;
    for (let k = 0; k < yd.length; k++) s += yd[k]! * ud[k]!;
    return s;
  };

  let maxError = 0;
  let worstRatio = -1;
  let worst: GradcheckWorst | null = null;
  let failures = 0;
  let checked = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!.data;
    const a = analytic[i]!;
    for (let j = 0; j < x.length; j++) {
      const orig = x[j]!;
      x[j] = orig + eps;
      const plus = projected();
      x[j] = orig - eps;
      const minus = projected();
      x[j] = orig;
      const numeric = (plus - minus) / (2 * eps);
      const diff = Math.abs(a[j]! - numeric);
      const tol = atol + rtol * Math.abs(numeric);
      const ratio = Number.isNaN(diff) ? Infinity : tol > 0 ? diff / tol : diff > 0 ? Infinity : 0;
      checked++;
      if (Number.isNaN(diff)) maxError = NaN;
      else if (diff > maxError) maxError = diff; // stays NaN once NaN
      if (!(diff <= tol)) failures++;
      if (ratio > worstRatio) {
        worstRatio = ratio;
        worst = { input: i, index: unravel(j, xs[i]!.shape), analytic: a[j]!, numeric };
      }
    }
  }

  const ok = failures === 0;
  const where = worst
    ? `input ${worst.input} at [${worst.index.join(',')}]: analytic ${worst.analytic} vs numeric ${worst.numeric} (|diff| ${Math.abs(worst.analytic - worst.numeric)})`
    : 'no elements';
  const message = ok
    ? `gradcheck: ok, ${checked} elements, max |analytic − numeric| = ${maxError}`
    : `gradcheck: ${failures} of ${checked} elements exceed atol ${atol} + rtol ${rtol}·|numeric|; worst ${where}`;
  const report: GradcheckReport = { ok, maxError, checked, worst, message };
  if (!ok && raise) throw new GradcheckError(report);
  return report;
}

function findMutation(xs: readonly Tensor[], pristine: readonly Storage[]): { input: number; index: number[] } | null {
  for (let i = 0; i < xs.length; i++) {
    const now = xs[i]!.data;
    const was = pristine[i]!;
    for (let j = 0; j < now.length; j++) {
      // Object.is so that a NaN left as NaN is not a change, but -0 → +0 is.
      if (!Object.is(now[j], was[j])) return { input: i, index: unravel(j, xs[i]!.shape) };
    }
  }
  return null;
}

function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d]!;
    index[d] = flat % n;
    flat = Math.floor(flat / n);
  }
  return index;
}
