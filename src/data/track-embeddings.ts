/**
 * `rubato embed-tracks`: learn track embeddings from co-occurrence in users'
 * listening windows (src/features/embed) where the data has none, and store
 * them as the catalogue's embeddings in one transaction. Tracks co-occurrence
 * cannot place get no embedding (NULL), never a zero vector. The learning is
 * the pure code of features/embed; the reads and the write are the store's
 * (src/store/track-embeddings.ts).
 */
import { Conflict } from "../errors";
import {
  CooccurrenceCounts,
  learnTrackEmbeddings,
  neighbourAgreement,
  SESSION_GAP_MINUTES,
  sessionStarts,
  type NeighbourAgreement,
  type TracksWithoutVector,
  type Weighting,
} from "../features";
import { getEmbeddingDim, getEmbeddingProvenance, type EmbeddingProvenance } from "../store/catalog";
import { countEvents, loadCatalogue, streamHistories } from "../store/history";
import type { Store } from "../store/store";
import { trackLabels, tracksFirstPlayedAfter, tracksWithEmbedding, writeTrackEmbeddings } from "../store/track-embeddings";

export type { EmbeddingProvenance } from "../store/catalog";

export interface EmbedTracksOptions {
  /** Default 80 (the paper's). */
  dim?: number;
  /** Plays at most this many apart co-occur (default 5, the paper's w). */
  window?: number;
  /** Tracks with fewer plays are folded in (default 1). */
  minCount?: number;
  seed?: number;
  weighting?: Weighting;
  /** PPMI's context-distribution smoothing (default 0.75). */
  smoothing?: number;
  /** Replace embeddings the tracks already have (imported or learnt before); without it, refuse. */
  overwrite?: boolean;
  /** Learn only from plays at or before this instant (default: every play). */
  until?: Date;
  /** Windows stop at session boundaries: a new context, else a gap of more than sessionGapMinutes (default off). */
  sessions?: boolean;
  /** Default 30. */
  sessionGapMinutes?: number;
  /** L2-normalise every vector (default true). */
  normalize?: boolean;
  /** Rows per history query (default 50,000). */
  batchSize?: number;
  /** After writing, measure genre and artist agreement where tracks have them (default true; see agreementCheck). */
  checks?: boolean;
  onProgress?: (p: { phase: "reading" | "factorising" | "writing"; plays: number; totalPlays: number }) => void;
}

/** TracksWithoutVector, with the tracks no play before --until reached told apart from those never played. */
export interface EmbedTracksWithoutVector extends Omit<TracksWithoutVector, "unplayed"> {
  neverPlayed: number;
  /** Played, but only after --until (0 without it). */
  playedOnlyAfterUntil: number;
}

export interface EmbedTracksReport {
  dim: number;
  window: number;
  minCount: number;
  weighting: Weighting;
  /** Windows stopped at sessions; null: they did not. */
  sessions: { gapMinutes: number } | null;
  normalized: boolean;
  /** The --until cut-off, or null. */
  until: Date | null;
  /** The newest play read. */
  newestPlay: Date;
  tracks: number;
  users: number;
  plays: number;
  /** Distinct track pairs within a window. */
  pairs: number;
  /** Entries of the weighted matrix that was factorised. */
  nonzeros: number;
  factorised: number;
  foldedIn: number;
  /** Tracks left without an embedding (stored as NULL), by reason. */
  withoutVector: EmbedTracksWithoutVector;
  explainedVariance: number;
  /** Tracks whose embedding was replaced. */
  replaced: number;
  /** Share of tracks' 10 nearest neighbours sharing a genre, against chance (tracks with 5+ plays); null without genres or when not checked. */
  genres: NeighbourAgreement | null;
  /** The same for the track's artist; null without artists or when not checked. */
  artists: NeighbourAgreement | null;
  /** total: reading, factorising and writing (with the index build); the checks come after. */
  seconds: { reading: number; factorising: number; writing: number; total: number; checks: number };
}

