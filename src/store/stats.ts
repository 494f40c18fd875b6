import type { Store } from "./store";
import { getEmbeddingDim } from "./catalog";

export interface StoreStats {
  backend: string;
  location: string;
  vectorSearch: "hnsw" | "exact";
  users: number;
  tracks: number;
  tracksWithEmbedding: number;
  events: number;
  embeddingDim: number | null;
  firstPlay: Date | null;
  lastPlay: Date | null;
}

export async function storeStats(store: Store): Promise<StoreStats> {
  const [row] = await store.sql.query<{
    users: number;
    tracks: number;
    embedded: number;
    events: number;
    first_play: Date | string | null;
    last_play: Date | string | null;
  }>(`SELECT (SELECT count(*)::int FROM app_user) AS users,
             (SELECT count(*)::int FROM track) AS tracks,
             (SELECT count(*)::int FROM track WHERE cardinality(embedding) > 0) AS embedded,
             (SELECT count(*)::int FROM listening_event) AS events,
             (SELECT min(played_at) FROM listening_event) AS first_play,
             (SELECT max(played_at) FROM listening_event) AS last_play`);
  const date = (v: Date | string | null) => (v === null ? null : new Date(v));
  return {
    backend: store.backend,
    location: store.location,
    vectorSearch: store.hasVector ? "hnsw" : "exact",
    users: row.users,
    tracks: row.tracks,
    tracksWithEmbedding: row.embedded,
    events: row.events,
    embeddingDim: await getEmbeddingDim(store.sql),
    firstPlay: date(row.first_play),
    lastPlay: date(row.last_play),
  };
}
