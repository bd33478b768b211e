import type { Storage } from './dtype.js';

/**
 * Seeded random numbers, identical in every JavaScript runtime: xoshiro128** over four uint32 words,
 * seeded by splitmix32. Only 32-bit integer arithmetic (Math.imul, shifts) is used, so there is no
 * dependence on an engine's Math.random or floating-point rounding until the final scaling.
 * The state is four numbers: save it with `getState()` to resume a run bit for bit.
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  constructor(seed = 0) {
    this.seed(seed);
  }

  seed(seed: number): void {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng: seed must be a finite number, got ${seed}`);
    // Seeds are integers of up to 53 bits: the low word seeds splitmix32 directly (so every 32-bit
    // seed keeps its stream) and a non-zero high word is mixed in first, so that e.g. -1 and 0, or
    // 2^32 and 1, give different streams.
    const whole = Math.trunc(seed);
    const lo = whole >>> 0;
    const hi = Math.floor(whole / 4294967296) >>> 0;
    let x = hi === 0 ? lo : (lo ^ fmix32((hi + 0x9e3779b9) | 0)) >>> 0;
    const next = (): number => {
      // splitmix32
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  getState(): [number, number, number, number] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  setState(state: readonly number[]): void {
    if (state.length !== 4 || state.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff)) {
      throw new RangeError(`Rng.setState: expected four uint32 words, got [${state.join(',')}]`);
    }
    if (state.every((w) => w === 0)) throw new RangeError('Rng.setState: the all-zero state is invalid');
    [this.s0, this.s1, this.s2, this.s3] = state as [number, number, number, number];
  }

  /** A new generator whose stream is independent of this one's future draws. */
  fork(): Rng {
    const r = new Rng(0);
    r.setState([this.nextUint32(), this.nextUint32(), this.nextUint32(), (this.nextUint32() | 1) >>> 0]);
    return r;
  }

  /** Uniform uint32. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  uniform(low = 0, high = 1): number {
    return low + (high - low) * this.next();
  }

  /** Integer uniform in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) throw new RangeError(`Rng.int: n must be an integer in 1..2^32, got ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    let x: number;
    do x = this.nextUint32();
    while (x >= limit);
    return x % n;
  }

  /** Standard normal by Box–Muller (one value per call; the pair's twin is discarded so state stays four words). */
  normal(mean = 0, std = 1): number {
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  fillUniform(out: Storage, low = 0, high = 1): Storage {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform(low, high);
    return out;
  }

  fillNormal(out: Storage, mean = 0, std = 1): Storage {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** Index drawn from unnormalised non-negative weights `p[0..n)`. */
  categorical(p: ArrayLike<number>, n = p.length): number {
    let total = 0;
    for (let i = 0; i < n; i++) total += p[i]!;
    if (!(total > 0) || !Number.isFinite(total)) throw new RangeError('Rng.categorical: weights must have a positive finite sum');
    let r = this.next() * total;
    for (let i = 0; i < n; i++) {
      r -= p[i]!;
      if (r < 0) return i;
    }
    for (let i = n - 1; i >= 0; i--) if (p[i]! > 0) return i;
    return n - 1;
  }
}

/** MurmurHash3's 32-bit finaliser: a bijective mix of all input bits. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
