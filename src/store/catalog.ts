/**
 * Table `setting`: the catalogue's settings (embedding dimension and provenance, the
 * catalogue version), the event counters and the demo-world mark. Raw SQL through a
 * SqlClient: the importers write them inside their own transactions (with COPY),
 * which a Prisma call cannot join, and the counters are updated in place (jsonb
 * arithmetic) so concurrent writers never lose a count.
 */
import { EVENTS_CHANNEL, type SqlClient } from "./sql";

/**
 * SQL: the track row has a usable embedding, stored and not the zero vector
 * (loadCatalogue's rule: a zero vector would be every short query's nearest neighbour).
 */
export const HAS_EMBEDDING = "0 <> ANY(embedding)";

/** The catalogue's embedding dimension, fixed by the first tracks imported with embeddings. */
export async function getEmbeddingDim(sql: SqlClient): Promise<number | null> {
  const rows = await sql.query<{ value: number }>(`SELECT value FROM setting WHERE key = 'embedding_dim'`);
  return rows.length ? Number(rows[0].value) : null;
}

export async function setEmbeddingDim(sql: SqlClient, dim: number): Promise<void> {
  await sql.query(
    `INSERT INTO setting (key, value) VALUES ('embedding_dim', to_jsonb($1::int))
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    [dim],
  );
}

/** How `embed-tracks` learnt the catalogue's embeddings: what an evaluation needs to know to rule out a leak. */
export interface EmbeddingProvenance {
  learntAt: Date;
  /** The --until cut-off: only plays at or before it were read; null: every play stored then. */
  until: Date | null;
  /** The newest play they were learnt from. */
  newestPlay: Date;
  /** Plays read. */
  plays: number;
  dim: number;
  window: number;
  minCount: number;
  weighting: string;
  /** Windows stopped at sessions (a new context, else a gap of more than gapMinutes); null: they did not. */
  sessions: { gapMinutes: number } | null;
  normalized: boolean;
}

type StoredProvenance = Omit<EmbeddingProvenance, "learntAt" | "until" | "newestPlay"> & {
  learntAt: string;
  until: string | null;
  newestPlay: string;
};

export async function setEmbeddingProvenance(sql: SqlClient, p: EmbeddingProvenance): Promise<void> {
  const stored: StoredProvenance = {
    ...p,
    learntAt: p.learntAt.toISOString(),
    until: p.until?.toISOString() ?? null,
    newestPlay: p.newestPlay.toISOString(),
  };
  await sql.query(
    `INSERT INTO setting (key, value) VALUES ('embedding_provenance', $1::jsonb)
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    [JSON.stringify(stored)],
  );
}

/** Imported embeddings were not learnt from these plays: an import that writes any forgets the provenance. */
export async function clearEmbeddingProvenance(sql: SqlClient): Promise<void> {
  await sql.query(`DELETE FROM setting WHERE key = 'embedding_provenance'`);
}

/** Null when embed-tracks did not learn the current embeddings (imported, or none). */
export async function getEmbeddingProvenance(sql: SqlClient): Promise<EmbeddingProvenance | null> {
  const rows = await sql.query<{ value: StoredProvenance }>(`SELECT value FROM setting WHERE key = 'embedding_provenance'`);
  if (!rows.length) return null;
  const v = rows[0].value;
  return { ...v, learntAt: new Date(v.learntAt), until: v.until === null ? null : new Date(v.until), newestPlay: new Date(v.newestPlay) };
}

/** A counter bumped whenever tracks change, so in-process indexes know to reload. */
export async function getCatalogVersion(sql: SqlClient): Promise<number> {
  const rows = await sql.query<{ value: number }>(`SELECT value FROM setting WHERE key = 'catalog_version'`);
  return rows.length ? Number(rows[0].value) : 0;
}

export async function bumpCatalogVersion(sql: SqlClient): Promise<void> {
  await sql.query(
    `INSERT INTO setting (key, value) VALUES ('catalog_version', '1'::jsonb)
     ON CONFLICT (key) DO UPDATE SET value = to_jsonb((setting.value #>> '{}')::bigint + 1)`,
  );
}

export interface EventStats {
  count: number;
  first: Date | null;
  last: Date | null;
}

/**
 * Counts of listening events kept in `setting` by every write path (imports, recorded
 * plays), so /health and status read one row instead of scanning the events.
 * `stage` is a table (or subquery) holding the batch just written, with a played_at column.
 * Also notifies EVENTS_CHANNEL, which the embedded store's listeners hear on commit.
 */
export async function addEventStats(sql: SqlClient, inserted: number, stage: string): Promise<void> {
  await sql.query(
    `INSERT INTO setting (key, value)
     SELECT 'event_stats', jsonb_build_object('count', $1::bigint, 'first', min(played_at), 'last', max(played_at)) FROM ${stage}
     ON CONFLICT (key) DO UPDATE SET value = jsonb_build_object(
       'count', (setting.value->>'count')::bigint + (EXCLUDED.value->>'count')::bigint,
       'first', LEAST((setting.value->>'first')::timestamptz, (EXCLUDED.value->>'first')::timestamptz),
       'last', GREATEST((setting.value->>'last')::timestamptz, (EXCLUDED.value->>'last')::timestamptz))`,
    [inserted],
  );
  // Delivered when (and only if) the transaction commits.
  await sql.query(`NOTIFY ${EVENTS_CHANNEL}`);
}

export async function getEventStats(sql: SqlClient): Promise<EventStats> {
  let rows = await sql.query<{ value: { count: number | string; first: string | null; last: string | null } }>(
    `SELECT value FROM setting WHERE key = 'event_stats'`,
  );
  if (!rows.length) {
    // A store written before these counters existed: count once, then keep counting.
    await sql.query(
      `INSERT INTO setting (key, value)
       SELECT 'event_stats', jsonb_build_object('count', count(*), 'first', min(played_at), 'last', max(played_at)) FROM listening_event
       ON CONFLICT (key) DO NOTHING`,
    );
    rows = await sql.query(`SELECT value FROM setting WHERE key = 'event_stats'`);
  }
  const v = rows[0].value;
  return { count: Number(v.count), first: v.first ? new Date(v.first) : null, last: v.last ? new Date(v.last) : null };
}

/** The `setting` row that marks a demo world load in progress, holding the world's options (removed when it is done). */
const DEMO_WORLD_LOADING = "demo_world_loading";

export async function markDemoWorld(sql: SqlClient, options: unknown): Promise<void> {
  await sql.query(
    `INSERT INTO setting (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    [DEMO_WORLD_LOADING, JSON.stringify(options)],
  );
}

/** The options markDemoWorld stored (dates as ISO text), or null when no load is in progress. */
export async function demoWorldMark<T>(sql: SqlClient): Promise<T | null> {
  const rows = await sql.query<{ value: T }>(`SELECT value FROM setting WHERE key = $1`, [DEMO_WORLD_LOADING]);
  return rows.length ? rows[0].value : null;
}

export async function clearDemoWorldMark(sql: SqlClient): Promise<void> {
  await sql.query(`DELETE FROM setting WHERE key = $1`, [DEMO_WORLD_LOADING]);
}