export const EMBED_DEFAULTS = {
  dim: 80,
  window: 5,
  minCount: 1,
  seed: 1,
  weighting: "ppmi" as Weighting,
  smoothing: 0.75,
  sessions: false,
  sessionGapMinutes: SESSION_GAP_MINUTES,
  normalize: true,
};

/**
 * Streams every user's plays (at or before `until`) in (user, played_at) order
 * into co-occurrence counts, learns the embeddings and writes every track's
 * vector (NULL where none), the catalogue's dimension, version and the
 * embeddings' provenance in one transaction; then rebuilds the HNSW index
 * where the database has pgvector.
 */
export async function embedTracks(store: Store, options: EmbedTracksOptions = {}): Promise<EmbedTracksReport> {
  const o = { ...EMBED_DEFAULTS, ...options };
  if (o.until && Number.isNaN(o.until.getTime())) throw new Error("embed-tracks: until is not a valid time");
  if (!(o.sessionGapMinutes > 0))
    throw new Error(`embed-tracks: the session gap must be a positive number of minutes, got ${o.sessionGapMinutes}`);
  const started = performance.now();
  const existing = await tracksWithEmbedding(store.sql);
  if (existing > 0 && !o.overwrite) {
    const dim = await getEmbeddingDim(store);
    throw new Conflict(
      `embed-tracks: ${existing} track(s) already have embeddings (${dim ?? "?"}-d, imported or learnt before); ` +
        `pass --overwrite to replace every track's embedding with co-occurrence embeddings (models trained on the old ones will need retraining)`,
      { tracksWithEmbedding: existing },
    );
  }
  const catalogue = await loadCatalogue(store);
  const totalPlays = await countEvents(store, { upTo: o.until });
  if (totalPlays === 0) {
    throw new Conflict(
      o.until
        ? `embed-tracks: the store has no plays at or before --until ${o.until.toISOString()}; pick a later time`
        : "embed-tracks: the store has no plays; import listening events first (rubato import events)",
    );
  }
  const counts = new CooccurrenceCounts(catalogue.trackIds.length, o.window);
  const gapMs = o.sessionGapMinutes * 60_000;
  let newest = -Infinity;
  o.onProgress?.({ phase: "reading", plays: 0, totalPlays });
  for await (const h of streamHistories(store, { catalogue, batchSize: o.batchSize, upTo: o.until, context: o.sessions })) {
    counts.addHistory(h.trackIndex, o.sessions ? sessionStarts(h.playedAt, h.context, gapMs) : undefined);
    newest = Math.max(newest, h.playedAt[h.playedAt.length - 1]);
    o.onProgress?.({ phase: "reading", plays: counts.totalPlays, totalPlays });
  }
  const read = performance.now();
  o.onProgress?.({ phase: "factorising", plays: counts.totalPlays, totalPlays });
  // The pair table goes once the matrix is built: table and matrix are never held at once.
  const learnt = learnTrackEmbeddings(counts, { ...o, releaseCounts: true });
  const factorised = performance.now();
  const { unplayed, ...reasons } = learnt.withoutVector;
  const afterUntil = o.until ? Math.min(unplayed, await tracksFirstPlayedAfter(store.sql, o.until)) : 0;
  const withoutVector = { ...reasons, neverPlayed: unplayed - afterUntil, playedOnlyAfterUntil: afterUntil };
  const sessions = o.sessions ? { gapMinutes: o.sessionGapMinutes } : null;
  const provenance: EmbeddingProvenance = {
    learntAt: new Date(),
    until: o.until ?? null,
    newestPlay: new Date(newest),
    plays: counts.totalPlays,
    dim: learnt.dim,
    window: o.window,
    minCount: o.minCount,
    weighting: o.weighting,
    sessions,
    normalized: o.normalize,
  };
  o.onProgress?.({ phase: "writing", plays: counts.totalPlays, totalPlays });
  await writeTrackEmbeddings(store, { trackIds: catalogue.trackIds, dim: learnt.dim, embeddings: learnt.embeddings, hasVector: learnt.hasVector }, provenance, { overwrite: o.overwrite });
  const done = performance.now();
  const checked = o.checks === false ? null : await agreementCheck(store, { minPlays: 5, maxQueries: 500 });
  return {
    dim: learnt.dim,
    window: o.window,
    minCount: o.minCount,
    weighting: o.weighting,
    sessions,
    normalized: o.normalize,
    until: o.until ?? null,
    newestPlay: provenance.newestPlay,
    tracks: catalogue.trackIds.length,
    users: counts.histories,
    plays: counts.totalPlays,
    pairs: learnt.pairs,
    nonzeros: learnt.nonzeros,
    factorised: learnt.factorised,
    foldedIn: learnt.foldedIn,
    withoutVector,
    explainedVariance: learnt.explainedVariance,
    replaced: existing,
    genres: checked?.genres ?? null,
    artists: checked?.artists ?? null,
    seconds: {
      reading: (read - started) / 1000,
      factorising: (factorised - read) / 1000,
      writing: (done - factorised) / 1000,
      total: (done - started) / 1000,
      checks: (performance.now() - done) / 1000,
    },
  };
}

