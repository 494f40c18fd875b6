/**
 * The seeded pseudo-random numbers of Rubato. `Rng` is the generator: the demo
 * world, the model's initialisation, eps, dropout and batch order, IVF's
 * k-means and the randomised SVD all draw from it. The one exception is
 * `Mulberry32` below, kept for the recurrent encoders' initial kernels.
 *
 * sfc32 (Chris Doty-Humphrey's "small fast chaotic" generator, 128-bit state)
 * seeded through splitmix32, plus Box-Muller normals. Never uses Math.random,
 * so a (seed, stream...) tuple always yields the same sequence on every platform.
 */

/** murmur3 fmix32 finaliser: a good 32-bit integer hash. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** One 32-bit seed from a seed and any number of integer stream ids. */
export function streamSeed(seed: number, ...streams: number[]): number {
  let h = fmix32((seed | 0) ^ 0x9e3779b9);
  for (const s of streams) {
    h = fmix32(h ^ fmix32((s | 0) + 0x7f4a7c15));
    // High bits of large counters (steps beyond 2^32 are unrealistic, but cheap to honour).
    if (s > 0xffffffff) h = fmix32(h ^ Math.floor(s / 0x100000000));
  }
  return h;
}

export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 1;
  private spare = 0;
  private hasSpare = false;

  /** `streams` select independent sub-sequences for the same seed. */
  constructor(seed: number, ...streams: number[]) {
    this.start(streamSeed(seed, ...streams));
  }

  /** A generator started from a 32-bit state seed that is already mixed (a streamSeed). */
  static fromState(state: number): Rng {
    const rng = Object.create(Rng.prototype) as Rng;
    rng.start(state);
    return rng;
  }

  /** splitmix32 expands the 32-bit seed into the 128-bit state. */
  private start(state: number): void {
    let s = state | 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      return fmix32(s);
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = 1;
    this.spare = 0;
    this.hasSpare = false;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const t0 = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    const t = (t0 + this.d) | 0;
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  bernoulli(p: number): boolean {
    return this.float() < p;
  }

  /** Standard normal (Box-Muller, polar-free form; caches the second value). */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    let u = this.float();
    while (u <= 1e-12) u = this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    this.hasSpare = true;
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Poisson sample (Knuth for small means, normal approximation above 30). */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const l = Math.exp(-mean);
    let k = 0;
    let p = this.float();
    while (p > l) {
      k++;
      p *= this.float();
    }
    return k;
  }

  /** Geometric number of failures before a success with probability p (>= 0). */
  geometric(p: number): number {
    if (p >= 1) return 0;
    let u = this.float();
    while (u <= 1e-12) u = this.float();
    return Math.floor(Math.log(u) / Math.log(1 - p));
  }

  /** Index drawn proportionally to non-negative `weights`. */
  weighted(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i];
    let r = this.float() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  /** Index drawn from a cumulative (non-decreasing, last = total) array by binary search. */
  fromCumulative(cum: ArrayLike<number>): number {
    const r = this.float() * cum[cum.length - 1];
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid] > r) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = xs[i];
      xs[i] = xs[j];
      xs[j] = t;
    }
    return xs;
  }
}

/**
 * mulberry32 (Tommy Ettinger's generator, 32-bit state): uniforms for the
 * initial kernels of the LSTM and RNN encoders (src/model/lstm.ts) and for
 * nothing else. Those kernels were drawn from it before sfc32 became the
 * project's generator; drawing them from `Rng` would change the starting
 * weights of every model with a recurrent encoder, and with them every
 * published figure of those models. New code draws from `Rng`.
 *
 * The state is the seed as given (already mixed, e.g. a streamSeed); it is not
 * expanded as `Rng` does, so the stream is the one the kernels always had.
 */
export class Mulberry32 {
  private state: number;

  constructor(state: number) {
    this.state = state >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
