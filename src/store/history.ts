/**
 * Reading listening histories out of the store as columnar arrays: the whole
 * population streamed in user order (training), or one user's last plays plus
 * their slow counts from one aggregate query (serving).
 */
import type { Store } from "./store";
import type { SqlClient } from "./sql";
import { getCatalogVersion, getEmbeddingDim } from "./catalog";
import { FLAG, RAW_COUNTS, type Catalogue, type ServingHistory, type UserHistory } from "../features/history";

export interface HistoryOptions {
  /** Data cut-off: only plays at or before this instant. */
  upTo?: Date;
  /** Only these users (internal ids). */
  userIds?: readonly number[];
  /** Rows per query (keyset pagination on the primary key); default 50,000. */
  batchSize?: number;
  /** Maps track ids to catalogue rows; loaded when omitted. */
  catalogue?: Catalogue;
}

/** Event flags as one small int, in FLAG's bit order (bits 0-3). */
const FLAGS_SQL = `(e.skipped::int + 2 * e.liked::int + 4 * e.added_to_playlist::int + 8 * e.restarted::int)`;
/** Epoch milliseconds, exact (played_at has millisecond precision). */
const MS_SQL = `round(extract(epoch FROM e.played_at) * 1000)::float8`;

interface EventRow {
  user_id: number;
  track_id: number;
  ms: number;
  flags: number;
}

/** Every track, ordered by id: row i of the matrix is the i-th track. Tracks without an embedding have zeros. */
export async function loadCatalogue(store: Store, pageSize = 50_000): Promise<Catalogue> {
  const dim = (await getEmbeddingDim(store.sql)) ?? 0;
  const [{ n }] = await store.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM track");
  const externalIds: string[] = [];
  const trackIds = new Int32Array(n);
  const embeddings = new Float32Array(n * dim);
  const hasEmbedding = new Uint8Array(n);
  let last = 0;
  for (;;) {
    const rows = await store.sql.query<{ id: number; external_id: string; embedding: number[] | null }>(
      "SELECT id, external_id, embedding FROM track WHERE id > $1 ORDER BY id LIMIT $2",
      [last, pageSize],
    );
    for (const r of rows) {
      const i = externalIds.length;
      if (i >= n) break; // tracks added while reading: the catalogue is the snapshot counted above
      externalIds.push(r.external_id);
      trackIds[i] = r.id;
      if (r.embedding && r.embedding.length === dim && dim > 0) {
        embeddings.set(r.embedding, i * dim);
        hasEmbedding[i] = 1;
      }
    }
    if (rows.length < pageSize || externalIds.length >= n) break;
    last = rows[rows.length - 1].id;
  }
  return { externalIds, trackIds: trackIds.subarray(0, externalIds.length), dim, embeddings, hasEmbedding };
}

const rowLookups = new WeakMap<Catalogue, (trackId: number) => number>();

/** track id -> catalogue row; throws for a track the catalogue does not hold. */
function rowOf(catalogue: Catalogue): (trackId: number) => number {
  let lookup = rowLookups.get(catalogue);
  if (!lookup) {
    const map = new Map<number, number>();
    catalogue.trackIds.forEach((id, i) => map.set(id, i));
    lookup = (id) => {
      const row = map.get(id);
      if (row === undefined) throw new Error(`track id ${id} is not in the catalogue (tracks changed after it was loaded; reload it)`);
      return row;
    };
    rowLookups.set(catalogue, lookup);
  }
  return lookup;
}

/** A growable column set for the user being assembled. */
class Columns {
  track = new Int32Array(256);
  at = new Float64Array(256);
  flags = new Uint8Array(256);
  length = 0;
  push(track: number, at: number, flags: number): void {
    if (this.length === this.track.length) {
      const grow = <T extends Int32Array | Float64Array | Uint8Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.track = grow(this.track);
      this.at = grow(this.at);
      this.flags = grow(this.flags);
    }
    this.track[this.length] = track;
    this.at[this.length] = at;
    this.flags[this.length++] = flags;
  }
  take(userId: number, userExternalId: string): UserHistory {
    const h = {
      userId,
      userExternalId,
      trackIndex: this.track.slice(0, this.length),
      playedAt: this.at.slice(0, this.length),
      flags: this.flags.slice(0, this.length),
    };
    this.length = 0;
    return h;
  }
}

