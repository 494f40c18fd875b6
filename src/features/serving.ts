/**
 * One user's features at serving time, from the same functions as the
 * training rows (features.ts): for the same user and time they are equal to
 * the dataset's row.
 */
import type { ModelSpec } from "../spec/schema";
import { specDimensions } from "../spec/dimensions";
import { bagOfHistory } from "./bag";
import { addPlay, fastFeatures, newCounts, slowRaw, transformSlow, type FeatureStats } from "./features";
import { RAW_INDEX, hoursBetween, markLikedTracks, type Catalogue, type ServingHistory, type UserHistory } from "./history";

export interface ServingFeatures {
  /** [w, d_s] (empty when the fast branch is disabled). */
  fast: Float32Array;
  /** [w]. */
  mask: Float32Array;
  /** [d_n] (empty when the slow branch is disabled). */
  slow: Float32Array;
  /** x_b [D], the bag of plays up to asOf (bag.ts), when asked for (options.bag); else empty. */
  bag: Float32Array;
  /** Time of the last play used (ms). */
  time: number;
  /** Number of plays at or before asOf. */
  plays: number;
}

/**
 * Features of one user as of `asOf` (default: after the last play): the last
 * play at or before asOf is play i. Accepts either a full history (counts are
 * accumulated here, and plays after asOf dropped) or a `ServingHistory` from
 * the store (last plays + counts from SQL, already read as of asOf; it must
 * hold playsToRead(spec) plays when the user has them). asOf is also the
 * prediction time t of hours_since_last (the gap from play i to t); without
 * it t is play i's own time, so that gap is 0. A training row (play i,
 * predicting play i+1) is therefore the features of plays 0..i as of play
 * i+1's time. Returns null when the user has no play at or before asOf.
 *
 * With options.bag (a model that reads x_b), also the bag of plays 0..i: from
 * a full history by the dataset's own arithmetic (bagOfHistory: the training
 * row's numbers to the bit); a ServingHistory must carry it (latestHistories
 * reads it with { bag: true }).
 */
export function featuresForServing(
  input: UserHistory | ServingHistory,
  catalogue: Catalogue,
  spec: ModelSpec,
  stats: FeatureStats,
  asOf?: Date | number,
  options: { bag?: boolean } = {},
): ServingFeatures | null {
  const limit = asOf === undefined ? Infinity : typeof asOf === "number" ? asOf : asOf.getTime();
  let h: UserHistory;
  let counts: Float64Array;
  let bag: Float32Array = new Float32Array(0);
  if ("counts" in input) {
    h = input.history;
    counts = input.counts;
    if (options.bag) {
      if (!input.bag) throw new Error("this model reads the bag of plays (x_b): read the serving history with { bag: true }");
      bag = input.bag;
    }
  } else {
    let len = input.playedAt.length;
    while (len > 0 && input.playedAt[len - 1] > limit) len--;
    h = {
      ...input,
      trackIndex: input.trackIndex.subarray(0, len),
      playedAt: input.playedAt.subarray(0, len),
      flags: input.flags.slice(0, len),
    };
    markLikedTracks(h);
    counts = newCounts();
    for (let i = 0; i < len; i++) addPlay(counts, h, i);
    if (options.bag) bag = bagOfHistory(h.trackIndex, catalogue);
  }
  const end = h.playedAt.length - 1;
  if (end < 0) return null;
  const dims = specDimensions(spec, catalogue.dim);
  const w = spec.features.fast.enabled ? spec.features.fast.window : 0;
  const fast = new Float32Array(w * dims.fastStep);
  const mask = new Float32Array(w);
  const slow = new Float32Array(dims.slow);
  if (w) fastFeatures(fast, 0, mask, 0, h, end, spec, catalogue);
  if (dims.slow) {
    slowRaw(slow, 0, counts, spec, limit === Infinity ? 0 : hoursBetween(h.playedAt[end], limit));
    transformSlow(slow, 0, spec, stats);
  }
  return { fast, mask, slow, bag, time: h.playedAt[end], plays: counts[RAW_INDEX.plays] };
}

/** Rows of features (one Float32Array per user) as one batch array. */
export function concatRows(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
