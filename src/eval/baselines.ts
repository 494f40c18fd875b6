/**
 * Non-learned baselines (spec `type: average | recent | popularity`),
 * predicting the next track's embedding for dataset rows:
 *
 *   average     mean embedding of the user's plays 0..i (every play up to and
 *               including t that has an embedding; zeros if none has).
 *   recent      mean embedding of the user's last `window` plays i-w+1..i (w =
 *               features.fast.window): the same plays the fast features see.
 *               The w plays are counted BEFORE skipping the ones without an
 *               embedding, so a window with a play lacking one averages fewer
 *               than w embeddings (zeros if none has): the fast features
 *               without learning.
 *   popularity  one vector for everyone: the play-count-weighted mean embedding
 *               of the `top` (default 100) tracks most often played as the next
 *               track of a TRAINING row (ties: lower catalogue row first). Only
 *               the training split is counted, so nothing leaks from test.
 */
import type { Catalogue } from "../features/history";
import type { Dataset } from "../features/dataset";

export const BASELINES = ["average", "recent", "popularity"] as const;
export type BaselineKind = (typeof BASELINES)[number];

export interface BaselineOptions {
  /** Popularity: how many of the most played tracks to average (default 100). */
  top?: number;
  /** Recent: how many of the last plays to average (the spec's features.fast.window); required for recent. */
  window?: number;
}

/** Predictions [rows.length, dim]; row k predicts dataset row rows[k]. */
export function baselinePredictions(
  kind: BaselineKind,
  dataset: Dataset,
  catalogue: Catalogue,
  rows: ArrayLike<number>,
  options: BaselineOptions = {},
): Float32Array {
  switch (kind) {
    case "average":
      return averagePredictions(dataset, catalogue, rows);
    case "recent": {
      const w = options.window;
      if (w === undefined || !Number.isInteger(w) || w < 1)
        throw new Error(`the recent baseline needs a window of at least 1 play (the spec's features.fast.window), got ${w}`);
      return recentPredictions(dataset, catalogue, rows, w);
    }
    case "popularity":
      return popularityPredictions(dataset, catalogue, rows, options.top ?? 100);
  }
}

function recentPredictions(dataset: Dataset, catalogue: Catalogue, rows: ArrayLike<number>, window: number): Float32Array {
  const { dim, embeddings, hasEmbedding } = catalogue;
  const { trackIndex, userStart } = dataset.plays;
  const out = new Float32Array(rows.length * dim);
  const sum = new Float64Array(dim);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    const start = userStart[dataset.userIndex[r]];
    const i = dataset.position[r];
    sum.fill(0);
    let count = 0;
    for (let p = Math.max(0, i - window + 1); p <= i; p++) {
      const t = trackIndex[start + p];
      if (!hasEmbedding[t]) continue;
      for (let j = 0; j < dim; j++) sum[j] += embeddings[t * dim + j];
      count++;
    }
    if (count) for (let j = 0; j < dim; j++) out[k * dim + j] = sum[j] / count;
  }
  return out;
}

function averagePredictions(dataset: Dataset, catalogue: Catalogue, rows: ArrayLike<number>): Float32Array {
  const { dim, embeddings, hasEmbedding } = catalogue;
  const { trackIndex, userStart } = dataset.plays;
  const out = new Float32Array(rows.length * dim);
  const sum = new Float64Array(dim);
  let user = -1,
    upTo = -1, // plays 0..upTo of `user` are in sum
    count = 0;
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    const u = dataset.userIndex[r];
    const i = dataset.position[r];
    if (u !== user || i < upTo) {
      sum.fill(0);
      user = u;
      upTo = -1;
      count = 0;
    }
    for (; upTo < i; upTo++) {
      const t = trackIndex[userStart[u] + upTo + 1];
      if (!hasEmbedding[t]) continue;
      for (let j = 0; j < dim; j++) sum[j] += embeddings[t * dim + j];
      count++;
    }
    if (count) for (let j = 0; j < dim; j++) out[k * dim + j] = sum[j] / count;
  }
  return out;
}

/** The popularity vector: weighted mean of the top tracks by next-play count in the training rows. */
export function popularityVector(dataset: Dataset, catalogue: Catalogue, top = 100): Float32Array {
  const { dim, embeddings } = catalogue;
  const plays = new Float64Array(catalogue.hasEmbedding.length);
  for (const r of dataset.rows.train) plays[dataset.targetIndex[r]]++;
  const order = Array.from(plays.keys())
    .filter((t) => plays[t] > 0)
    .sort((a, b) => plays[b] - plays[a] || a - b)
    .slice(0, top);
  const sum = new Float64Array(dim);
  let total = 0;
  for (const t of order) {
    for (let j = 0; j < dim; j++) sum[j] += plays[t] * embeddings[t * dim + j];
    total += plays[t];
  }
  return Float32Array.from(sum, (v) => (total ? v / total : 0));
}

function popularityPredictions(dataset: Dataset, catalogue: Catalogue, rows: ArrayLike<number>, top: number): Float32Array {
  const v = popularityVector(dataset, catalogue, top);
  const out = new Float32Array(rows.length * catalogue.dim);
  for (let k = 0; k < rows.length; k++) out.set(v, k * catalogue.dim);
  return out;
}