/**
 * Every user's history, one user at a time in user-id order, each in time order
 * (ties by track id). Reads `batchSize` rows per query by keyset pagination on
 * (user_id, played_at, track_id); the next page is requested before the current
 * one is unpacked. Flags carry bits 0-3 (FLAG); derived bits are the feature layer's.
 */
export async function* streamHistories(store: Store, options: HistoryOptions = {}): AsyncGenerator<UserHistory> {
  const catalogue = options.catalogue ?? (await loadCatalogue(store));
  const row = rowOf(catalogue);
  const batchSize = options.batchSize ?? 50_000;
  const where: string[] = [];
  const params: unknown[] = [];
  if (options.upTo) where.push(`e.played_at <= $${params.push(options.upTo.toISOString())}::timestamptz`);
  if (options.userIds) where.push(`e.user_id = ANY($${params.push([...options.userIds])}::int[])`);
  const page = (after: EventRow | null): Promise<EventRow[]> => {
    const p = [...params];
    const conds = [...where];
    if (after)
      conds.push(
        `(e.user_id, e.played_at, e.track_id) > ($${p.push(after.user_id)}, $${p.push(new Date(after.ms).toISOString())}::timestamptz, $${p.push(after.track_id)})`,
      );
    return store.sql.query<EventRow>(
      `SELECT e.user_id, e.track_id, ${MS_SQL} AS ms, ${FLAGS_SQL} AS flags
         FROM listening_event e ${conds.length ? `WHERE ${conds.join(" AND ")}` : ""}
        ORDER BY e.user_id, e.played_at, e.track_id LIMIT $${p.push(batchSize)}`,
      p,
    );
  };

  const cols = new Columns();
  let user = -1;
  let name = "";
  let next: Promise<EventRow[]> | null = page(null);
  while (next) {
    const rows: EventRow[] = await next;
    next = rows.length === batchSize ? page(rows[rows.length - 1]) : null;
    next?.catch(() => undefined); // awaited on the next turn; this only marks it handled
    const names = await externalIds(store.sql, rows);
    for (const r of rows) {
      if (r.user_id !== user) {
        if (cols.length) yield cols.take(user, name);
        user = r.user_id;
        name = names.get(user) ?? String(user);
      }
      cols.push(row(r.track_id), r.ms, r.flags);
    }
  }
  if (cols.length) yield cols.take(user, name);
}

/** Number of plays streamHistories would yield: an exact capacity for buildDataset. */
export async function countEvents(store: Store, options: Pick<HistoryOptions, "upTo" | "userIds"> = {}): Promise<number> {
  const [{ n }] = await store.sql.query<{ n: string | number }>(
    `SELECT count(*) AS n FROM listening_event
      WHERE ($1::timestamptz IS NULL OR played_at <= $1::timestamptz) AND ($2::int[] IS NULL OR user_id = ANY($2::int[]))`,
    [options.upTo?.toISOString() ?? null, options.userIds ? [...options.userIds] : null],
  );
  return Number(n);
}

/** External ids of the users in a page of rows. */
async function externalIds(sql: SqlClient, rows: EventRow[]): Promise<Map<number, string>> {
  if (rows.length === 0) return new Map();
  const ids = [...new Set(rows.map((r) => r.user_id))];
  const found = await sql.query<{ id: number; external_id: string }>("SELECT id, external_id FROM app_user WHERE id = ANY($1::int[])", [
    ids,
  ]);
  return new Map(found.map((u) => [u.id, u.external_id]));
}

/** Resolves a user given by internal id (number) or external id (string). */
async function resolveUser(store: Store, user: number | string): Promise<{ id: number; external_id: string } | null> {
  const [row] = await store.sql.query<{ id: number; external_id: string }>(
    typeof user === "number"
      ? "SELECT id, external_id FROM app_user WHERE id = $1"
      : "SELECT id, external_id FROM app_user WHERE external_id = $1",
    [user],
  );
  return row ?? null;
}

