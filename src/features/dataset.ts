/**
 * buildDataset: every prediction point of every user, kept compact: the plays
 * themselves as typed columns plus a few numbers per point. x_s, the mask and
 * the target are assembled when a batch asks for them (writePoint), by
 * gathering rows of the catalogue's embedding matrix, so memory grows by tens
 * of bytes per play (datasetBytes), not by the ~2 KB a materialised x_s costs.
 *
 * A prediction point is (user, play i) with a next play i+1: x_s = plays
 * i-w+1..i, x_n = aggregates over plays 0..i (hours_since_last: from play i
 * to play i+1's time, the prediction time), target = embedding of play i+1.
 * Points whose next track has no embedding are skipped and counted.
 */
import type { ModelSpec } from "../spec/schema";
import { specDimensions } from "../spec/dimensions";
import { bytesPerPlay } from "../spec/memory";
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
import { buildPlayBag, writeBag, type PlayBag } from "./bag";
import { catalogueRms, hoursBetween, markLikedTracks, type Catalogue, type UserHistory } from "./history";

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
  /** The spec x_s is assembled with (window, per-play signals, shuffle seed). */
  spec: ModelSpec;
  /** The catalogue the points index: x_s and targets are its embedding rows (shared, not copied). */
  catalogue: Catalogue;
  /** [n, slowDim], already transformed with `stats`. */
  slow: Float32Array;
  /** Catalogue row of the next played track. */
  targetIndex: Int32Array;
  /** Index into `users` of each row. */
  userIndex: Int32Array;
  /** Index i of the current play within the user's history. */
  position: Int32Array;
  /** 0 train, 1 validation, 2 test (index into SPLITS). */
  split: Uint8Array;
  /** Row numbers of each split, ascending. */
  rows: Record<SplitName, Int32Array>;
  users: { ids: Int32Array; externalIds: string[] };
  /**
   * Every play used (after the cut-off), users one after another: user k's plays are
   * [userStart[k], userStart[k+1]). Flags carry FLAG.likedTrack (markLikedTracks).
   */
  plays: { trackIndex: Int32Array; playedAt: Float64Array; flags: Uint8Array; userStart: Int32Array };
  /**
   * Prefix sums of the plays' embeddings every BAG_BLOCK plays, for x_b (bag.ts):
   * built by ensureBag when a model reads the bag (InputShape.bagDim), absent otherwise.
   */
  bag?: PlayBag;
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
  /** Upper bound on the plays (e.g. countEvents): the columns are then allocated once, never grown. */
  capacity?: number;
}

/** Time t of row r (ms): when its current play was played. */
export function pointTime(d: Dataset, r: number): number {
  return d.plays.playedAt[d.plays.userStart[d.userIndex[r]] + d.position[r]];
}

/** When row r's target, the next play, was played (ms). */
export function targetTime(d: Dataset, r: number): number {
  return d.plays.playedAt[d.plays.userStart[d.userIndex[r]] + d.position[r] + 1];
}

/** User u's plays as a history (views into the dataset's columns, no copy). */
export function userHistory(d: Dataset, u: number): UserHistory {
  const { userStart, trackIndex, playedAt, flags } = d.plays;
  const from = userStart[u];
  const to = userStart[u + 1];
  return {
    userId: d.users.ids[u],
    userExternalId: d.users.externalIds[u],
    trackIndex: trackIndex.subarray(from, to),
    playedAt: playedAt.subarray(from, to),
    flags: flags.subarray(from, to),
  };
}

/**
 * Where writePoint puts one row: x_s at fast[fastAt..], mask at mask[maskAt..], x_n, y,
 * and x_b when `bag` is given. An empty fast (or slow) buffer: x_s and the mask (or x_n)
 * are not asked for and not written.
 */
