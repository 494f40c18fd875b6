/** Table `listening_event`: plays appended by the API (imports load them in bulk, src/store/import/). */
import { addEventStats, getEventStats, HAS_EMBEDDING } from "./catalog";
import type { Store } from "./store";

/** A play to append: the user's and the track's external ids, its time, and its four flags. */
export interface NewPlay {
  user: string;
  track: string;
  playedAt: Date;
  skipped: boolean;
  liked: boolean;
  addedToPlaylist: boolean;
  restarted: boolean;
}

/** The external ids among `ids` that name a track. */
export async function knownTrackIds(store: Store, ids: readonly string[]): Promise<Set<string>> {
  const rows = await store.prisma.track.findMany({ where: { externalId: { in: [...new Set(ids)] } }, select: { externalId: true } });
  return new Set(rows.map((r) => r.externalId));
}

/**
 * Appends plays in one transaction: users created on first sight, a play already
 * stored (same user, time and track: the key) skipped, and the event counters
 * (catalog.ts addEventStats) moved by what was written. Every track must exist
 * (knownTrackIds): a play of an unknown track is not written.
 *
 * Raw SQL: one statement merges the whole batch through unnest and joins (no
 * round trip per play), with ON CONFLICT DO NOTHING ... RETURNING to tell new plays
 * from duplicates, and the counters move in the same transaction.
 */
export async function appendPlays(
  store: Store,
  plays: readonly NewPlay[],
): Promise<{ inserted: number; usersCreated: number; eventCount: number | null }> {
  return store.transaction(async (tx) => {
    const usersCreated = await tx.execute(
      `INSERT INTO app_user (external_id) SELECT DISTINCT unnest($1::text[]) ON CONFLICT (external_id) DO NOTHING`,
      [[...new Set(plays.map((p) => p.user))]],
    );
    const inserted = await tx.query<{ played_at: Date | string }>(
      `INSERT INTO listening_event (user_id, track_id, played_at, skipped, liked, added_to_playlist, restarted)
       SELECT u.id, t.id, p.played_at, p.skipped, p.liked, p.added_to_playlist, p.restarted
         FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bool[], $5::bool[], $6::bool[], $7::bool[])
              AS p(user_ext, track_ext, played_at, skipped, liked, added_to_playlist, restarted)
         JOIN app_user u ON u.external_id = p.user_ext
         JOIN track t ON t.external_id = p.track_ext
        ORDER BY u.id, p.played_at, t.id
       ON CONFLICT ON CONSTRAINT listening_event_pkey DO NOTHING
       RETURNING played_at`,
      [
        plays.map((p) => p.user),
        plays.map((p) => p.track),
        plays.map((p) => p.playedAt.toISOString()),
        plays.map((p) => p.skipped),
        plays.map((p) => p.liked),
        plays.map((p) => p.addedToPlaylist),
        plays.map((p) => p.restarted),
      ],
    );
    let eventCount: number | null = null;
    if (inserted.length) {
      const times = inserted.map((r) => new Date(r.played_at).getTime());
      // The inserted range as a two-row table (ISO strings we produced, safe to inline).
      const range = [Math.min(...times), Math.max(...times)].map((t) => `('${new Date(t).toISOString()}'::timestamptz)`).join(", ");
      await addEventStats(tx, inserted.length, `(VALUES ${range}) AS s(played_at)`);
      eventCount = (await getEventStats(tx)).count;
    }
    return { inserted: inserted.length, usersCreated, eventCount };
  });
}

/** Whether any play is stored. */
export async function hasPlays(store: Store): Promise<boolean> {
  return (await store.prisma.listeningEvent.findFirst({ select: { userId: true } })) !== null;
}

/**
 * What a run trains on: the newest play's time (the run's data cut-off; null when
 * there are no plays) and the number of tracks with an embedding. Raw SQL: "has an
 * embedding" is a non-zero vector (catalog.ts HAS_EMBEDDING), which Prisma's filters cannot say.
 */
export async function trainingData(store: Store): Promise<{ cutoff: Date | null; tracks: number }> {
  const [row] = await store.sql.query<{ cutoff: Date | string | null; tracks: number }>(
    `SELECT (SELECT max(played_at) FROM listening_event) AS cutoff,
            (SELECT count(*)::int FROM track WHERE ${HAS_EMBEDDING}) AS tracks`,
  );
  return { cutoff: row.cutoff === null ? null : new Date(row.cutoff), tracks: row.tracks };
}
