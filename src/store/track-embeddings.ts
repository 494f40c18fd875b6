/**
 * `rubato embed-tracks`: learn track embeddings from co-occurrence in users'
 * listening windows (src/features/embed) where the data has none, and store
 * them as the catalogue's embeddings in one transaction.
 */
import { Conflict } from "../errors";
import { CooccurrenceCounts, genreAgreement, learnTrackEmbeddings, type GenreAgreement, type Weighting } from "../features";
import { bumpCatalogVersion, getEmbeddingDim, setEmbeddingDim } from "./catalog";
import { countEvents, loadCatalogue, streamHistories } from "./history";
import { ensureVectorIndex } from "./nearest";
import { csvLine, pgArray, type SqlClient } from "./sql";
import type { Store } from "./store";

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
  /** Rows per history query (default 50,000). */
  batchSize?: number;
  /** After writing, measure genre agreement where tracks have genres (default true; see genreCheck). */
  checkGenres?: boolean;
  onProgress?: (p: { phase: "reading" | "factorising" | "writing"; plays: number; totalPlays: number }) => void;
}

export interface EmbedTracksReport {
  dim: number;
  window: number;
  minCount: number;
  weighting: Weighting;
  tracks: number;
  users: number;
  plays: number;
  /** Distinct track pairs within a window. */
  pairs: number;
  /** Entries of the weighted matrix that was factorised. */
  nonzeros: number;
  factorised: number;
  foldedIn: number;
  zero: number;
  explainedVariance: number;
  /** Tracks whose embedding was replaced. */
  replaced: number;
  /** Share of tracks' 10 nearest neighbours sharing a genre, against chance (tracks with 5+ plays); null without genres or when not checked. */
  genres: GenreAgreement | null;
  /** total: reading, factorising and writing (with the index build); the genre check comes after. */
  seconds: { reading: number; factorising: number; writing: number; total: number; genreCheck: number };
}

export const EMBED_DEFAULTS = { dim: 80, window: 5, minCount: 1, seed: 1, weighting: "ppmi" as Weighting, smoothing: 0.75 };

/**
 * Streams every user's plays in (user, played_at) order into co-occurrence
 * counts, learns the embeddings and writes every track's vector, the
 * catalogue's dimension and version in one transaction; then rebuilds the
 * HNSW index where the database has pgvector.
 */
export async function embedTracks(store: Store, options: EmbedTracksOptions = {}): Promise<EmbedTracksReport> {
  const o = { ...EMBED_DEFAULTS, ...options };
  const started = performance.now();
  const existing = await tracksWithEmbedding(store.sql);
  if (existing > 0 && !o.overwrite) {
    const dim = await getEmbeddingDim(store.sql);
    throw new Conflict(
      `embed-tracks: ${existing} track(s) already have embeddings (${dim ?? "?"}-d, imported or learnt before); ` +
        `pass --overwrite to replace every track's embedding with co-occurrence embeddings (models trained on the old ones will need retraining)`,
      { tracksWithEmbedding: existing },
    );
  }
  const catalogue = await loadCatalogue(store);
  const totalPlays = await countEvents(store);
  if (totalPlays === 0) throw new Conflict("embed-tracks: the store has no plays; import listening events first (rubato import events)");
  const counts = new CooccurrenceCounts(catalogue.trackIds.length, o.window);
  o.onProgress?.({ phase: "reading", plays: 0, totalPlays });
  for await (const h of streamHistories(store, { catalogue, batchSize: o.batchSize })) {
    counts.addHistory(h.trackIndex);
    o.onProgress?.({ phase: "reading", plays: counts.totalPlays, totalPlays });
  }
  const read = performance.now();
  o.onProgress?.({ phase: "factorising", plays: counts.totalPlays, totalPlays });
  const learnt = learnTrackEmbeddings(counts, o);
  const factorised = performance.now();
  o.onProgress?.({ phase: "writing", plays: counts.totalPlays, totalPlays });
  await store.transaction(async (tx) => {
    // Embeddings imported while these were learnt are not replaced without overwrite either.
    if (!o.overwrite && (await tracksWithEmbedding(tx)) > 0) {
      throw new Conflict(
        "embed-tracks: tracks received embeddings while these were being learnt; nothing was written (pass --overwrite to replace them)",
      );
    }
    await dropVectorIndexes(tx);
    await tx.execute("CREATE TEMP TABLE track_embedding_stage (id int PRIMARY KEY, embedding real[]) ON COMMIT DROP");
    const { dim, embeddings } = learnt;
    for (let start = 0; start < catalogue.trackIds.length; start += 5_000) {
      let csv = "";
      const end = Math.min(start + 5_000, catalogue.trackIds.length);
      for (let i = start; i < end; i++)
        csv += csvLine([catalogue.trackIds[i], pgArray(float32Text(embeddings.subarray(i * dim, (i + 1) * dim)))]);
      await tx.copyCsv("track_embedding_stage", ["id", "embedding"], csv);
    }
    await tx.execute("UPDATE track t SET embedding = s.embedding FROM track_embedding_stage s WHERE t.id = s.id");
    // Tracks created since the catalogue was read have no plays in these counts: no vector rather than one of the old dimension.
    await tx.execute(
      "UPDATE track t SET embedding = NULL WHERE t.embedding IS NOT NULL AND NOT EXISTS (SELECT 1 FROM track_embedding_stage s WHERE s.id = t.id)",
    );
    await setEmbeddingDim(tx, dim);
    await bumpCatalogVersion(tx);
  });
  await ensureVectorIndex(store);
  const done = performance.now();
  const genres = o.checkGenres === false ? null : await genreCheck(store, { minPlays: 5, maxQueries: 500 });
  return {
    dim: learnt.dim,
    window: o.window,
    minCount: o.minCount,
    weighting: o.weighting,
    tracks: catalogue.trackIds.length,
    users: counts.histories,
    plays: counts.totalPlays,
    pairs: learnt.pairs,
    nonzeros: learnt.nonzeros,
    factorised: learnt.factorised,
    foldedIn: learnt.foldedIn,
    zero: learnt.zero,
    explainedVariance: learnt.explainedVariance,
    replaced: existing,
    genres,
    seconds: {
      reading: (read - started) / 1000,
      factorising: (factorised - read) / 1000,
      writing: (done - factorised) / 1000,
      total: (done - started) / 1000,
      genreCheck: (performance.now() - done) / 1000,
    },
  };
}