export interface PointBuffers {
  fast: Float32Array;
  mask: Float32Array;
  slow: Float32Array;
  target: Float32Array;
  /** [k * dim] for x_b; needs the dataset's bag (ensureBag). */
  bag?: Float32Array;
}

/**
 * Writes row r into slot k of the buffers ([k * w * d_s] for x_s, [k * w] for the mask,
 * [k * d_n] for x_n, [k * dim] for y and x_b): the same numbers the same functions
 * (fastFeatures, the catalogue's row, writeBag) would have stored up front.
 */
export function writePoint(d: Dataset, r: number, out: PointBuffers, k: number): void {
  const { window: w, fastStep, slowDim, dim, catalogue } = d;
  const u = d.userIndex[r];
  const h = userHistory(d, u);
  const i = d.position[r];
  if (w && out.fast.length) fastFeatures(out.fast, k * w * fastStep, out.mask, k * w, h, i, d.spec, catalogue);
  if (slowDim && out.slow.length) out.slow.set(d.slow.subarray(r * slowDim, (r + 1) * slowDim), k * slowDim);
  if (out.bag) {
    if (!d.bag) throw new Error("the dataset has no bag of plays: call ensureBag first");
    writeBag(out.bag, k * dim, h.trackIndex, i, d.bag.sums, d.bag.counts, d.bag.userBlock[u], catalogue);
  }
  writeTarget(out.target, k * dim, h, i, catalogue);
}

/** Row r's x_s, mask, x_n and y (and x_b when the dataset has its bag) as new arrays (tests, tools). */
export function pointFeatures(d: Dataset, r: number): PointBuffers {
  const out = {
    fast: new Float32Array(d.window * d.fastStep),
    mask: new Float32Array(d.window),
    slow: new Float32Array(d.slowDim),
    target: new Float32Array(d.dim),
    ...(d.bag ? { bag: new Float32Array(d.dim) } : {}),
  };
  writePoint(d, r, out, 0);
  return out;
}

/** Builds the dataset's bag of plays (prefix sums for x_b) once; a no-op when it has one. Returns it. */
export function ensureBag(d: Dataset): PlayBag {
  d.bag ??= buildPlayBag(d.plays.trackIndex, d.plays.userStart, d.catalogue);
  return d.bag;
}

/** What a dataset costs per play with d_n slow features, without growth slack (the layout is spelled out at bytesPerPlay). */
export const datasetBytesPerPlay = bytesPerPlay;

/** Bytes the dataset holds (its columns' buffers; the shared catalogue not counted). */
export function datasetBytes(d: Dataset): number {
  const buffers = new Set<ArrayBufferLike>();
  const bag = d.bag ? [d.bag.sums, d.bag.counts, d.bag.userBlock] : [];
  for (const a of [d.slow, d.targetIndex, d.userIndex, d.position, d.split, d.users.ids, ...Object.values(d.rows), ...Object.values(d.plays), ...bag])
    buffers.add(a.buffer);
  let bytes = 0;
  for (const b of buffers) bytes += b.byteLength;
  return bytes;
}

type Column = Float32Array | Float64Array | Int32Array | Uint8Array;
type ColumnType<T extends Column> = { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number };

/**
 * A column of n elements on a SharedArrayBuffer: sent to another thread (the training
 * thread, data-parallel helpers) it is shared, not copied.
 */
function column<T extends Column>(type: ColumnType<T>, n: number): T {
  return new type(new SharedArrayBuffer(n * type.BYTES_PER_ELEMENT));
}

/** The first n elements of a column, copied onto a SharedArrayBuffer. */
export function sharedCopy<T extends Column>(a: T, n = a.length): T {
  const b = column(a.constructor as ColumnType<T>, n);
  b.set(a.subarray(0, n));
  return b;
}

/** Grows a column (x1.5) until it holds `need` elements. */
function ensure<T extends Column>(a: T, need: number): T {
  if (a.length >= need) return a;
  let size = Math.max(a.length, 1024);
  while (size < need) size = Math.ceil(size * 1.5);
  const b = column(a.constructor as ColumnType<T>, size);
  b.set(a);
  return b;
}

