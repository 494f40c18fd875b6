/** Table `track`: the catalogue's metadata (embeddings: history.ts, nearest.ts, track-embeddings.ts). */
import type { Store } from "./store";

/** A track's descriptive columns, by external id. */
export interface TrackMetadata {
  externalId: string;
  title: string | null;
  artist: string | null;
  genre: string | null;
}

/**
 * Every track's metadata. Raw SQL, not Prisma: serving reads the whole catalogue
 * (100,000 tracks and more) at once when it first resolves neighbours, on a
 * request's path, where Prisma's per-row mapping costs several times the query.
 */
export async function allTrackMetadata(store: Store): Promise<TrackMetadata[]> {
  const rows = await store.sql.query<{ external_id: string; title: string | null; artist: string | null; genre: string | null }>(
    "SELECT external_id, title, artist, genre FROM track",
  );
  return rows.map((r) => ({ externalId: r.external_id, title: r.title, artist: r.artist, genre: r.genre }));
}
