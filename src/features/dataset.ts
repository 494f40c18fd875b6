/**
 * buildDataset: every prediction point of every user as rows of flat
 * Float32Array blocks, in one streaming pass over columnar histories.
 *
 * A prediction point is (user, play i) with a next play i+1: x_s = plays
 * i-w+1..i, x_n = aggregates over plays 0..i, target = embedding of play i+1.
 * Points whose next track has no embedding are skipped and counted.
 */
import type { ModelSpec } from "../spec/schema";
import { specDimensions } from "../spec/dimensions";
import {
  addPlay,
  fastFeatures,
  fitFeatureStats,
  hashSeed,
  newCounts,
  slowRaw,
  transformSlow,
  writeTarget,
  type FeatureStats,
} from "./features";
import { catalogueRms, markLikedTracks, type Catalogue, type UserHistory } from "./history";

export const SPLITS = ["train", "validation", "test"] as const;
export type SplitName = (typeof SPLITS)[number];

export interface Dataset {
  /** Number of rows (prediction points). */
  n: number;
  /** w, or 0 when the fast branch is disabled. */
  window: number;
  /** d_s: width of one fast step (0 when disabled). */
  fastStep: number;
  /** d_n: width of x_n (0 when disabled). */
  slowDim: number;
  /** Embedding dimension of the target. */
  dim: number;
  /** The catalogue's root-mean-square coordinate (catalogueRms): the unit of embeddings inside a model with features.embedding_scale: rms. */
  catalogueRms: number;
  /** [n, window, fastStep] row-major. */
  fast: Float32Array;
  /** [n, window]: 1 = a real play, 0 = left padding. */
  mask: Float32Array;
  /** [n, slowDim], already transformed with `stats`. */
  slow: Float32Array;
  /** [n, dim]: embedding of the next played track. */
  target: Float32Array;
  /** Catalogue row of the next played track. */
  targetIndex: Int32Array;
  /** Index into `users` of each row. */
  userIndex: Int32Array;
  /** Time t of the prediction point (ms): when play i was played. */
  time: Float64Array;
  /** When the target, play i+1, was played (ms). */
  targetTime: Float64Array;
  /** Index i of the current play within the user's history (for baselines). */
  position: Int32Array;
  /** 0 train, 1 validation, 2 test (index into SPLITS). */
  split: Uint8Array;
  /** Row numbers of each split, ascending. */
  rows: Record<SplitName, Int32Array>;
  users: { ids: Int32Array; externalIds: string[] };
  /** Every play used (after the cut-off), users one after another: user k's plays are trackIndex[userStart[k]..userStart[k+1]). */
  plays: { trackIndex: Int32Array; userStart: Int32Array };
  /** Scaling of x_n, to reuse at serving time. */
  stats: FeatureStats;
  counts: {
    users: number;
    events: number;
    /** Plays after the cut-off, ignored. */
    afterCutoff: number;
    /** Prediction points dropped because the next track has no embedding. */
    targetWithoutEmbedding: number;
    /** Users with fewer than 2 plays (no prediction point). */
    usersWithoutPoints: number;
  };
}

export interface BuildOptions {
  /** Ignore plays after this instant (inclusive cut-off: plays at exactly cutoff count). */
  cutoff?: Date;
  /** Upper bound on the rows (e.g. the event count): the float blocks are then allocated once, never copied. */
  capacity?: number;
}

/** Grows a small per-row column (x1.5) until it holds `need` elements. */
function ensure<T extends Float64Array | Int32Array | Uint8Array>(a: T, need: number): T {
  if (a.length >= need) return a;
  let size = Math.max(a.length, 1024);
  while (size < need) size = Math.ceil(size * 1.5);
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}

/**
 * A growable [rows, width] float block kept as fixed-size chunks and joined
 * once at the end (growing one big array by copying cost more than the
 * features themselves). With a capacity hint there is one chunk and no copy.
 */
class Block {
  private chunks: Float32Array[] = [];
  constructor(
    readonly width: number,
    readonly chunkRows: number,
  ) {}
  /** The chunk that holds `row`; write at offset(row). */
  chunk(row: number): Float32Array {
    const c = Math.floor(row / this.chunkRows);
    while (this.chunks.length <= c) this.chunks.push(new Float32Array(this.chunkRows * this.width));
    return this.chunks[c];
  }
  offset(row: number): number {
    return (row % this.chunkRows) * this.width;
  }
  join(rows: number): Float32Array {
    const size = rows * this.width;
    if (this.chunks.length <= 1) return (this.chunks[0] ?? new Float32Array(0)).subarray(0, size);
    const out = new Float32Array(size);
    for (let c = 0, at = 0; c < this.chunks.length && at < size; c++) {
      const take = Math.min(this.chunks[c].length, size - at);
      out.set(this.chunks[c].subarray(0, take), at);
      at += take;
    }
    this.chunks = [];
    return out;
  }
}

