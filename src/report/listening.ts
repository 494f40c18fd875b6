/**
 * What the listening data looks like, for the report (the paper's Figures 3
 * to 5 and its slow features): every user's slow aggregates at the cut-off
 * (features/addPlay, the training code) and their correlation matrix over
 * users, and plays and skips by part of day (features' dayparts, UTC).
 */
import { addPlay, newCounts } from "../features/features";
import { FLAG, RAW_INDEX, daypartOfMs, markLikedTracks } from "../features/history";
import { COUNT_AGGREGATES as AGGREGATES, DAYPARTS } from "../spec/vocabulary";
import { loadCatalogue, streamHistories } from "../store/history";
import type { Store } from "../store/store";

export interface DaypartActivity {
  daypart: string;
  /** Hours [from, to), UTC. */
  hours: [number, number];
  plays: number;
  skips: number;
  /** skips / plays (null without plays). */
  skipRate: number | null;
}

export interface ListeningProfile {
  /** Only plays at or before this instant count (null: every play). */
  asOf: string | null;
  users: number;
  plays: number;
  /** The slow aggregates, in the features' order. */
  aggregates: string[];
  /** Pearson correlation over users of each pair of aggregates; null where an aggregate does not vary. */
  correlation: (number | null)[][];
  dayparts: DaypartActivity[];
}

/** Pearson correlation of the columns of a [rows, cols] matrix; null for a column with no variance. */
export function correlationMatrix(rows: readonly ArrayLike<number>[], cols: number): (number | null)[][] {
  const n = rows.length;
  const mean = new Float64Array(cols);
  for (const r of rows) for (let j = 0; j < cols; j++) mean[j] += r[j] / n;
  const cov = Array.from({ length: cols }, () => new Float64Array(cols));
  for (const r of rows)
    for (let a = 0; a < cols; a++) {
      const da = r[a] - mean[a];
      for (let b = a; b < cols; b++) cov[a][b] += da * (r[b] - mean[b]);
    }
  return Array.from({ length: cols }, (_, a) =>
    Array.from({ length: cols }, (_, b) => {
      const [i, j] = a <= b ? [a, b] : [b, a];
      const denominator = Math.sqrt(cov[a][a] * cov[b][b]);
      return n > 1 && denominator > 0 ? cov[i][j] / denominator : null;
    }),
  );
}

/** Streams every history up to `asOf` once. */
export async function listeningProfile(store: Store, asOf: Date | null): Promise<ListeningProfile> {
  const catalogue = await loadCatalogue(store);
  const perUser: Float64Array[] = [];
  const plays = new Float64Array(DAYPARTS.length);
  const skips = new Float64Array(DAYPARTS.length);
  let total = 0;
  for await (const h of streamHistories(store, { catalogue, upTo: asOf ?? undefined })) {
    markLikedTracks(h);
    const counts = newCounts();
    for (let i = 0; i < h.playedAt.length; i++) {
      addPlay(counts, h, i);
      const part = daypartOfMs(h.playedAt[i]);
      plays[part]++;
      if (h.flags[i] & FLAG.skipped) skips[part]++;
    }
    total += h.playedAt.length;
    perUser.push(Float64Array.from(AGGREGATES, (a) => counts[RAW_INDEX[a]]));
  }
  return {
    asOf: asOf ? asOf.toISOString() : null,
    users: perUser.length,
    plays: total,
    aggregates: [...AGGREGATES],
    correlation: correlationMatrix(perUser, AGGREGATES.length),
    dayparts: DAYPARTS.map((d, k) => ({
      daypart: d.name,
      hours: [d.fromHour, d.toHour],
      plays: plays[k],
      skips: skips[k],
      skipRate: plays[k] ? skips[k] / plays[k] : null,
    })),
  };
}
