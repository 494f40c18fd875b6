import type { Store } from "./store";
import { getEmbeddingDim, getEventStats, HAS_EMBEDDING } from "./catalog";

export interface StoreStats {
  backend: string;
  location: string;
  users: number;
  tracks: number;
  /** Tracks with a usable embedding: a stored zero vector counts as none. */
  tracksWithEmbedding: number;
  events: number;
  embeddingDim: number | null;
  firstPlay: Date | null;
  lastPlay: Date | null;
}

export async function storeStats(store: Store): Promise<StoreStats> {
  // Users and tracks are small tables; events are counted as they are written (see getEventStats).
  const [row] = await store.sql.query<{ users: number; tracks: number; embedded: number }>(
    `SELECT (SELECT count(*)::int FROM app_user) AS users,
            (SELECT count(*)::int FROM track) AS tracks,
            (SELECT count(*)::int FROM track WHERE ${HAS_EMBEDDING}) AS embedded`,
  );
  const events = await getEventStats(store.sql);
  return {
    backend: store.backend,
    location: store.location,
    users: row.users,
    tracks: row.tracks,
    tracksWithEmbedding: row.embedded,
    events: events.count,
    embeddingDim: await getEmbeddingDim(store),
    firstPlay: events.first,
    lastPlay: events.last,
  };
}
