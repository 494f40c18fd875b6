/**
 * The columnar data shapes the feature layer reads: a user's listening history
 * and the track catalogue. Plain typed arrays, no database: the store produces
 * them (src/store/history.ts), tests and tools can build them by hand.
 */
import { COUNT_AGGREGATES, DAYPARTS } from "../spec/vocabulary";

/** Bits of `UserHistory.flags`. Bits 0-3 are the event's own columns. */
export const FLAG = {
  skipped: 1,
  liked: 2,
  addedToPlaylist: 4,
  restarted: 8,
  /**
   * Derived: the user had liked this track at or before this play. The feature
   * layer sets it over a full history (`markLikedTracks`); a serving history
   * that holds only the last plays gets it from SQL (`latestHistory`).
   */
  likedTrack: 16,
} as const;

/** One user's plays in time order (ties by track id), one column per field. */
export interface UserHistory {
  /** The store's internal user id (0 for histories built outside a store). */
  userId: number;
  userExternalId: string;
  /** Row of each played track in the catalogue. */
  trackIndex: Int32Array;
  /** Play time, ms since the epoch (UTC). */
  playedAt: Float64Array;
  /** FLAG bits per play. */
  flags: Uint8Array;
  /** Each play's context (null: none), where the reader was asked for it. */
  context?: (string | null)[];
}

/** The track catalogue as a matrix; track i is row i. */
export interface Catalogue {
  externalIds: string[];
  /** The store's track ids (ascending), row by row. */
  trackIds: Int32Array;
  dim: number;
  /** Row-major, n x dim; zeros where a track has no embedding. */
  embeddings: Float32Array;
  /** 1 where the track has an embedding. */
  hasEmbedding: Uint8Array;
}

/**
 * The catalogue's root-mean-square coordinate over tracks with an embedding,
 * sqrt(sum ||e||^2 / (tracks * dim)): 1 for standardised features, about
 * 1 / sqrt(dim) for unit-norm vectors. 1 when no track has an embedding.
 */
export function catalogueRms(catalogue: Catalogue): number {
  const { dim, embeddings, hasEmbedding } = catalogue;
  let sum = 0,
    tracks = 0;
  for (let t = 0; t < hasEmbedding.length; t++) {
    if (!hasEmbedding[t]) continue;
    tracks++;
    for (let j = t * dim; j < (t + 1) * dim; j++) sum += embeddings[j] * embeddings[j];
  }
  return tracks && sum > 0 ? Math.sqrt(sum / (tracks * dim)) : 1;
}

/**
 * Raw slow counts over a history up to t, in this order: the six count
 * aggregates, then plays per daypart (hours_since_last is no count: slowRaw
 * takes it apart). Training accumulates them play by play
 * (`addPlay`); serving gets the same numbers from one SQL aggregate query.
 */
export const RAW_COUNTS = [...COUNT_AGGREGATES, ...DAYPARTS.map((d) => `daypart_${d.name}` as const)] as const;
export type RawCount = (typeof RAW_COUNTS)[number];
export const RAW_INDEX = Object.fromEntries(RAW_COUNTS.map((name, i) => [name, i])) as Record<RawCount, number>;

/** The last plays of one user plus the raw counts over all their plays (serving). */
export interface ServingHistory {
  /** At most w plays, the most recent last, FLAG.likedTrack already set. */
  history: UserHistory;
  /** RAW_COUNTS over every play at or before asOf. */
  counts: Float64Array;
  /** x_b [D]: the mean embedding of every play at or before asOf that has one (bag.ts), when read with { bag: true }. */
  bag?: Float32Array;
}

export const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Hours from instant `from` to instant `to` (ms); 0 when `to` is not later. */
export function hoursBetween(from: number, to: number): number {
  return Math.max(0, to - from) / HOUR_MS;
}

/** Daypart (0 night 0-6h, 1 morning 6-12h, 2 afternoon 12-18h, 3 evening 18-24h) of an instant, UTC. */
export function daypartOfMs(ms: number): number {
  const hour = Math.floor((((ms % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS);
  return Math.floor(hour / 6);
}

/** Sets FLAG.likedTrack on every play of a track the user liked at or before that play. Idempotent. */
export function markLikedTracks(h: UserHistory): void {
  const liked = new Set<number>();
  for (let i = 0; i < h.flags.length; i++) {
    if (h.flags[i] & FLAG.liked) liked.add(h.trackIndex[i]);
    if (liked.has(h.trackIndex[i])) h.flags[i] |= FLAG.likedTrack;
    else h.flags[i] &= ~FLAG.likedTrack;
  }
}

/** A history from plain arrays (tests, tools). */
export function historyFrom(
  userExternalId: string,
  plays: readonly { track: number; at: number; flags?: number }[],
  userId = 0,
): UserHistory {
  return {
    userId,
    userExternalId,
    trackIndex: Int32Array.from(plays, (p) => p.track),
    playedAt: Float64Array.from(plays, (p) => p.at),
    flags: Uint8Array.from(plays, (p) => p.flags ?? 0),
  };
}
