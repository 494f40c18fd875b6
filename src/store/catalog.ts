/**
 * Table `setting`: one JSON value per key (`SettingRow`): the catalogue's settings
 * (embedding dimension and provenance, the catalogue version), the event counters and
 * the demo-world mark. Plain reads and writes go through the Prisma client (a Store).
 * Raw SQL (a SqlClient) stays for two kinds of statement:
 * - reads and writes inside the importers' and embed-tracks' own transactions (with COPY),
 *   which a Prisma call cannot join: setEmbeddingDim, setEmbeddingProvenance,
 *   clearEmbeddingProvenance, and embeddingDimIn, the dimension an import checks its
 *   rows against in the transaction that may set it;
 * - in-place jsonb arithmetic that must be atomic under concurrent writers, which a
 *   Prisma read-then-write would not be (two writers read 5, both write 6):
 *   bumpCatalogVersion, and the event counters (addEventStats adds each batch in its
 *   writer's transaction; getEventStats is also read inside appendPlays' transaction,
 *   and counts an older store's events once with INSERT ... SELECT ... ON CONFLICT).
 * Each key's value is encoded and decoded in one place, whichever path reads or writes it.
 */
import type { Prisma } from "../generated/prisma/client";
import { EVENTS_CHANNEL, type SqlClient } from "./sql";
import type { Store } from "./store";

/**
 * SQL: the track row has a usable embedding, stored and not the zero vector
 * (loadCatalogue's rule: a zero vector would be every short query's nearest neighbour).
 */
export const HAS_EMBEDDING = "0 <> ANY(embedding)";

/** A row of `setting` as raw SQL reads it: `value` is jsonb, parsed by pg and PGlite (Prisma: JsonValue). */
interface SettingRow {
  value: unknown;
}

/** The keys of `setting`. */
const KEY = {
  embeddingDim: "embedding_dim",
  embeddingProvenance: "embedding_provenance",
  catalogVersion: "catalog_version",
  eventStats: "event_stats",
  /** Marks a demo world load in progress, holding the world's options (removed when it is done). */
  demoWorldLoading: "demo_world_loading",
} as const;

/** A setting's value through Prisma; undefined when the key has no row. */
async function read(store: Store, key: string): Promise<unknown> {
  return (await store.prisma.setting.findUnique({ where: { key }, select: { value: true } }))?.value;
}

/** A setting's value through a transaction's SqlClient; undefined when the key has no row. */
async function readIn(sql: SqlClient, key: string): Promise<unknown> {
  return (await sql.query<SettingRow>(`SELECT value FROM setting WHERE key = $1`, [key]))[0]?.value;
}