/** The first `n` elements; a copy when the column has more than 1/8 slack, so the spare capacity is freed. */
function trim<T extends Column>(a: T, n: number): T {
  return a.length - n > a.length / 8 ? sharedCopy(a, n) : (a.subarray(0, n) as T);
}

export async function buildDataset(
  histories: AsyncIterable<UserHistory> | Iterable<UserHistory>,
  catalogue: Catalogue,
  spec: ModelSpec,
  options: BuildOptions = {},
): Promise<Dataset> {
  const dims = specDimensions(spec, catalogue.dim);
  const w = spec.features.fast.enabled ? spec.features.fast.window : 0;
  const dn = dims.slow;
  const cutoff = options.cutoff ? options.cutoff.getTime() : Infinity;
  const { split: splitSpec, seed } = spec.training;

  // Columns are sized for `capacity` plays (a point per play at most) and grow when it was short.
  const capacity = Math.max(options.capacity ?? 16_384, 1);
  let slow = column(Float32Array, capacity * dn);
  let targetIndex = column(Int32Array, capacity);
  let userIndex = column(Int32Array, capacity);
  let position = column(Int32Array, capacity);
  let split = column(Uint8Array, capacity);
  let trackIndex = column(Int32Array, capacity);
  let playedAt = column(Float64Array, capacity);
  let flags = column(Uint8Array, capacity);
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
    markLikedTracks(h);
    const start = userStart[u];
    trackIndex = ensure(trackIndex, start + len);
    playedAt = ensure(playedAt, start + len);
    flags = ensure(flags, start + len);
    trackIndex.set(h.trackIndex, start);
    playedAt.set(h.playedAt, start);
    flags.set(h.flags, start);
    userStart.push(start + len);

    targetIndex = ensure(targetIndex, n + len);
    userIndex = ensure(userIndex, n + len);
    position = ensure(position, n + len);
    split = ensure(split, n + len);
    slow = ensure(slow, (n + len) * dn);
    const first = n;
    running.fill(0);
    for (let i = 0; i < len; i++) {
      addPlay(running, h, i);
      if (i === len - 1) break;
      const next = h.trackIndex[i + 1];
      if (!catalogue.hasEmbedding[next]) {
        counts.targetWithoutEmbedding++;
        continue;
      }
      targetIndex[n] = next;
      userIndex[n] = u;
      position[n] = i;
      // The prediction time t is the next play's: hours_since_last is the gap to it.
      if (dn) slowRaw(slow, n * dn, running, spec, hoursBetween(h.playedAt[i], h.playedAt[i + 1]));
      n++;
    }
    if (n === first) counts.usersWithoutPoints++;
    assignSplit(split, first, n, splitSpec, hashSeed(seed, h.userExternalId));
  }

  const events = userStart[userStart.length - 1];
  slow = trim(slow, n * dn);
  const rows = splitRows(split, n);
  const stats = fitFeatureStats(spec, slow, dn, rows.train);
  if (dn) for (let r = 0; r < n; r++) transformSlow(slow, r * dn, spec, stats);

  return {
    n,
    window: w,
    fastStep: dims.fastStep,
    slowDim: dn,
    dim: catalogue.dim,
    catalogueRms: catalogueRms(catalogue),
    spec,
    catalogue,
    slow,
    targetIndex: trim(targetIndex, n),
    userIndex: trim(userIndex, n),
    position: trim(position, n),
    split: trim(split, n),
    rows,
    users: { ids: sharedCopy(Int32Array.from(userIds)), externalIds },
    plays: {
      trackIndex: trim(trackIndex, events),
      playedAt: trim(playedAt, events),
      flags: trim(flags, events),
      userStart: sharedCopy(Int32Array.from(userStart)),
    },
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