/** RAW_COUNTS for one user as of a time, in one aggregate query (same definitions as features/addPlay). */
const COUNTS_SQL = `
  WITH ev AS (
    SELECT e.track_id, e.played_at, e.liked, e.added_to_playlist, e.skipped, e.restarted
      FROM listening_event e WHERE e.user_id = $1 AND ($2::timestamptz IS NULL OR e.played_at <= $2::timestamptz)),
  first_like AS (SELECT track_id, min(played_at) AS at FROM ev WHERE liked GROUP BY track_id)
  SELECT count(*)::int AS plays,
         count(*) FILTER (WHERE ev.liked)::int AS likes,
         count(*) FILTER (WHERE ev.added_to_playlist)::int AS playlist_adds,
         count(*) FILTER (WHERE ev.skipped)::int AS skips,
         count(*) FILTER (WHERE ev.restarted)::int AS restarts,
         count(*) FILTER (WHERE ev.played_at >= f.at)::int AS liked_plays,
         count(*) FILTER (WHERE extract(hour FROM ev.played_at AT TIME ZONE 'UTC') < 6)::int AS daypart_night,
         count(*) FILTER (WHERE extract(hour FROM ev.played_at AT TIME ZONE 'UTC') >= 6
                            AND extract(hour FROM ev.played_at AT TIME ZONE 'UTC') < 12)::int AS daypart_morning,
         count(*) FILTER (WHERE extract(hour FROM ev.played_at AT TIME ZONE 'UTC') >= 12
                            AND extract(hour FROM ev.played_at AT TIME ZONE 'UTC') < 18)::int AS daypart_afternoon,
         count(*) FILTER (WHERE extract(hour FROM ev.played_at AT TIME ZONE 'UTC') >= 18)::int AS daypart_evening
    FROM ev LEFT JOIN first_like f ON f.track_id = ev.track_id`;

/** The last w plays at or before asOf, oldest first, with FLAG.likedTrack from the user's whole history. */
const LAST_SQL = `
  SELECT e.track_id, ${MS_SQL} AS ms,
         ${FLAGS_SQL} + ${FLAG.likedTrack} * (EXISTS (
           SELECT 1 FROM listening_event l
            WHERE l.user_id = e.user_id AND l.track_id = e.track_id AND l.liked AND l.played_at <= e.played_at))::int AS flags
    FROM (SELECT * FROM listening_event
           WHERE user_id = $1 AND ($2::timestamptz IS NULL OR played_at <= $2::timestamptz)
           ORDER BY played_at DESC, track_id DESC LIMIT $3) e
   ORDER BY e.played_at, e.track_id`;

/**
 * One user's serving input: the last w plays at or before asOf (default: all
 * plays) and the slow counts over all of them, without reading the whole
 * history into the process. Null when the user does not exist.
 */
export async function latestHistory(
  store: Store,
  user: number | string,
  w: number,
  asOf?: Date,
  catalogue?: Catalogue,
): Promise<ServingHistory | null> {
  const u = await resolveUser(store, user);
  if (!u) return null;
  const cat = catalogue ?? (await cachedCatalogue(store));
  const row = rowOf(cat);
  const at = asOf ? asOf.toISOString() : null;
  const [plays, [agg]] = await Promise.all([
    store.sql.query<{ track_id: number; ms: number; flags: number }>(LAST_SQL, [u.id, at, w]),
    store.sql.query<Record<string, number>>(COUNTS_SQL, [u.id, at]),
  ]);
  return {
    history: {
      userId: u.id,
      userExternalId: u.external_id,
      trackIndex: Int32Array.from(plays, (p) => row(p.track_id)),
      playedAt: Float64Array.from(plays, (p) => p.ms),
      flags: Uint8Array.from(plays, (p) => p.flags),
    },
    counts: Float64Array.from(RAW_COUNTS, (name) => Number(agg[name])),
  };
}

const catalogues = new WeakMap<Store, { version: number; catalogue: Catalogue }>();

/** The catalogue, reloaded only when the store's catalogue version moved. */
export async function cachedCatalogue(store: Store): Promise<Catalogue> {
  const version = await getCatalogVersion(store.sql);
  const hit = catalogues.get(store);
  if (hit && hit.version === version) return hit.catalogue;
  const catalogue = await loadCatalogue(store);
  catalogues.set(store, { version, catalogue });
  return catalogue;
}
