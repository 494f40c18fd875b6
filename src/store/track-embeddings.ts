/**
 * The track embeddings embed-tracks learns (src/data/track-embeddings.ts):
 * what it reads about the tracks, and the one transaction that writes every
 * track's vector with the catalogue's dimension, version and the embeddings'
 * provenance.
 */
import { Conflict } from "../errors";
import { bumpCatalogVersion, setEmbeddingDim, setEmbeddingProvenance, type EmbeddingProvenance } from "./catalog";
import { csvLine, pgArray, type SqlClient } from "./sql";
import type { Store } from "./store";

/** Learnt vectors for the catalogue's tracks, row i for trackIds[i]. */
export interface LearntTrackEmbeddings {
  trackIds: ArrayLike<number>;
  dim: number;
  /** Row-major [trackIds.length, dim]. */
  embeddings: Float32Array;
  /** Rows without a vector are stored as NULL. */
  hasVector: ArrayLike<number>;
}

export async function tracksWithEmbedding(sql: SqlClient): Promise<number> {
  const [{ n }] = await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM track WHERE embedding IS NOT NULL");
  return n;
}

/** Tracks whose first play is after `until`. */
export async function tracksFirstPlayedAfter(sql: SqlClient, until: Date): Promise<number> {
  const [{ n }] = await sql.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM (SELECT track_id FROM listening_event GROUP BY track_id HAVING min(played_at) > $1::timestamptz) t",
    [until.toISOString()],
  );
  return n;
}

/**
 * Writes every track's vector (NULL where none, and for tracks created since
 * the catalogue was read), the catalogue's dimension, version and the
 * embeddings' provenance in one transaction. Without `overwrite` it refuses,
 * writing nothing, when tracks received embeddings meanwhile. pgvector
 * HNSW indexes, if any, are dropped (nothing builds them on write any more:
 * serving searches in process, see nearest.ts).
 */
export async function writeTrackEmbeddings(
  store: Store,
  learnt: LearntTrackEmbeddings,
  provenance: EmbeddingProvenance,
  options: { overwrite?: boolean } = {},
): Promise<void> {
  await store.transaction(async (tx) => {
    // Embeddings imported while these were learnt are not replaced without overwrite either.
    if (!options.overwrite && (await tracksWithEmbedding(tx)) > 0) {
      throw new Conflict(
        "embed-tracks: tracks received embeddings while these were being learnt; nothing was written (pass --overwrite to replace them)",
      );
    }
    await dropVectorIndexes(tx);
    await tx.execute("CREATE TEMP TABLE track_embedding_stage (id int PRIMARY KEY, embedding real[]) ON COMMIT DROP");
    const { trackIds, dim, embeddings, hasVector } = learnt;
    for (let start = 0; start < trackIds.length; start += 5_000) {
      let csv = "";
      const end = Math.min(start + 5_000, trackIds.length);
      for (let i = start; i < end; i++)
        csv += csvLine([trackIds[i], hasVector[i] ? pgArray(float32Text(embeddings.subarray(i * dim, (i + 1) * dim))) : null]);
      await tx.copyCsv("track_embedding_stage", ["id", "embedding"], csv);
    }
    await tx.execute("UPDATE track t SET embedding = s.embedding FROM track_embedding_stage s WHERE t.id = s.id");
    // Tracks created since the catalogue was read have no plays in these counts: no vector rather than one of the old dimension.
    await tx.execute(
      "UPDATE track t SET embedding = NULL WHERE t.embedding IS NOT NULL AND NOT EXISTS (SELECT 1 FROM track_embedding_stage s WHERE s.id = t.id)",
    );
    await setEmbeddingDim(tx, dim);
    await setEmbeddingProvenance(tx, provenance);
    await bumpCatalogVersion(tx);
  });
}

/** Every track's genre and artist columns and its number of plays (what the agreement checks label tracks with). */
export function trackLabels(sql: SqlClient): Promise<{ id: number; genre: string | null; artist: string | null; plays: number }[]> {
  return sql.query(
    `SELECT t.id, t.genre, t.artist, coalesce(p.plays, 0)::int AS plays FROM track t
       LEFT JOIN (SELECT track_id, count(*) AS plays FROM listening_event GROUP BY track_id) p ON p.track_id = t.id`,
  );
}

/**
 * HNSW indexes over embedding::vector(D) (left by older versions, or built by
 * nearestTracks' "index" method) are for the old D: a new dimension would fail
 * their cast, and maintaining them row by row is slow. Dropped; nearestTracks
 * builds them again when asked to use one.
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