/** Stores a setting through a transaction's SqlClient (`value`: any JSON, dates as ISO text). */
async function writeIn(sql: SqlClient, key: string, value: unknown): Promise<void> {
  await sql.query(
    `INSERT INTO setting (key, value) VALUES ($1, $2::jsonb)
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    [key, JSON.stringify(value)],
  );
}

const dimFrom = (value: unknown): number | null => (value === undefined ? null : Number(value));

/** The catalogue's embedding dimension, fixed by the first tracks imported with embeddings. */
export async function getEmbeddingDim(store: Store): Promise<number | null> {
  return dimFrom(await read(store, KEY.embeddingDim));
}

/** getEmbeddingDim inside a transaction (an import checks its rows against it, then may set it). */
export async function embeddingDimIn(tx: SqlClient): Promise<number | null> {
  return dimFrom(await readIn(tx, KEY.embeddingDim));
}

export async function setEmbeddingDim(tx: SqlClient, dim: number): Promise<void> {
  await writeIn(tx, KEY.embeddingDim, dim);
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

/** EmbeddingProvenance as its `setting` value holds it: the dates as ISO text. */
type StoredProvenance = Omit<EmbeddingProvenance, "learntAt" | "until" | "newestPlay"> & {
  learntAt: string;
  until: string | null;
  newestPlay: string;
};

export async function setEmbeddingProvenance(tx: SqlClient, p: EmbeddingProvenance): Promise<void> {
  const stored: StoredProvenance = {
    ...p,
    learntAt: p.learntAt.toISOString(),
    until: p.until?.toISOString() ?? null,
    newestPlay: p.newestPlay.toISOString(),
  };
  await writeIn(tx, KEY.embeddingProvenance, stored);
}

/** Imported embeddings were not learnt from these plays: an import that writes any forgets the provenance. */
export async function clearEmbeddingProvenance(tx: SqlClient): Promise<void> {
  await tx.query(`DELETE FROM setting WHERE key = $1`, [KEY.embeddingProvenance]);
}

/** Null when embed-tracks did not learn the current embeddings (imported, or none). */
export async function getEmbeddingProvenance(store: Store): Promise<EmbeddingProvenance | null> {
  const v = (await read(store, KEY.embeddingProvenance)) as StoredProvenance | undefined;
  if (v === undefined) return null;
  return { ...v, learntAt: new Date(v.learntAt), until: v.until === null ? null : new Date(v.until), newestPlay: new Date(v.newestPlay) };
}

/** A counter bumped whenever tracks change, so in-process indexes know to reload. */
export async function getCatalogVersion(store: Store): Promise<number> {
  const value = await read(store, KEY.catalogVersion);
  return value === undefined ? 0 : Number(value);
}

export async function bumpCatalogVersion(tx: SqlClient): Promise<void> {
  await tx.query(
    `INSERT INTO setting (key, value) VALUES ($1, '1'::jsonb)
     ON CONFLICT (key) DO UPDATE SET value = to_jsonb((setting.value #>> '{}')::bigint + 1)`,
    [KEY.catalogVersion],
  );
}

export interface EventStats {
  count: number;
  first: Date | null;
  last: Date | null;
}

/** The event counters' `setting` value: count (a JSON number), first and last play (timestamptz as text). */
interface StoredEventStats {
  count: number | string;
  first: string | null;
  last: string | null;
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
     SELECT $2::text, jsonb_build_object('count', $1::bigint, 'first', min(played_at), 'last', max(played_at)) FROM ${stage}
     ON CONFLICT (key) DO UPDATE SET value = jsonb_build_object(
       'count', (setting.value->>'count')::bigint + (EXCLUDED.value->>'count')::bigint,
       'first', LEAST((setting.value->>'first')::timestamptz, (EXCLUDED.value->>'first')::timestamptz),
       'last', GREATEST((setting.value->>'last')::timestamptz, (EXCLUDED.value->>'last')::timestamptz))`,
    [inserted, KEY.eventStats],
  );
  // Delivered when (and only if) the transaction commits.
  await sql.query(`NOTIFY ${EVENTS_CHANNEL}`);
}

export async function getEventStats(sql: SqlClient): Promise<EventStats> {
  let v = (await readIn(sql, KEY.eventStats)) as StoredEventStats | undefined;
  if (v === undefined) {
    // A store written before these counters existed: count once, then keep counting.
    await sql.query(
      `INSERT INTO setting (key, value)
       SELECT $1::text, jsonb_build_object('count', count(*), 'first', min(played_at), 'last', max(played_at)) FROM listening_event
       ON CONFLICT (key) DO NOTHING`,
      [KEY.eventStats],
    );
    v = (await readIn(sql, KEY.eventStats)) as StoredEventStats;
  }
  return { count: Number(v.count), first: v.first ? new Date(v.first) : null, last: v.last ? new Date(v.last) : null };
}

/** Marks a demo world load in progress, holding its options (JSON: dates become ISO text). */
export async function markDemoWorld(store: Store, options: object): Promise<void> {
  const value = JSON.parse(JSON.stringify(options)) as Prisma.InputJsonValue;
  await store.prisma.setting.upsert({
    where: { key: KEY.demoWorldLoading },
    create: { key: KEY.demoWorldLoading, value },
    update: { value },
  });
}

/** The options markDemoWorld stored (dates as ISO text), or null when no load is in progress. */
export async function demoWorldMark<T>(store: Store): Promise<T | null> {
  return ((await read(store, KEY.demoWorldLoading)) as T | undefined) ?? null;
}

export async function clearDemoWorldMark(store: Store): Promise<void> {
  await store.prisma.setting.deleteMany({ where: { key: KEY.demoWorldLoading } });
}
