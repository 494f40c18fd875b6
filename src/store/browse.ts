/**
 * Reads of the catalogue (table `track`) and the listeners (`app_user`), by external
 * id: what the API lists and looks up. Through Prisma, but a user's recent plays
 * (a lateral join with a count: raw SQL).
 */
import { BadUserInput, NotFound } from "../errors";
import { MAX_PAGE, decodeCursor, pageSize, toPage, type Page, type PageArgs } from "./page";
import type { Store } from "./store";

export interface TrackView {
  id: string;
  title: string | null;
  artist: string | null;
  genre: string | null;
  embedding: number[] | null;
}

export interface UserView {
  id: string;
  createdAt: Date;
}

export interface PlayView {
  userId: string;
  trackId: string;
  playedAt: Date;
  skipped: boolean;
  liked: boolean;
  addedToPlaylist: boolean;
  restarted: boolean;
}

/** The columns of a track the API shows (Prisma select). */
const TRACK = { id: true, externalId: true, title: true, artist: true, genre: true, embedding: true } as const;
type TrackRow = { id: number; externalId: string; title: string | null; artist: string | null; genre: string | null; embedding: number[] | null };
const trackView = (r: TrackRow): TrackView => ({
  id: r.externalId,
  title: r.title,
  artist: r.artist,
  genre: r.genre,
  // A zero vector (or none: NULL, or an empty list) is no embedding, as everywhere else (loadCatalogue).
  embedding: r.embedding && r.embedding.some((x) => Number(x) !== 0) ? r.embedding.map(Number) : null,
});

export async function pageTracks(store: Store, args: PageArgs): Promise<Page<TrackView>> {
  const first = pageSize(args.first);
  const [after] = args.after ? decodeCursor("track", args.after, ["id"]) : [0];
  const rows = await store.prisma.track.findMany({ where: { id: { gt: Number(after) } }, orderBy: { id: "asc" }, take: first + 1, select: TRACK });
  return toPage("track", rows, first, (r) => [r.id], trackView);
}

/** Tracks by external id, in the order asked (null where unknown): one query for many (the API batches with it). */
export async function tracksByIds(store: Store, ids: readonly string[]): Promise<(TrackView | null)[]> {
  const rows = await store.prisma.track.findMany({ where: { externalId: { in: [...new Set(ids)] } }, select: TRACK });
  const byId = new Map(rows.map((r) => [r.externalId, trackView(r)]));
  return ids.map((id) => byId.get(id) ?? null);
}

export async function getTrack(store: Store, id: string): Promise<TrackView> {
  const [track] = await tracksByIds(store, [id]);
  if (!track) throw new NotFound(`no track ${JSON.stringify(id)}`);
  return track;
}

const USER = { id: true, externalId: true, createdAt: true } as const;
const userView = (r: { externalId: string; createdAt: Date }): UserView => ({ id: r.externalId, createdAt: r.createdAt });

export async function pageUsers(store: Store, args: PageArgs): Promise<Page<UserView>> {
  const first = pageSize(args.first);
  const [after] = args.after ? decodeCursor("user", args.after, ["id"]) : [0];
  const rows = await store.prisma.user.findMany({ where: { id: { gt: Number(after) } }, orderBy: { id: "asc" }, take: first + 1, select: USER });
  return toPage("user", rows, first, (r) => [r.id], userView);
}

export async function getUser(store: Store, id: string): Promise<UserView> {
  const row = await store.prisma.user.findUnique({ where: { externalId: id }, select: USER });
  if (!row) throw new NotFound(`no user ${JSON.stringify(id)}`);
  return userView(row);
}

/** A user's newest plays first, with the count of all their plays. */
export async function recentPlays(store: Store, userId: string, limit: number): Promise<{ total: number; plays: PlayView[] }> {
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_PAGE)
    throw new BadUserInput(`first: expected an integer from 0 to ${MAX_PAGE}, got ${limit}`);
  const rows = await store.sql.query<{
    track_id: string;
    played_at: Date | string;
    skipped: boolean;
    liked: boolean;
    added_to_playlist: boolean;
    restarted: boolean;
    total: number;
  }>(
    `SELECT t.external_id AS track_id, e.played_at, e.skipped, e.liked, e.added_to_playlist, e.restarted,
            (SELECT count(*)::int FROM listening_event c WHERE c.user_id = u.id) AS total
       FROM app_user u
       LEFT JOIN LATERAL (SELECT * FROM listening_event l WHERE l.user_id = u.id ORDER BY l.played_at DESC, l.track_id DESC LIMIT $2) e ON true
       LEFT JOIN track t ON t.id = e.track_id
      WHERE u.external_id = $1
      ORDER BY e.played_at DESC, e.track_id DESC`,
    [userId, limit],
  );
  if (!rows.length) throw new NotFound(`no user ${JSON.stringify(userId)}`);
  return {
    total: rows[0].total,
    plays: rows
      .filter((r) => r.played_at !== null)
      .map((r) => ({
        userId,
        trackId: r.track_id,
        playedAt: new Date(r.played_at),
        skipped: r.skipped,
        liked: r.liked,
        addedToPlaylist: r.added_to_playlist,
        restarted: r.restarted,
      })),
  };
}
