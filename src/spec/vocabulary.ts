/**
 * The feature names the feature layer knows. The spec schema builds its
 * enums from these lists, so a spec can only ask for features that exist.
 */

/** Per-play signals: each step of the fast sequence concatenates these. */
export const PER_PLAY_SIGNALS = [
  "track_embedding",
  "skipped",
  "liked",
  "daypart",
  "restarted",
  "added_to_playlist",
  "time_since_last",
] as const;
export type PerPlaySignal = (typeof PER_PLAY_SIGNALS)[number];

/** Width of each per-play signal; "embedding" = the catalogue's embedding dimension. */
export const PER_PLAY_WIDTH: Record<PerPlaySignal, number | "embedding"> = {
  track_embedding: "embedding",
  skipped: 1,
  liked: 1,
  daypart: 4,
  restarted: 1,
  added_to_playlist: 1,
  time_since_last: 1,
};

export const PER_PLAY_DOCS: Record<PerPlaySignal, string> = {
  track_embedding: "embedding of the played track (the catalogue's dimension)",
  skipped: "1 if the play was skipped, else 0",
  liked: "1 if the user likes the track, else 0",
  daypart: "one-hot daypart of the play (night, morning, afternoon, evening)",
  restarted: "1 if the play restarted the track, else 0",
  added_to_playlist: "1 if the track was added to a playlist during the play, else 0",
  time_since_last: "log1p of the hours since the user's previous play (0 for the user's first play)",
};

/**
 * The per-play signals LatentCross reads as its context (src/model/latent-cross.ts),
 * in this order where the spec lists them.
 */
export const CONTEXT_SIGNALS = ["time_since_last", "daypart", "skipped"] as const satisfies readonly PerPlaySignal[];

/** The slow features that count plays over the user's whole history up to t. */
export const COUNT_AGGREGATES = ["plays", "likes", "playlist_adds", "skips", "restarts", "liked_plays"] as const;
export type CountAggregate = (typeof COUNT_AGGREGATES)[number];

/**
 * Slow features: the counts, then hours_since_last, the gap from the user's
 * last play before the prediction time t to t (not a count: it depends on t).
 */
export const AGGREGATES = [...COUNT_AGGREGATES, "hours_since_last"] as const;
export type Aggregate = (typeof AGGREGATES)[number];

export const AGGREGATE_DOCS: Record<Aggregate, string> = {
  plays: "total plays",
  likes: "plays on which the user liked the track",
  playlist_adds: "plays that added the track to a playlist",
  skips: "skipped plays",
  restarts: "restarted plays",
  liked_plays: "plays of tracks the user likes",
  hours_since_last:
    "not a count: hours from the user's last play to the prediction time t (the next play's time in training and evaluation, asOf in serving; 0 without asOf), scaled by `transform` like the counts (log1p by default)",
};

/** Dayparts by local hour, [fromHour, toHour). */
export const DAYPARTS = [
  { name: "night", fromHour: 0, toHour: 6 },
  { name: "morning", fromHour: 6, toHour: 12 },
  { name: "afternoon", fromHour: 12, toHour: 18 },
  { name: "evening", fromHour: 18, toHour: 24 },
] as const;
export type Daypart = (typeof DAYPARTS)[number]["name"];

/** Index into DAYPARTS (the one-hot position) for an hour in [0, 24). */
export function daypartIndex(hour: number): number {
  if (!(hour >= 0 && hour < 24)) throw new RangeError(`hour must be in [0, 24), got ${hour}`);
  return DAYPARTS.findIndex((d) => hour >= d.fromHour && hour < d.toHour);
}

export function perPlayWidth(signal: PerPlaySignal, embeddingDim: number): number {
  const w = PER_PLAY_WIDTH[signal];
  return w === "embedding" ? embeddingDim : w;
}

/** The first column of each signal within one step of x_s, for the signals `perPlay` lists (in its order). */
export function perPlayOffsets(perPlay: readonly PerPlaySignal[], embeddingDim: number): Partial<Record<PerPlaySignal, number>> {
  const out: Partial<Record<PerPlaySignal, number>> = {};
  let at = 0;
  for (const s of perPlay) {
    out[s] = at;
    at += perPlayWidth(s, embeddingDim);
  }
  return out;
}
