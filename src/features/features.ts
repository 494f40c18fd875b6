/**
 * The three things a prediction point is made of, for user u at play i (time t):
 *
 *   x_n  slow features: aggregates over plays 0..i, and the hours from play i to the
 *        prediction time t (the time of play i+1; asOf in serving) (slowRaw + transformSlow)
 *   x_s  fast features: the last w plays i-w+1..i, one step each (fastFeatures)
 *   y    target: the embedding of play i+1                   (writeTarget)
 *
 * Training (dataset.ts) and serving (serving.ts) call exactly these functions.
 */
import type { ModelSpec } from "../spec/schema";
import { DAYPARTS, perPlayWidth, type PerPlaySignal } from "../spec/vocabulary";
import { FLAG, RAW_COUNTS, RAW_INDEX, daypartOfMs, hoursBetween, type Catalogue, type UserHistory } from "./history";

// ---------------------------------------------------------------- x_n (slow)

/** Adds play i of h to running RAW_COUNTS (h must carry FLAG.likedTrack: see markLikedTracks). */
export function addPlay(counts: Float64Array, h: UserHistory, i: number): void {
  const f = h.flags[i];
  counts[RAW_INDEX.plays]++;
  if (f & FLAG.liked) counts[RAW_INDEX.likes]++;
  if (f & FLAG.addedToPlaylist) counts[RAW_INDEX.playlist_adds]++;
  if (f & FLAG.skipped) counts[RAW_INDEX.skips]++;
  if (f & FLAG.restarted) counts[RAW_INDEX.restarts]++;
  if (f & FLAG.likedTrack) counts[RAW_INDEX.liked_plays]++;
  counts[RAW_INDEX.daypart_night + daypartOfMs(h.playedAt[i])]++;
}

export const newCounts = (): Float64Array => new Float64Array(RAW_COUNTS.length);

/** How slow counts are scaled; standardize carries the training split's mean and std per aggregate. */
export interface FeatureStats {
  transform: "none" | "log1p" | "standardize";
  /** Per aggregate in spec order (standardize only; empty otherwise). */
  mean: number[];
  std: number[];
}

/**
 * Writes x_n before scaling: the spec's aggregates (raw counts; for
 * hours_since_last, `hoursSinceLast`: the hours from the user's last play to
 * the prediction time t), then, with daypart_shares, the share of plays in
 * each daypart. Width = specDimensions().slow.
 */
export function slowRaw(out: Float32Array, at: number, counts: Float64Array, spec: ModelSpec, hoursSinceLast = 0): void {
  const { aggregates, daypart_shares } = spec.features.slow;
  for (let k = 0; k < aggregates.length; k++) {
    const a = aggregates[k];
    out[at + k] = a === "hours_since_last" ? hoursSinceLast : counts[RAW_INDEX[a]];
  }
  if (!daypart_shares) return;
  const plays = counts[RAW_INDEX.plays] || 1;
  for (let d = 0; d < DAYPARTS.length; d++) out[at + aggregates.length + d] = counts[RAW_INDEX.daypart_night + d] / plays;
}

/** Scales the aggregates of one x_n in place (hours_since_last like the counts; the shares are left as they are). */
export function transformSlow(out: Float32Array, at: number, spec: ModelSpec, stats: FeatureStats): void {
  const n = spec.features.slow.aggregates.length;
  if (stats.transform === "log1p") for (let k = 0; k < n; k++) out[at + k] = Math.log1p(out[at + k]);
  else if (stats.transform === "standardize") for (let k = 0; k < n; k++) out[at + k] = (out[at + k] - stats.mean[k]) / stats.std[k];
}

/** Mean and std (population; 1 where 0) of the raw aggregates over the given rows of x_n. */
export function fitFeatureStats(spec: ModelSpec, slow: Float32Array, width: number, rows: ArrayLike<number>): FeatureStats {
  const transform = spec.features.slow.transform;
  if (transform !== "standardize" || !spec.features.slow.enabled) return { transform, mean: [], std: [] };
  const n = spec.features.slow.aggregates.length;
  const sum = new Float64Array(n);
  const sq = new Float64Array(n);
  for (let r = 0; r < rows.length; r++)
    for (let k = 0; k < n; k++) {
      const v = slow[rows[r] * width + k];
      sum[k] += v;
      sq[k] += v * v;
    }
  const m = Math.max(rows.length, 1);
  const mean = Array.from(sum, (s) => s / m);
  const std = Array.from(sq, (s, k) => Math.sqrt(Math.max(0, s / m - mean[k] * mean[k])) || 1);
  return { transform, mean, std };
}

// ---------------------------------------------------------------- x_s (fast)

