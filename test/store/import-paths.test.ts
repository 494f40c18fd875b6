import { compileEventRow, eventCsvLine, EVENT_FIELDS, type StagedEvent } from "../../src/store/import/event-rows";
import { parseColumnMap } from "../../src/store/import/columns";
import { importEventsFile } from "../../src/store/import/events";
import { ImportFailed, type BadRow } from "../../src/store/import/report";
import type { SourceRecord } from "../../src/store/import/source";
import { importTracksFile } from "../../src/store/import/tracks";
import { timestampText, ValueError } from "../../src/store/import/values";
import { storeStats } from "../../src/store/stats";
import type { Store } from "../../src/store/store";
import { embeddingOf, relative, writeTemp } from "../helpers/files";
import { backendName, openTestStore } from "../helpers/store";

/** The fast paths of a file import: compiled rows, canonical times, the parsing thread, plain inserts. */

const record = (line: number, values: Record<string, string>): SourceRecord => ({ line, get: (c) => values[c] });

describe("timestampText", () => {
  it("passes canonical UTC times through and normalises the rest as parseTimestamp does", () => {
    expect(timestampText("2026-10-01T10:00:00Z")).toBe("2026-10-01T10:00:00Z");
    expect(timestampText("2026-10-01T10:00:00.123Z")).toBe("2026-10-01T10:00:00.123Z");
    // Not canonical: through a Date, as before (JavaScript rolls Feb 30 over; micros become millis).
    expect(timestampText("2026-02-30T00:00:00Z")).toBe("2026-03-02T00:00:00.000Z");
    expect(timestampText("2026-10-01T10:00:00.123456Z")).toBe("2026-10-01T10:00:00.123Z");
    expect(timestampText("2026-10-01T12:00:00+02:00")).toBe("2026-10-01T10:00:00.000Z");
    expect(timestampText(" 2026-10-01T10:00:00Z ")).toBe("2026-10-01T10:00:00.000Z");
    expect(timestampText("1790000000")).toBe("2026-09-21T14:13:20.000Z");
    expect(() => timestampText("2026-13-01T00:00:00Z")).toThrow(ValueError);
    expect(() => timestampText("yesterday")).toThrow(/unparsable timestamp "yesterday"/);
  });
});

describe("compileEventRow", () => {
  const toRow = compileEventRow(parseColumnMap("liked=rating>=4", EVENT_FIELDS));

  it("writes the same staging line as an EventRow, quoting what CSV needs quoted", () => {
    const row = toRow(
      record(7, { user: " u1 ", track: "t,1", played_at: "2026-10-01T10:00:00Z", rating: "4.5", ms_played: "1200", context: 'say "hi"' }),
    ) as StagedEvent;
    expect(row).toEqual({ line: 7, track: "t,1", csv: expect.any(String) });
    const same = eventCsvLine({
      line: 7,
      user: "u1",
      track: "t,1",
      playedAt: new Date("2026-10-01T10:00:00Z"),
      skipped: false,
      liked: true,
      addedToPlaylist: false,
      restarted: false,
      msPlayed: 1200,
      context: 'say "hi"',
    });
    expect(row.csv.replace("10:00:00Z", "10:00:00.000Z")).toBe(same);
    expect(row.csv).toBe('u1,"t,1",2026-10-01T10:00:00Z,f,t,f,f,1200,"say ""hi"""\n');
  });

  it.each([
    [{ track: "t1", played_at: "2026-10-01T10:00:00Z" }, /^missing column "user" for user; expected columns "user", "track", "played_at"/],
    [{ user: "u1", track: "t1", played_at: "soon" }, /^unparsable timestamp "soon"/],
    [{ user: "u1", track: "t1", played_at: "2026-10-01T10:00:00Z", rating: "lots" }, /^liked: expected a number, got "lots"$/],
    [{ user: "u1", track: "t1", played_at: "2026-10-01T10:00:00Z", skipped: "perhaps" }, /^skipped: expected a boolean/],
    [{ user: "u1", track: "t1", played_at: "2026-10-01T10:00:00Z", ms_played: "-5" }, /^ms_played: expected a non-negative integer/],
  ])("reports what a bad record lacks (%j)", (values, message) => {
    const row = toRow(record(3, values)) as BadRow;
    expect(row.line).toBe(3);
    expect(row.message).toMatch(message);
  });
});

const DIM = 4;

