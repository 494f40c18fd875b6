import { importEventsFile, STAGE_LOCK_CLASS } from "../../src/store/import/events";
import { importTracksFile } from "../../src/store/import/tracks";
import { ImportFailed } from "../../src/store/import/report";
import { storeStats } from "../../src/store/stats";
import type { Store } from "../../src/store/store";
import { openTestStore, backendName } from "../helpers/store";
import { embeddingOf, relative, writeTemp } from "../helpers/files";

const DIM = 4;

async function counts(store: Store) {
  const [r] = await store.sql.query<{ users: number; tracks: number; events: number }>(
    `SELECT (SELECT count(*)::int FROM app_user) AS users, (SELECT count(*)::int FROM track) AS tracks,
            (SELECT count(*)::int FROM listening_event) AS events`,
  );
  return r;
}

function tracksCsv(n: number): string {
  const lines = ["id,title,genre,embedding"];
  for (let i = 1; i <= n; i++) lines.push(`t${i},Song ${i},g${i % 3},"${embeddingOf(i, DIM).join(" ")}"`);
  return lines.join("\n") + "\n";
}

describe(`import (${backendName})`, () => {
  let store: Store;
  beforeEach(async () => {
    store = await openTestStore();
    await importTracksFile(store, writeTemp("tracks.csv", tracksCsv(5)), "csv");
  });
  afterEach(() => store.close());

  it("round-trips tracks and events in CSV, TSV and JSONL", async () => {
    const t = await store.prisma.track.findUnique({ where: { externalId: "t2" } });
    expect(t).toMatchObject({ title: "Song 2", genre: "g2" });
    expect(t!.embedding).toHaveLength(DIM);
    t!.embedding.forEach((v, j) => expect(v).toBeCloseTo(embeddingOf(2, DIM)[j], 5));

    const csv = writeTemp(
      "e.csv",
      "user,track,played_at,skipped,liked\nu1,t1,2026-10-01T10:00:00Z,0,1\nu1,t2,2026-10-01T10:03:00Z,true,false\n",
    );
    const tsv = writeTemp("e.tsv", "user\ttrack\tplayed_at\tms_played\nu2\tt3\t1790000000\t1234\n");
    const jsonl = writeTemp("e.jsonl", '{"user":"u2","track":"t4","played_at":1790000100000,"restarted":true,"context":"radio"}\n');
    expect((await importEventsFile(store, csv, "csv")).inserted).toBe(2);
    expect((await importEventsFile(store, tsv, "tsv")).inserted).toBe(1);
    const r = await importEventsFile(store, jsonl, "jsonl");
    expect(r).toMatchObject({ inserted: 1, usersCreated: 0, badRows: 0 });

    const events = await store.prisma.listeningEvent.findMany({
      include: { user: true, track: true },
      orderBy: [{ user: { externalId: "asc" } }, { playedAt: "asc" }],
    });
    expect(events.map((e) => [e.user.externalId, e.track.externalId])).toEqual([
      ["u1", "t1"],
      ["u1", "t2"],
      ["u2", "t3"],
      ["u2", "t4"],
    ]);
    expect(events[0]).toMatchObject({ liked: true, skipped: false });
    expect(events[1]).toMatchObject({ liked: false, skipped: true });
    expect(events[2].playedAt.toISOString()).toBe("2026-09-21T14:13:20.000Z");
    expect(events[2].msPlayed).toBe(1234);
    expect(events[3]).toMatchObject({ restarted: true, context: "radio" });
    expect(await counts(store)).toEqual({ users: 2, tracks: 5, events: 4 });
  });

  it("maps columns with --map, including a comparison for a boolean", async () => {
    const file = writeTemp("ratings.csv", "userId,movieId,rating,timestamp\n1,t1,4.0,964982703\n1,t2,3.5,964982931\n");
    await importEventsFile(store, file, "csv", { map: "user=userId,track=movieId,played_at=timestamp,liked=rating>=4" });
    const events = await store.prisma.listeningEvent.findMany({ orderBy: { playedAt: "asc" } });
    expect(events.map((e) => e.liked)).toEqual([true, false]);
  });

  it("does not duplicate events when the same file is imported again", async () => {
    const file = writeTemp(
      "again.csv",
      "user,track,played_at\nu1,t1,2026-10-01T10:00:00Z\nu1,t1,2026-10-01T10:00:00Z\nu1,t2,2026-10-01T10:05:00Z\n",
    );
    const first = await importEventsFile(store, file, "csv");
    expect(first).toMatchObject({ rows: 3, inserted: 2, duplicates: 1 });
    const second = await importEventsFile(store, file, "csv");
    expect(second).toMatchObject({ rows: 3, inserted: 0, duplicates: 3, usersCreated: 0 });
    expect((await counts(store)).events).toBe(2);
    // The maintained counters (read by /health and status) agree with a full count.
    const stats = await storeStats(store);
    expect(stats).toMatchObject({ events: 2, firstPlay: new Date("2026-10-01T10:00:00Z"), lastPlay: new Date("2026-10-01T10:05:00Z") });
  });

  const badCases: [string, string, RegExp][] = [
    [
      "unknown track",
      "u9,nope,2026-10-01T10:00:00Z,0",
      /^bad\.csv:3: unknown track "nope"; expected a track already imported \(rubato import tracks\) or --create-tracks$/,
    ],
    [
      "unparsable timestamp",
      "u9,t1,yesterday,0",
      /^bad\.csv:3: unparsable timestamp "yesterday"; expected an ISO 8601 time .* or Unix seconds\/milliseconds$/,
    ],
    [
      "bad boolean",
      "u9,t1,2026-10-01T10:00:00Z,maybe",
      /^bad\.csv:3: skipped: expected a boolean \(true\/false, 1\/0, yes\/no\), got "maybe"$/,
    ],
    ["short record", "u9,t1,2026-10-01T10:00:00Z", /^bad\.csv:3: has 3 fields; expected 4 as in the header$/],
    ["missing user", ",t1,2026-10-01T10:00:00Z,0", /^bad\.csv:3: missing user id; expected a non-empty string$/],
  ];
  it.each(badCases)("reports a bad row (%s) as FILE:LINE and rolls everything back", async (_name, row, message) => {
    const before = await counts(store);
    const file = writeTemp("bad.csv", `user,track,played_at,skipped\nu8,t1,2026-10-01T09:00:00Z,0\n${row}\n`);
    const err = await importEventsFile(store, file, "csv").catch((e) => e);
    expect(err).toBeInstanceOf(ImportFailed);
    expect((err as ImportFailed).errors).toHaveLength(1);
    expect((await storeStats(store)).events).toBe(before.events);
    // No staging table outlives the import.
    const stages = await store.sql.query(`SELECT tablename FROM pg_tables WHERE tablename LIKE 'rubato_import_stage_%'`);
    expect(stages).toEqual([]);
    expect(relative((err as ImportFailed).errors[0])).toMatch(message);
    expect(await counts(store)).toEqual(before);
  });

  it("reports a missing column with the columns it expected", async () => {
    const file = writeTemp("nocol.csv", "user,song,played_at\nu1,t1,2026-10-01T10:00:00Z\n");
    const err = (await importEventsFile(store, file, "csv").catch((e) => e)) as ImportFailed;
    expect(err.errors[0]).toMatch(
      /nocol\.csv:2: missing column "track" for track; expected columns "user", "track", "played_at" \(map others with --map track=COLUMN\)/,
    );
  });

  it("reports a wrong embedding length and leaves the catalogue as it was", async () => {
    const before = await counts(store);
    const file = writeTemp("badtracks.csv", `id,embedding\nt100,"1 2 3 4"\nt101,"1 2 3"\n`);
    const err = (await importTracksFile(store, file, "csv").catch((e) => e)) as ImportFailed;
    expect(err).toBeInstanceOf(ImportFailed);
    expect(err.errors[0]).toMatch(/badtracks\.csv:3: embedding has 3 values; expected 4 \(the catalogue's dimension\)$/);
    expect(await counts(store)).toEqual(before);
  });

  it("with --skip-bad-rows imports the good rows and counts the bad ones", async () => {
    const file = writeTemp(
      "mixed.csv",
      "user,track,played_at\nu1,t1,2026-10-01T10:00:00Z\nu1,zzz,2026-10-01T10:01:00Z\nu1,t2,later\nu2,t3,2026-10-01T10:02:00Z\n",
    );
    const r = await importEventsFile(store, file, "csv", { skipBadRows: true });
    expect(r).toMatchObject({ rows: 4, inserted: 2, badRows: 2, usersCreated: 2 });
    expect(r.errors).toHaveLength(2);
    expect((await counts(store)).events).toBe(2);
  });

  it("creates unknown tracks without an embedding with --create-tracks", async () => {
    const file = writeTemp("new.csv", "user,track,played_at\nu1,brand-new,2026-10-01T10:00:00Z\n");
    const r = await importEventsFile(store, file, "csv", { createTracks: true });
    expect(r).toMatchObject({ inserted: 1, tracksCreated: 1 });
    const t = await store.prisma.track.findUnique({ where: { externalId: "brand-new" } });
    expect(t!.embedding).toEqual([]);
  });

  it("reports malformed JSON lines with their line numbers", async () => {
    const file = writeTemp("broken.jsonl", '{"user":"u1","track":"t1","played_at":"2026-10-01T10:00:00Z"}\n{"user": \n');
    const err = (await importEventsFile(store, file, "jsonl").catch((e) => e)) as ImportFailed;
    expect(err.errors[0]).toMatch(/broken\.jsonl:2: not valid JSON .*; expected one JSON object per line$/);
    expect((await counts(store)).events).toBe(0);
  });
});

// Staging tables exist only on a server (PGlite stages in one temporary table), so this runs in the server pass.
if (backendName === "postgres") {
  describe("import staging tables (postgres)", () => {
    let store: Store;
    beforeEach(async () => {
      store = await openTestStore();
      await importTracksFile(store, writeTemp("tracks.csv", tracksCsv(2)), "csv");
    });
    afterEach(() => store.close());

    const stages = async () =>
      (
        await store.sql.query<{ tablename: string }>(
          `SELECT tablename FROM pg_tables WHERE tablename LIKE 'rubato_import_stage_%' ORDER BY tablename`,
        )
      ).map((r) => r.tablename);

    it("drops the tables of an import that died, and keeps those of one still running", async () => {
      for (const t of ["rubato_import_stage_deadbeef_1", "rubato_import_stage_deadbeef_2", "rubato_import_stage_0badf00d_1"])
        await store.sql.query(`CREATE UNLOGGED TABLE ${t} (x int)`);
      const file = writeTemp("e.csv", "user,track,played_at,skipped\nu1,t1,2026-10-01T10:00:00Z,0\n");
      // 0badf00d's import is alive: its transaction holds the lock on its prefix.
      await store.transaction(async (tx) => {
        await tx.query("SELECT pg_advisory_xact_lock($1, $2)", [STAGE_LOCK_CLASS, 0x0badf00d]);
        const report = await importEventsFile(store, file, "csv");
        expect(report.inserted).toBe(1);
      });
      expect(await stages()).toEqual(["rubato_import_stage_0badf00d_1"]);
      // Once its lock is gone, the next import sweeps it too.
      await importEventsFile(store, file, "csv");
      expect(await stages()).toEqual([]);
    });
  });
}