export async function buildDataset(
  histories: AsyncIterable<UserHistory> | Iterable<UserHistory>,
  catalogue: Catalogue,
  spec: ModelSpec,
  options: BuildOptions = {},
): Promise<Dataset> {
  const dims = specDimensions(spec, catalogue.dim);
  const w = spec.features.fast.enabled ? spec.features.fast.window : 0;
  const ds = dims.fastStep;
  const dn = dims.slow;
  const dim = catalogue.dim;
  const cutoff = options.cutoff ? options.cutoff.getTime() : Infinity;
  const { split: splitSpec, seed } = spec.training;

  const chunkRows = Math.max(options.capacity ?? 16_384, 1);
  const fast = new Block(w * ds, chunkRows);
  const mask = new Block(w, chunkRows);
  const slowBlock = new Block(dn, chunkRows);
  const target = new Block(dim, chunkRows);
  let targetIndex = new Int32Array(0);
  let userIndex = new Int32Array(0);
  let time = new Float64Array(0);
  let targetTime = new Float64Array(0);
  let position = new Int32Array(0);
  let split = new Uint8Array(0);
  let plays = new Int32Array(0);
  const userStart: number[] = [0];
  const userIds: number[] = [];
  const externalIds: string[] = [];
  const counts = { users: 0, events: 0, afterCutoff: 0, targetWithoutEmbedding: 0, usersWithoutPoints: 0 };

  let n = 0;
  const running = newCounts();
  for await (const full of histories) {
    const h = cut(full, cutoff);
    counts.afterCutoff += full.playedAt.length - h.playedAt.length;
    const len = h.playedAt.length;
    if (len === 0) continue;
    const u = userIds.length;
    userIds.push(h.userId);
    externalIds.push(h.userExternalId);
    counts.users++;
    counts.events += len;
    plays = ensure(plays, userStart[u] + len);
    plays.set(h.trackIndex, userStart[u]);
    userStart.push(userStart[u] + len);
    markLikedTracks(h);

    targetIndex = ensure(targetIndex, n + len);
    userIndex = ensure(userIndex, n + len);
    time = ensure(time, n + len);
    targetTime = ensure(targetTime, n + len);
    position = ensure(position, n + len);
    split = ensure(split, n + len);
    const first = n;
    running.fill(0);
    for (let i = 0; i < len; i++) {
      addPlay(running, h, i);
      if (i === len - 1) break;
      if (!writeTarget(target.chunk(n), target.offset(n), h, i, catalogue)) {
        counts.targetWithoutEmbedding++;
        continue;
      }
      targetIndex[n] = h.trackIndex[i + 1];
      userIndex[n] = u;
      time[n] = h.playedAt[i];
      targetTime[n] = h.playedAt[i + 1];
      position[n] = i;
      if (w) fastFeatures(fast.chunk(n), fast.offset(n), mask.chunk(n), mask.offset(n), h, i, spec, catalogue);
      if (dn) slowRaw(slowBlock.chunk(n), slowBlock.offset(n), running, spec);
      n++;
    }
    if (n === first) counts.usersWithoutPoints++;
    assignSplit(split, first, n, splitSpec, hashSeed(seed, h.userExternalId));
  }

  const rows = splitRows(split, n);
  const slow = slowBlock.join(n);
  const stats = fitFeatureStats(spec, slow, dn, rows.train);
  if (dn) for (let r = 0; r < n; r++) transformSlow(slow, r * dn, spec, stats);

  return {
    n,
    window: w,
    fastStep: ds,
    slowDim: dn,
    dim,
    catalogueRms: catalogueRms(catalogue),
    fast: fast.join(n),
    mask: mask.join(n),
    slow,
    target: target.join(n),
    targetIndex: targetIndex.subarray(0, n),
    userIndex: userIndex.subarray(0, n),
    time: time.subarray(0, n),
    targetTime: targetTime.subarray(0, n),
    position: position.subarray(0, n),
    split: split.subarray(0, n),
    rows,
    users: { ids: Int32Array.from(userIds), externalIds },
    plays: { trackIndex: plays.subarray(0, userStart[userStart.length - 1]), userStart: Int32Array.from(userStart) },
    stats,
    counts,
  };
}

/** The plays at or before the cut-off (histories are in time order). Copies flags: they get derived bits. */
function cut(h: UserHistory, cutoff: number): UserHistory {
  let len = h.playedAt.length;
  while (len > 0 && h.playedAt[len - 1] > cutoff) len--;
  return { ...h, trackIndex: h.trackIndex.subarray(0, len), playedAt: h.playedAt.subarray(0, len), flags: h.flags.slice(0, len) };
}

/**
 * Split of one user's rows [from, to), in time order.
 * by time: the first round(n * train) rows train, up to round(n * (train + validation)) validation, the rest test.
 * by user: all rows to one split, chosen by the user's seeded hash (uniform in [0, 1)) against the cumulative fractions.
 */
function assignSplit(split: Uint8Array, from: number, to: number, s: ModelSpec["training"]["split"], userHash: number): void {
  const n = to - from;
  if (s.by === "user") {
    const x = userHash / 2 ** 32;
    split.fill(x < s.train ? 0 : x < s.train + s.validation ? 1 : 2, from, to);
    return;
  }
  const trainEnd = Math.round(n * s.train);
  const validationEnd = Math.max(trainEnd, Math.round(n * (s.train + s.validation)));
  split.fill(0, from, from + trainEnd);
  split.fill(1, from + trainEnd, from + validationEnd);
  split.fill(2, from + validationEnd, to);
}

function splitRows(split: Uint8Array, n: number): Record<SplitName, Int32Array> {
  const sizes = [0, 0, 0];
  for (let r = 0; r < n; r++) sizes[split[r]]++;
  const out = sizes.map((s) => new Int32Array(s));
  const fill = [0, 0, 0];
  for (let r = 0; r < n; r++) out[split[r]][fill[split[r]]++] = r;
  return { train: out[0], validation: out[1], test: out[2] };
}