describe(`import paths (${backendName})`, () => {
  let store: Store;
  beforeEach(async () => {
    store = await openTestStore();
    const tracks = ["id,embedding", ...[1, 2, 3].map((i) => `t${i},"${embeddingOf(i, DIM).join(" ")}"`)];
    await importTracksFile(store, writeTemp("paths-tracks.csv", tracks.join("\n") + "\n"), "csv");
  });
  afterEach(() => store.close());

  const eventCount = async () => (await store.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM listening_event"))[0].n;

  it("imports through the parsing thread as without it", async () => {
    const file = writeTemp(
      "thread.csv",
      'user,track,played_at,liked,context\nu1,t1,2026-10-01T10:00:00Z,1,\nu1,t2,1790000000,0,"a,b"\nu2,t3,2026-10-01T10:05:00.5Z,yes,radio\n',
    );
    const report = await importEventsFile(store, file, "csv", { parseInThread: true });
    expect(report).toMatchObject({ rows: 3, inserted: 3, badRows: 0, usersCreated: 2 });
    const events = await store.sql.query<{ user: string; track: string; played_at: Date; liked: boolean; context: string | null }>(
      `SELECT u.external_id AS user, t.external_id AS track, e.played_at, e.liked, e.context
         FROM listening_event e JOIN app_user u ON u.id = e.user_id JOIN track t ON t.id = e.track_id ORDER BY e.played_at`,
    );
    expect(events.map((e) => [e.user, e.track, new Date(e.played_at).toISOString(), e.liked, e.context])).toEqual([
      ["u1", "t2", "2026-09-21T14:13:20.000Z", false, "a,b"],
      ["u1", "t1", "2026-10-01T10:00:00.000Z", true, null],
      ["u2", "t3", "2026-10-01T10:05:00.500Z", true, "radio"],
    ]);
    // Again, through the thread: nothing new.
    expect(await importEventsFile(store, file, "csv", { parseInThread: true })).toMatchObject({ inserted: 0, duplicates: 3 });
    const jsonl = writeTemp("thread.jsonl", '{"user":"u3","track":"t1","played_at":1790000000000,"skipped":true}\n{"user":"u3"}\n');
    const r = await importEventsFile(store, jsonl, "jsonl", { parseInThread: true, skipBadRows: true });
    expect(r).toMatchObject({ rows: 2, inserted: 1, badRows: 1 });
    expect(relative(r.errors[0])).toMatch(/^thread\.jsonl:2: missing column "track" for track/);
  });

  it("fails cleanly on a bad row in the parsing thread: FILE:LINE, rolled back, no thread or table left", async () => {
    const file = writeTemp("thread-bad.csv", "user,track,played_at\nu1,t1,2026-10-01T10:00:00Z\nu1,t1,never\nu2,nope,2026-10-01T10:00:00Z\n");
    const err = (await importEventsFile(store, file, "csv", { parseInThread: true }).catch((e) => e)) as ImportFailed;
    expect(err).toBeInstanceOf(ImportFailed);
    expect(err.errors.map(relative)).toEqual([
      expect.stringMatching(/^thread-bad\.csv:3: unparsable timestamp "never"; expected an ISO 8601 time/),
      'thread-bad.csv:4: unknown track "nope"; expected a track already imported (rubato import tracks) or --create-tracks',
    ]);
    expect(await eventCount()).toBe(0);
    expect(await store.sql.query(`SELECT tablename FROM pg_tables WHERE tablename LIKE 'rubato_import_stage_%'`)).toEqual([]);

    const skipped = await importEventsFile(store, file, "csv", { parseInThread: true, skipBadRows: true });
    expect(skipped).toMatchObject({ rows: 3, inserted: 1, badRows: 2 });
  });

  it("stops reading at maxErrors in the parsing thread", async () => {
    const rows = Array.from({ length: 50 }, (_, i) => `u${i},t1,bad${i}`);
    const file = writeTemp("thread-many-bad.csv", `user,track,played_at\n${rows.join("\n")}\n`);
    const err = (await importEventsFile(store, file, "csv", { parseInThread: true, maxErrors: 3 }).catch((e) => e)) as ImportFailed;
    expect(err.badRows).toBe(3);
    expect(err.message).toMatch(/3 bad rows \(stopped reading after these\)/);
  });

  it("reports a file the parsing thread cannot read", async () => {
    const err = (await importEventsFile(store, "/nonexistent/plays.csv", "csv", { parseInThread: true }).catch((e) => e)) as Error;
    expect(err.message).toMatch(/^\/nonexistent\/plays\.csv: .*ENOENT/);
  });

  it("counts a later batch's duplicates after earlier batches went in without ON CONFLICT", async () => {
    const first = writeTemp("first.csv", "user,track,played_at\nu1,t1,2026-10-01T10:00:00Z\nu1,t2,2026-10-01T10:01:00Z\n");
    await importEventsFile(store, first, "csv");
    // Batches of 2: the first is new, the second repeats a stored play and one of its own.
    const second = writeTemp(
      "second.csv",
      "user,track,played_at\nu2,t1,2026-10-01T11:00:00Z\nu2,t2,2026-10-01T11:01:00Z\nu1,t2,2026-10-01T10:01:00Z\nu3,t3,2026-10-01T12:00:00Z\nu3,t3,2026-10-01T12:00:00Z\n",
    );
    const report = await importEventsFile(store, second, "csv", { batchSize: 2 });
    expect(report).toMatchObject({ rows: 5, inserted: 3, duplicates: 2, usersCreated: 2 });
    expect(await eventCount()).toBe(5);
    expect((await storeStats(store)).events).toBe(5);
  });
});