/**
 * Writes x_s for the window ending at play `end` of h: w steps of width d_s,
 * left-padded with zeros when fewer than w plays exist, and mask[w] (1 = a
 * real play). time_since_last reads play i-1's time for play i, so the
 * history must hold the play before the window (playsToRead). With shuffle,
 * the real plays are permuted by a seeded hash of
 * (seed, user, time of play `end`); padding stays on the left.
 */
export function fastFeatures(
  out: Float32Array,
  at: number,
  mask: Float32Array,
  maskAt: number,
  h: UserHistory,
  end: number,
  spec: ModelSpec,
  catalogue: Catalogue,
): void {
  const { window: w, shuffle } = spec.features.fast;
  const { dim, embeddings, hasEmbedding } = catalogue;
  const { kinds, step } = stepLayout(spec.features.fast.per_play, dim);
  const real = Math.min(w, end + 1);
  const pad = w - real;
  out.fill(0, at, at + w * step);
  mask.fill(0, maskAt, maskAt + pad);
  mask.fill(1, maskAt + pad, maskAt + w);
  const order = shuffle ? permutation(real, hashSeed(spec.training.seed, h.userExternalId, h.playedAt[end])) : null;
  for (let s = 0; s < real; s++) {
    const i = end - real + 1 + (order ? order[s] : s);
    let o = at + (pad + s) * step;
    const f = h.flags[i];
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[k];
      if (kind === EMBEDDING) {
        const row = h.trackIndex[i];
        if (hasEmbedding[row]) for (let j = 0, e = row * dim; j < dim; j++) out[o + j] = embeddings[e + j];
        o += dim;
      } else if (kind === DAYPART) {
        out[o + daypartOfMs(h.playedAt[i])] = 1;
        o += DAYPARTS.length;
      } else if (kind === TIME_SINCE_LAST) {
        out[o++] = i > 0 ? Math.log1p(hoursBetween(h.playedAt[i - 1], h.playedAt[i])) : 0;
      } else out[o++] = f & kind ? 1 : 0; // a FLAG bit
    }
  }
}

const EMBEDDING = -1;
const DAYPART = -2;
const TIME_SINCE_LAST = -3;
const SIGNAL_KIND: Record<PerPlaySignal, number> = {
  track_embedding: EMBEDDING,
  daypart: DAYPART,
  skipped: FLAG.skipped,
  liked: FLAG.likedTrack,
  restarted: FLAG.restarted,
  added_to_playlist: FLAG.addedToPlaylist,
  time_since_last: TIME_SINCE_LAST,
};

const layouts = new WeakMap<readonly PerPlaySignal[], { kinds: Int32Array; step: number; dim: number }>();

/** Each signal of a step as a code (a FLAG bit, EMBEDDING, DAYPART or TIME_SINCE_LAST) and the step's width d_s. */
function stepLayout(perPlay: readonly PerPlaySignal[], dim: number): { kinds: Int32Array; step: number } {
  let layout = layouts.get(perPlay);
  if (!layout || layout.dim !== dim) {
    layout = {
      kinds: Int32Array.from(perPlay, (s) => SIGNAL_KIND[s]),
      step: perPlay.reduce((n, s) => n + perPlayWidth(s, dim), 0),
      dim,
    };
    layouts.set(perPlay, layout);
  }
  return layout;
}

/**
 * How many of a user's last plays the fast features read: the window, and
 * with time_since_last the play before it (whose time gives the first step's gap).
 */
export function playsToRead(spec: ModelSpec): number {
  const { window, enabled, per_play } = spec.features.fast;
  return window + (enabled && per_play.includes("time_since_last") ? 1 : 0);
}

// ---------------------------------------------------------------- target

/** Writes the embedding of play i+1 (the next track); false when it has none (the point is skipped). */
export function writeTarget(out: Float32Array, at: number, h: UserHistory, i: number, catalogue: Catalogue): boolean {
  const row = h.trackIndex[i + 1];
  if (!catalogue.hasEmbedding[row]) return false;
  const { dim, embeddings } = catalogue;
  for (let j = 0, e = row * dim; j < dim; j++) out[at + j] = embeddings[e + j];
  return true;
}

// ---------------------------------------------------------------- seeded hashing

/** A 32-bit hash of (seed, text, number): FNV-1a over the text, mixed with the others. */
export function hashSeed(seed: number, text: string, value = 0): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (value % 0x100000000), 0x01000193);
  h = Math.imul(h ^ Math.floor(value / 0x100000000), 0x01000193);
  return mix32(h);
}

/** murmur3's finaliser: a well-spread unsigned 32-bit value. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A permutation of 0..n-1 (Fisher-Yates driven by a hash chain from `seed`). */
export function permutation(n: number, seed: number): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  let x = seed;
  for (let i = n - 1; i > 0; i--) {
    x = mix32(x + 0x9e3779b9);
    const j = x % (i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}
