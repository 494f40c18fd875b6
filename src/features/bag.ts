/**
 * x_b, the bag of plays up to t (VAE-CF's input, src/model/vae-cf.ts): for
 * user u at play i,
 *
 *   x_b = (sum_{j <= i, e_j exists} e_{track(j)}) / n_i,   n_i = #{j <= i : the track has an embedding}
 *
 * (0 when n_i = 0): Mult-VAE's first layer x W over the play counts c, with
 * W = E fixed and x = c / ||c||_1. It is the mean embedding of the plays so
 * far, the Average baseline's prediction (src/eval/baselines.ts), bounded
 * whatever the history's length or repetitions (docs/model.md, "VAE-CF").
 *
 * Bounded cost: a batch must not sum a long history play by play, so each user
 * keeps prefix sums every BAG_BLOCK plays (float32, D + 1 numbers a block:
 * about (4 D + 4) / 64 bytes a play, 5 at D = 80), and a point adds at most
 * BAG_BLOCK - 1 plays to the last prefix before it. The arithmetic is one
 * definition for training (the dataset's blocks, built once and shared with
 * the data-parallel helpers) and serving (the same blocks of one history):
 * the running sum is kept in float64, rounded to float32 where a block ends,
 * and a point resumes from that stored float32 prefix, so the two agree to
 * the bit.
 */
import { BAG_BLOCK } from "../spec/memory";
import type { Catalogue } from "./history";

/** Plays per stored prefix sum (defined with the memory estimate, which counts the blocks). */
export { BAG_BLOCK };

/** Prefix sums of every user's plays at every full block. */
export interface PlayBag {
  /** D. */
  dim: number;
  /** [blocks, D]: user u's j-th block (row userBlock[u] + j) sums e over their plays 0..64 (j + 1) - 1 that have one. */
  sums: Float32Array;
  /** [blocks]: how many of those plays have an embedding. */
  counts: Int32Array;
  /** [users + 1]: user u's blocks are rows [userBlock[u], userBlock[u + 1]). */
  userBlock: Int32Array;
}

/** Full blocks in a history of `len` plays. */
export const bagBlocks = (len: number): number => Math.floor(len / BAG_BLOCK);

/**
 * Writes the prefix sums of one user's plays (tracks: catalogue rows in time
 * order) at each full block into sums/counts from block row `at`.
 */
export function fillBlocks(sums: Float32Array, counts: Int32Array, at: number, tracks: ArrayLike<number>, catalogue: Catalogue): void {
  const { dim, embeddings, hasEmbedding } = catalogue;
  const acc = new Float64Array(dim);
  let n = 0;
  const blocks = bagBlocks(tracks.length);
  for (let b = 0; b < blocks; b++) {
    for (let i = b * BAG_BLOCK; i < (b + 1) * BAG_BLOCK; i++) {
      const row = tracks[i];
      if (!hasEmbedding[row]) continue;
      n++;
      for (let k = 0, e = row * dim; k < dim; k++) acc[k] += embeddings[e + k];
    }
    sums.set(acc, (at + b) * dim); // rounded to float32 here: the stored prefix
    counts[at + b] = n;
  }
}

/** The bag's blocks for every user of a dataset's play columns (on SharedArrayBuffers: shared with helper threads, not copied). */
export function buildPlayBag(trackIndex: Int32Array, userStart: Int32Array, catalogue: Catalogue): PlayBag {
  const users = userStart.length - 1;
  const userBlock = new Int32Array(new SharedArrayBuffer(4 * (users + 1)));
  for (let u = 0; u < users; u++) userBlock[u + 1] = userBlock[u] + bagBlocks(userStart[u + 1] - userStart[u]);
  const blocks = userBlock[users];
  const sums = new Float32Array(new SharedArrayBuffer(4 * blocks * catalogue.dim));
  const counts = new Int32Array(new SharedArrayBuffer(4 * blocks));
  for (let u = 0; u < users; u++) fillBlocks(sums, counts, userBlock[u], trackIndex.subarray(userStart[u], userStart[u + 1]), catalogue);
  return { dim: catalogue.dim, sums, counts, userBlock };
}

/**
 * Writes x_b of play i (the bag of plays 0..i) at out[at..at + D): the stored
 * prefix of the last full block within 0..i (rows from `blockAt`, the user's
 * first block), plus the at most BAG_BLOCK - 1 plays after it, divided by
 * their count.
 */
export function writeBag(
  out: Float32Array,
  at: number,
  tracks: ArrayLike<number>,
  i: number,
  sums: Float32Array,
  counts: Int32Array,
  blockAt: number,
  catalogue: Catalogue,
): void {
  const { dim, embeddings, hasEmbedding } = catalogue;
  const full = bagBlocks(i + 1);
  const acc = new Float64Array(dim);
  let n = 0;
  if (full > 0) {
    const b = blockAt + full - 1;
    for (let k = 0; k < dim; k++) acc[k] = sums[b * dim + k];
    n = counts[b];
  }
  for (let j = full * BAG_BLOCK; j <= i; j++) {
    const row = tracks[j];
    if (!hasEmbedding[row]) continue;
    n++;
    for (let k = 0, e = row * dim; k < dim; k++) acc[k] += embeddings[e + k];
  }
  if (n === 0) out.fill(0, at, at + dim);
  else for (let k = 0; k < dim; k++) out[at + k] = acc[k] / n;
}

/** x_b of the last play of a whole history (serving): its blocks built here, then writeBag, the same numbers as the dataset's row. */
export function bagOfHistory(tracks: ArrayLike<number>, catalogue: Catalogue): Float32Array {
  const out = new Float32Array(catalogue.dim);
  if (tracks.length === 0) return out;
  const blocks = bagBlocks(tracks.length);
  const sums = new Float32Array(blocks * catalogue.dim);
  const counts = new Int32Array(blocks);
  fillBlocks(sums, counts, 0, tracks, catalogue);
  writeBag(out, 0, tracks, tracks.length - 1, sums, counts, 0, catalogue);
  return out;
}

/**
 * x_b from a user's play counts per track (serving from the store: one row per
 * distinct track, bounded by the tracks a user played, not their plays): the
 * same mean, summed in another order, so equal to the dataset's row up to
 * float rounding.
 */
export function bagOfCounts(tracks: ArrayLike<number>, plays: ArrayLike<number>, catalogue: Catalogue): Float32Array {
  const { dim, embeddings, hasEmbedding } = catalogue;
  const acc = new Float64Array(dim);
  let n = 0;
  for (let t = 0; t < tracks.length; t++) {
    const row = tracks[t];
    if (!hasEmbedding[row]) continue;
    const c = plays[t];
    n += c;
    for (let k = 0, e = row * dim; k < dim; k++) acc[k] += c * embeddings[e + k];
  }
  const out = new Float32Array(dim);
  if (n > 0) for (let k = 0; k < dim; k++) out[k] = acc[k] / n;
  return out;
}
