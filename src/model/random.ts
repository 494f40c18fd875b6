/**
 * Seeded randomness for the model: weight init, eps of the reparameterisation,
 * dropout masks and batch order. Everything is drawn in plain JS from a
 * (seed, stream, ...) tuple and uploaded as a tensor, so the numbers are the
 * same on every backend, and the "RNG state" of a training run is just its
 * seed and counters (epoch, step): a checkpoint needs nothing more to replay
 * the exact same draws.
 */

/** murmur3's 32-bit finaliser. */
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

/** Stream ids, so that eps, dropout, init and shuffling never share draws. */
export const STREAM = { init: 1, shuffle: 2, eps: 3, dropout: 4 } as const;

/** sfc32 seeded through splitmix32: small, fast, good statistical quality. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;
  private spare = 0;
  private hasSpare = false;

  constructor(seed: number) {
    let s = seed | 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      return fmix32(s);
    };
    this.a = next();
    this.b = next();
    this.c = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

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

  /** Standard normal (Box-Muller; the second value is cached). */
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
}

/** n standard normal draws. */
export function normals(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}

/** Glorot-uniform draws U(-l, l), l = sqrt(6 / (fanIn + fanOut)). */
export function glorotUniform(fanIn: number, fanOut: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const out = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < out.length; i++) out[i] = (2 * rng.float() - 1) * limit;
  return out;
}

/** Inverted-dropout mask: 0 with probability `rate`, else 1 / (1 - rate). */
export function dropoutMask(n: number, rate: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const keep = 1 / (1 - rate);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.float() < rate ? 0 : keep;
  return out;
}

/** A permutation of 0..n-1 (Fisher-Yates). */
export function shuffled(n: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.float() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