async function tracksWithEmbedding(sql: SqlClient): Promise<number> {
  const [{ n }] = await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM track WHERE embedding IS NOT NULL");
  return n;
}

/**
 * The HNSW indexes are over embedding::vector(D) for the old D: a new
 * dimension would fail their cast, and one bulk build is faster than
 * maintaining them row by row. ensureVectorIndex builds them again.
 */
async function dropVectorIndexes(sql: SqlClient): Promise<void> {
  const rows = await sql.query<{ name: string }>(
    "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'track' AND indexname LIKE 'track\\_embedding\\_hnsw\\_%'",
  );
  for (const { name } of rows) await sql.execute(`DROP INDEX IF EXISTS "${name}"`);
}

/** Shortest decimals that read back as the same float32 (9 significant digits always do). */
function float32Text(v: Float32Array): number[] {
  return Array.from(v, (x) => Number(x.toPrecision(9)));
}

/** A track's genres from its genre column: MovieLens style "A|B|C"; "(no genres listed)" and empty mean none. */
export function splitGenres(genre: string | null): string[] {
  if (!genre) return [];
  return genre
    .split("|")
    .map((g) => g.trim())
    .filter((g) => g !== "" && g !== "(no genres listed)");
}

export interface GenreCheckOptions {
  k?: number;
  maxQueries?: number;
  /** Only tracks with at least this many plays are queries (default 1). */
  minPlays?: number;
  seed?: number;
}

/**
 * Genre agreement of the stored embeddings (features/embed/agreement): the
 * share of tracks' k nearest neighbours sharing a genre, against chance.
 * Null when no track has a genre or an embedding.
 */
export async function genreCheck(store: Store, options: GenreCheckOptions = {}): Promise<GenreAgreement | null> {
  const catalogue = await loadCatalogue(store);
  if (catalogue.dim === 0) return null;
  const rows = await store.sql.query<{ id: number; genre: string | null; plays: number }>(
    `SELECT t.id, t.genre, coalesce(p.plays, 0)::int AS plays FROM track t
       LEFT JOIN (SELECT track_id, count(*) AS plays FROM listening_event GROUP BY track_id) p ON p.track_id = t.id`,
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const genres = Array.from(catalogue.trackIds, (id) => splitGenres(byId.get(id)?.genre ?? null));
  if (!genres.some((g) => g.length > 0)) return null;
  const plays = Int32Array.from(catalogue.trackIds, (id) => byId.get(id)?.plays ?? 0);
  const minPlays = options.minPlays ?? 1;
  return genreAgreement(catalogue.embeddings, catalogue.dim, genres, { ...options, eligible: (row) => plays[row] >= minPlays });
}
