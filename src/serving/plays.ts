/**
 * recordPlays: listening events appended one batch at a time, validated
 * first. One bad play rejects the batch and nothing is written; users are
 * created on first sight; a play already stored (same user, time and track,
 * the table's key) is a duplicate, never written twice; the event counters
 * /health reads move in the same transaction.
 */
import { BadUserInput } from "../errors";
import { appendPlays, knownTrackIds } from "../store/plays";
import { MAX_ID_BYTES, parseTimestamp, show, ValueError } from "../store/import/values";
import type { Store } from "../store/store";
import { testPause } from "../test-hooks";

export interface PlayInput {
  userId: string;
  trackId: string;
  playedAt: Date | string;
  skipped?: boolean | null;
  liked?: boolean | null;
  addedToPlaylist?: boolean | null;
  restarted?: boolean | null;
}

export interface RecordPlaysResult {
  /** Plays written. */
  recorded: number;
  /** Plays already stored (or repeated within the batch): not written again. */
  duplicates: number;
  usersCreated: number;
}

export interface BadPlay {
  index: number;
  field: string;
  reason: string;
}

/** Plays in one call: a client's buffer of plays, not a bulk import (rubato import events is for that). */
export const MAX_PLAYS_PER_CALL = 10_000;
/** Ids are indexed: longer ones than this (UTF-8 bytes) are refused here, not by the database's index (about 2.7 kB); imports share the limit. */
export { MAX_ID_BYTES };
/** A play stamped further ahead of the server's clock than this is a clock error, not a play. */
const FUTURE_SLACK_MS = 24 * 3600_000;
/** Plays before the Unix epoch are clock errors too. */
const EARLIEST_PLAY_MS = 0;
const FLAGS = ["skipped", "liked", "addedToPlaylist", "restarted"] as const;

interface Play {
  user: string;
  track: string;
  playedAt: Date;
  flags: boolean[];
}

/** What was written, for the caches: the users the batch touched and the event counter after it. */
export interface Written extends RecordPlaysResult {
  users: string[];
  /** The event counter as the writing transaction left it (null when nothing was written). */
  eventCount: number | null;
}

export async function recordPlays(store: Store, plays: readonly PlayInput[]): Promise<Written> {
  if (!Array.isArray(plays)) throw new BadUserInput("plays: expected a list of plays");
  if (plays.length > MAX_PLAYS_PER_CALL) {
    throw new BadUserInput(`${plays.length} plays in one call; at most ${MAX_PLAYS_PER_CALL} (use rubato import events for bulk loads)`, {
      field: "plays",
      max: MAX_PLAYS_PER_CALL,
    });
  }
  if (plays.length === 0) return { recorded: 0, duplicates: 0, usersCreated: 0, users: [], eventCount: null };
  const bad: BadPlay[] = [];
  const valid = plays.map((p, index) => checkPlay(p, index, bad));
  // Every well-formed track id is checked, also in a play that is bad for another reason.
  const trackIds = plays.map((p) => (p && typeof p.trackId === "string" && p.trackId.trim() ? p.trackId.trim() : null));
  const known = await knownTrackIds(
    store,
    trackIds.filter((t) => t !== null),
  );
  trackIds.forEach((track, index) => {
    if (track !== null && !known.has(track))
      bad.push({ index, field: "trackId", reason: `unknown track ${show(track)}; import it first (rubato import tracks)` });
  });
  if (bad.length) throw rejection(bad);
  const ok = valid as Play[];
  await testPause("record-plays");
  const written = await appendPlays(
    store,
    ok.map((p) => ({
      user: p.user,
      track: p.track,
      playedAt: p.playedAt,
      skipped: p.flags[0],
      liked: p.flags[1],
      addedToPlaylist: p.flags[2],
      restarted: p.flags[3],
    })),
  );
  const users = [...new Set(ok.map((p) => p.user))];
  return {
    recorded: written.inserted,
    duplicates: plays.length - written.inserted,
    usersCreated: written.usersCreated,
    users,
    eventCount: written.eventCount,
  };
}

/** The play as it will be written, or null (with the reasons pushed to `bad`). */
function checkPlay(p: PlayInput, index: number, bad: BadPlay[]): Play | null {
  const before = bad.length;
  const fail = (field: string, reason: string) => bad.push({ index, field, reason });
  if (p === null || typeof p !== "object") {
    fail("play", "expected an object with userId, trackId and playedAt");
    return null;
  }
  const id = (field: "userId" | "trackId"): string => {
    const v = p[field];
    if (typeof v === "string" && v.trim() !== "") {
      const bytes = Buffer.byteLength(v.trim(), "utf8");
      if (bytes <= MAX_ID_BYTES) return v.trim();
      fail(field, `an id of ${bytes.toLocaleString("en")} bytes; at most ${MAX_ID_BYTES.toLocaleString("en")} (UTF-8)`);
      return "";
    }
    fail(
      field,
      v === undefined || v === null || v === "" ? "missing; expected a non-empty id" : `expected a non-empty string id, got ${show(v)}`,
    );
    return "";
  };
  const user = id("userId");
  const track = id("trackId");
  let playedAt: Date | null = null;
  if (p.playedAt instanceof Date) {
    if (Number.isNaN(p.playedAt.getTime())) fail("playedAt", "an invalid date");
    else playedAt = p.playedAt;
  } else if (p.playedAt === undefined || p.playedAt === null) {
    fail("playedAt", "missing; expected an ISO 8601 time such as 2026-10-01T12:00:00Z");
  } else {
    try {
      playedAt = parseTimestamp(p.playedAt);
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      fail("playedAt", err.message);
    }
  }
  if (playedAt && playedAt.getTime() > Date.now() + FUTURE_SLACK_MS)
    fail("playedAt", `${playedAt.toISOString()} is in the future (more than 24 h ahead of the server's clock)`);
  else if (playedAt && playedAt.getTime() < EARLIEST_PLAY_MS)
    fail("playedAt", `${playedAt.toISOString()} is before 1970: a clock error, not a play (and year 0 is no date to the database)`);
  const flags = FLAGS.map((name) => {
    const v = p[name];
    if (v === undefined || v === null) return false;
    if (typeof v === "boolean") return v;
    fail(name, `expected true, false or null, got ${show(v)}`);
    return false;
  });
  return bad.length > before ? null : { user, track, playedAt: playedAt!, flags };
}

function rejection(bad: BadPlay[]): BadUserInput {
  bad.sort((a, b) => a.index - b.index); // stable: a play's own order of fields is kept
  const first = bad[0];
  const others = new Set(bad.map((b) => b.index)).size - 1;
  const more = others > 0 ? ` (and ${others} more bad play${others > 1 ? "s" : ""})` : "";
  return new BadUserInput(`play ${first.index}: ${first.field}: ${first.reason}${more}; nothing was written`, {
    ...first,
    errors: bad.slice(0, 20),
  });
}
