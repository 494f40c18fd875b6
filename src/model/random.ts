/**
 * Seeded randomness for the model: weight init, eps of the reparameterisation,
 * dropout masks and batch order. Everything is drawn in plain JS from a
 * (seed, stream, ...) tuple and uploaded as a tensor, so the numbers are the
 * same on every backend, and the "RNG state" of a training run is just its
 * seed and counters (epoch, step): a checkpoint needs nothing more to replay
 * the exact same draws.
 */

import { Mulberry32, Rng, streamSeed } from "../random";

export { Mulberry32, streamSeed };

/** What a draw needs of a generator: uniforms in [0, 1). */
export interface UniformSource {
  float(): number;
}

/** Stream ids, so that eps, dropout, init and shuffling never share draws. */
export const STREAM = { init: 1, shuffle: 2, eps: 3, dropout: 4 } as const;

/** n standard normal draws. */
export function normals(n: number, seed: number): Float32Array {
  const rng = Rng.fromState(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}

/**
 * Glorot-uniform draws U(-l, l), l = sqrt(6 / (fanIn + fanOut)): from a new
 * generator started at `seed`, or continuing the stream of the one given.
 */
export function glorotUniform(fanIn: number, fanOut: number, seed: number | UniformSource): Float32Array {
  const rng = typeof seed === "number" ? Rng.fromState(seed) : seed;
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const out = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < out.length; i++) out[i] = (2 * rng.float() - 1) * limit;
  return out;
}

/** Inverted-dropout mask: 0 with probability `rate`, else 1 / (1 - rate). */
export function dropoutMask(n: number, rate: number, seed: number): Float32Array {
  const rng = Rng.fromState(seed);
  const keep = 1 / (1 - rate);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.float() < rate ? 0 : keep;
  return out;
}

/** A permutation of 0..n-1 (Fisher-Yates). */
export function shuffled(n: number, seed: number): Int32Array {
  const rng = Rng.fromState(seed);
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.float() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