/** How the catalogue's current embeddings were learnt by embed-tracks; null when they were not (imported, or none). */
export function embeddingProvenance(store: Store): Promise<EmbeddingProvenance | null> {
  return getEmbeddingProvenance(store);
}

/** A track's genres from its genre column: MovieLens style "A|B|C"; "(no genres listed)" and empty mean none. */
export function splitGenres(genre: string | null): string[] {
  if (!genre) return [];
  return genre
    .split("|")
    .map((g) => g.trim())
    .filter((g) => g !== "" && g !== "(no genres listed)");
}

export interface AgreementCheckOptions {
  k?: number;
  maxQueries?: number;
  /** Only tracks with at least this many plays are queries (default 1). */
  minPlays?: number;
  seed?: number;
  /** Neighbours by cosine (default) or by L2 distance (what serving's default metric and the ranking metrics use). */
  metric?: "cosine" | "l2";
}

/**
 * Genre and artist agreement of the stored embeddings (features/embed/agreement):
 * the share of tracks' k nearest neighbours sharing a genre (an artist), against
 * chance. Each is null when no track has one, or no track has an embedding.
 */
export async function agreementCheck(
  store: Store,
  options: AgreementCheckOptions = {},
): Promise<{ genres: NeighbourAgreement | null; artists: NeighbourAgreement | null }> {
  const catalogue = await loadCatalogue(store);
  if (catalogue.dim === 0) return { genres: null, artists: null };
  const rows = await trackLabels(store.sql);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const plays = Int32Array.from(catalogue.trackIds, (id) => byId.get(id)?.plays ?? 0);
  const minPlays = options.minPlays ?? 1;
  // Rows without an embedding are zeros in the catalogue: never candidates.
  const check = (labels: string[][]) =>
    labels.some((l) => l.length > 0)
      ? neighbourAgreement(catalogue.embeddings, catalogue.dim, labels, { ...options, eligible: (row) => plays[row] >= minPlays })
      : null;
  return {
    genres: check(Array.from(catalogue.trackIds, (id) => splitGenres(byId.get(id)?.genre ?? null))),
    artists: check(Array.from(catalogue.trackIds, (id) => splitArtist(byId.get(id)?.artist ?? null))),
  };
}

/** Genre agreement alone (see agreementCheck). */
export async function genreCheck(store: Store, options: AgreementCheckOptions = {}): Promise<NeighbourAgreement | null> {
  return (await agreementCheck(store, options)).genres;
}

const splitArtist = (artist: string | null): string[] => (artist && artist.trim() ? [artist.trim()] : []);
