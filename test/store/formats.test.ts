import fs from "node:fs";
import path from "node:path";
import { importEvents, importTracks } from "../../src/store/import/formats";
import { MSSD_FEATURES } from "../../src/store/import/formats/mssd-tracks";
import { ImportFailed } from "../../src/store/import/report";
import { getEmbeddingDim } from "../../src/store/catalog";
import { storeStats } from "../../src/store/stats";
import type { Store } from "../../src/store/store";
import { openTestStore, backendName } from "../helpers/store";
import { itWithShared, sharedFile } from "../helpers/shared";

const fixture = (relative: string) => path.resolve(__dirname, "../fixtures", relative);

/** Each user's plays in playedAt order, with the track's external id and the flags. */
async function plays(store: Store) {
  const rows = await store.sql.query<{
    user: string;
    track: string;
    played_at: Date;
    skipped: boolean;
    liked: boolean;
    restarted: boolean;
    context: string | null;
  }>(
    `SELECT u.external_id AS user, t.external_id AS track, e.played_at, e.skipped, e.liked, e.restarted, e.context
       FROM listening_event e JOIN app_user u ON u.id = e.user_id JOIN track t ON t.id = e.track_id
      ORDER BY u.external_id, e.played_at`,
  );
  const byUser = new Map<string, typeof rows>();
  for (const r of rows) byUser.set(r.user, [...(byUser.get(r.user) ?? []), r]);
  return byUser;
}

async function empty(store: Store): Promise<void> {
  await store.sql.query("TRUNCATE listening_event, app_user, track CASCADE");
  await store.sql.query("DELETE FROM setting WHERE key IN ('embedding_dim', 'catalog_version', 'event_stats')");
}

async function withoutEmbedding(store: Store): Promise<number> {
  const [r] = await store.sql.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM track WHERE embedding IS NULL OR cardinality(embedding) = 0",
  );
  return r.n;
}

async function failure(promise: Promise<unknown>): Promise<ImportFailed> {
  const err = await promise.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ImportFailed);
  return err as ImportFailed;
}

describe(`import formats (${backendName})`, () => {
  // One store for the file, emptied before each test (cheaper than a fresh store each time).
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
  });
  beforeEach(() => empty(store));
  afterAll(() => store.close());

  describe("lastfm1k", () => {
    const file = fixture("lastfm1k/userid-timestamp-artid-artname-traid-traname.tsv");

    it("imports plays, creates tracks with title and artist, keys a track without id by artist and name", async () => {
      // Small batches: track details must survive the batch boundaries.
      const report = await importEvents(store, file, { format: "lastfm1k", batchSize: 5 });
      expect(report).toMatchObject({ rows: 12, inserted: 12, usersCreated: 2, tracksCreated: 10, badRows: 0 });

      const byUser = await plays(store);
      // The file lists each user's plays newest first; the store orders them by time.
      expect(byUser.get("user_000001")!.map((p) => p.track)).toEqual([
        "7b5d3a1e-4f63-4a5b-8f5e-6b8a2d9c4e11",
        "e0dcd6f0-0d08-4ab4-8f6b-2a0c2ec7d6c3",
        "121cb9e8-ba48-4bba-b3ed-2a4f5e5b6f1d",
        "坂本龍一 — Hibari (Live_2009_4_15)",
        "坂本龍一 — Mc2 (Live_2009_4_15)",
        "坂本龍一 — Composition 0919 (Live_2009_4_15)",
        "Deep Dish — Fuck Me Im Famous (Pacha Ibiza)-09-28-2007",
      ]);
      expect(byUser.get("user_000001")!.at(-1)!.played_at.toISOString()).toBe("2009-05-04T23:08:57.000Z");

      // The same artist and name under two artist ids is one track.
      const deepDish = byUser.get("user_000002")!.find((p) => p.track.startsWith("Deep Dish"));
      expect(deepDish?.track).toBe("Deep Dish — Fuck Me Im Famous (Pacha Ibiza)-09-28-2007");

      const crosby = await store.prisma.track.findUnique({ where: { externalId: "Crosby, Stills & Nash — Helplessly Hoping" } });
      expect(crosby).toMatchObject({ title: "Helplessly Hoping", artist: "Crosby, Stills & Nash" });
      const crocodile = await store.prisma.track.findUnique({ where: { externalId: "121cb9e8-ba48-4bba-b3ed-2a4f5e5b6f1d" } });
      expect(crocodile).toMatchObject({ title: "Crocodile (Innervisions Orchestra Mix)", artist: "Underworld" });
      const weird = await store.prisma.track.findUnique({ where: { externalId: "5c2e2d2b-57b7-4a3f-9ab6-0f7d6dbeb3b2" } });
      expect(weird).toMatchObject({ title: "White & Nerdy", artist: '"Weird Al" Yankovic' });
      expect(await store.prisma.track.count({ where: { title: null } })).toBe(0);

      const again = await importEvents(store, file, { format: "lastfm1k" });
      expect(again).toMatchObject({ inserted: 0, duplicates: 12, usersCreated: 0, tracksCreated: 0 });
    });

    it("reports an unparsable timestamp with its line and writes nothing", async () => {
      const err = await failure(importEvents(store, fixture("lastfm1k/bad-timestamp.tsv"), { format: "lastfm1k" }));
      expect(err.errors).toHaveLength(1);
      expect(err.errors[0]).toMatch(
        /lastfm1k\/bad-timestamp\.tsv:3: unparsable timestamp "04\/05\/2009 23:08"; expected an ISO 8601 time .* or Unix seconds\/milliseconds$/,
      );
      expect((await storeStats(store)).events).toBe(0);
    });

    it("refuses --map: the format knows its columns", async () => {
      await expect(importEvents(store, file, { format: "lastfm1k", map: "user=userid" })).rejects.toThrow(
        "--map does not apply to --format lastfm1k: the format knows its columns",
      );
    });
  });

  describe("mssd", () => {
    it("takes sessions as users, keeps session_position order, skip_2 as skipped, backbtn as restarted", async () => {
      const report = await importEvents(store, fixture("mssd/log.csv"), { format: "mssd" });
      expect(report).toMatchObject({ rows: 14, inserted: 14, usersCreated: 2, tracksCreated: 9, badRows: 0 });
      const a = (await plays(store)).get("0_0002fbb5-29c2-4d54-9636-e6d15e77b58c")!;
      // Positions 3 and 4 are swapped in the file; the session crosses midnight after position 4.
      expect(a.map((p) => p.track)).toEqual(["t_a1", "t_a2", "t_a3", "t_a1", "t_a4", "t_a5", "t_a2", "t_a6"]);
      expect(a.map((p) => p.played_at.toISOString())).toEqual([
        "2018-07-14T23:00:01.000Z",
        "2018-07-14T23:00:02.000Z",
        "2018-07-14T23:00:03.000Z",
        "2018-07-14T23:00:04.000Z",
        "2018-07-15T00:00:05.000Z",
        "2018-07-15T00:00:06.000Z",
        "2018-07-15T00:00:07.000Z",
        "2018-07-15T00:00:08.000Z",
      ]);
      expect(a.map((p) => p.skipped)).toEqual([false, true, false, false, true, false, false, true]);
      expect(a.map((p) => p.restarted)).toEqual([false, false, false, true, false, false, false, false]);
      expect(a.every((p) => p.context === "user_collection" && !p.liked)).toBe(true);
      const b = (await plays(store)).get("0_00030fe3-298d-4930-8534-fc5a9b82971b")!;
      expect(b.map((p) => [p.track, p.skipped, p.restarted])).toEqual([
        ["t_b1", false, false],
        ["t_a4", false, false],
        ["t_b2", true, false],
        ["t_b2", false, true],
        ["t_b3", false, false],
        ["t_a5", false, false],
      ]);
      expect(b[3].played_at.toISOString()).toBe("2018-07-14T22:00:04.000Z");
      expect(await importEvents(store, fixture("mssd/log.csv"), { format: "mssd" })).toMatchObject({ inserted: 0, duplicates: 14 });
    });

    it("reports a date not in dd-mm-yy with its line", async () => {
      const err = await failure(importEvents(store, fixture("mssd/bad-date.csv"), { format: "mssd" }));
      expect(err.errors).toEqual([
        expect.stringMatching(
          /mssd\/bad-date\.csv:3: date: unparsable date "2018-07-14"; expected dd-mm-yy as in the MSSD log \(15-07-18\)$/,
        ),
      ]);
    });

    it("turns the track features into standardised embeddings (mssd-tracks)", async () => {
      const report = await importTracks(store, fixture("mssd/tf.csv"), { format: "mssd-tracks" });
      expect(report).toMatchObject({ rows: 9, tracksCreated: 9, badRows: 0 });
      expect(await getEmbeddingDim(store)).toBe(MSSD_FEATURES.length);

      // Expected z-scores, computed here from the file itself.
      const [header, ...lines] = fs.readFileSync(fixture("mssd/tf.csv"), "utf8").trim().split("\n");
      const names = header.split(",");
      const table = lines.map((l) => l.split(","));
      const column = (name: string) =>
        table.map((r) => (name === "mode" ? (r[names.indexOf(name)] === "major" ? 1 : 0) : Number(r[names.indexOf(name)])));
      const tracks = await store.prisma.track.findMany({ orderBy: { externalId: "asc" } });
      const ids = table.map((r) => r[0]);
      MSSD_FEATURES.forEach((name, j) => {
        const x = column(name);
        const mean = x.reduce((s, v) => s + v, 0) / x.length;
        const sd = Math.sqrt(x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length);
        for (const t of tracks) {
          const v = x[ids.indexOf(t.externalId)];
          expect(t.embedding[j]).toBeCloseTo(sd > 0 ? (v - mean) / sd : 0, 4);
        }
        const z = tracks.map((t) => t.embedding[j]);
        const zMean = z.reduce((s, v) => s + v, 0) / z.length;
        expect(zMean).toBeCloseTo(0, 5);
        const zVar = z.reduce((s, v) => s + (v - zMean) ** 2, 0) / z.length;
        expect(zVar).toBeCloseTo(name === "time_signature" ? 0 : 1, 4); // time_signature is 4 throughout
      });
      // mode: the minor tracks sit below the major ones.
      const mode = MSSD_FEATURES.indexOf("mode");
      const minor = tracks.filter((t) => ["t_a1", "t_a4", "t_b1"].includes(t.externalId)).map((t) => t.embedding[mode]);
      const major = tracks.filter((t) => !["t_a1", "t_a4", "t_b1"].includes(t.externalId)).map((t) => t.embedding[mode]);
      expect(Math.max(...minor)).toBeLessThan(Math.min(...major));

      // The log then finds its tracks, embeddings and all.
      const events = await importEvents(store, fixture("mssd/log.csv"), { format: "mssd" });
      expect(events).toMatchObject({ inserted: 14, tracksCreated: 0 });
      expect(await withoutEmbedding(store)).toBe(0);
    });

    it("fills in the embeddings of tracks an events import created", async () => {
      expect(await importEvents(store, fixture("mssd/log.csv"), { format: "mssd" })).toMatchObject({ tracksCreated: 9 });
      expect(await withoutEmbedding(store)).toBe(9);
      const report = await importTracks(store, fixture("mssd/tf.csv"), { format: "mssd-tracks" });
      expect(report).toMatchObject({ rows: 9, tracksCreated: 0, tracksUpdated: 9 });
      expect(await withoutEmbedding(store)).toBe(0);
    });

    it("reports a mode other than major/minor with its line", async () => {
      const err = await failure(importTracks(store, fixture("mssd/bad-mode.csv"), { format: "mssd-tracks" }));
      expect(err.errors).toEqual([expect.stringMatching(/mssd\/bad-mode\.csv:4: mode: expected "major" or "minor", got "dorian"$/)]);
      expect(await store.prisma.track.count()).toBe(0);
    });

    itWithShared("mssd-sample/log_sample.csv")("imports the real MSSD sample", async () => {
      const file = sharedFile("mssd-sample/log_sample.csv")!;
      const report = await importEvents(store, file, { format: "mssd" });
      // What the file says, read here with a plain split (the sample has no quoted fields).
      const [header, ...lines] = fs.readFileSync(file, "utf8").trim().split("\n");
      const col = (name: string) => header.split(",").indexOf(name);
      const rows = lines.map((l) => l.split(","));
      const sessions = new Set(rows.map((r) => r[col("session_id")]));
      expect(rows.length).toBeGreaterThanOrEqual(200);
      expect(report).toMatchObject({ rows: rows.length, inserted: rows.length, badRows: 0, usersCreated: sessions.size });
      expect(report.tracksCreated).toBe(new Set(rows.map((r) => r[col("track_id_clean")])).size);
      const byUser = await plays(store);
      let skipped = 0;
      let restarted = 0;
      for (const session of sessions) {
        const inFile = rows
          .filter((r) => r[col("session_id")] === session)
          .sort((x, y) => Number(x[col("session_position")]) - Number(y[col("session_position")]));
        const stored = byUser.get(session)!;
        expect(stored.map((p) => p.track)).toEqual(inFile.map((r) => r[col("track_id_clean")]));
        expect(stored.map((p) => p.skipped)).toEqual(inFile.map((r) => r[col("skip_2")] === "True"));
        skipped += stored.filter((p) => p.skipped).length;
        restarted += stored.filter((p) => p.restarted).length;
      }
      expect(skipped).toBe(rows.filter((r) => r[col("skip_2")] === "True").length);
      expect(restarted).toBe(rows.filter((r) => r[col("hist_user_behavior_reason_start")] === "backbtn").length);
      expect(restarted).toBeGreaterThan(0);
    });
  });

  describe("sessions", () => {
    it("reads a log with a header: UserId is the user, the session the context", async () => {
      const report = await importEvents(store, fixture("sessions/with-header.txt"), { format: "sessions" });
      expect(report).toMatchObject({ rows: 12, inserted: 12, usersCreated: 2, tracksCreated: 8, badRows: 0 });
      const u41 = (await plays(store)).get("41")!;
      expect(u41.map((p) => [p.track, p.context])).toEqual([
        ["214", "1001"],
        ["215", "1001"],
        ["214", "1001"],
        ["377", "1002"],
        ["512", "1002"],
        ["215", "1002"],
      ]);
      expect(u41[0].played_at.toISOString()).toBe(new Date(1390190400 * 1000).toISOString());
      // The header's ArtistId is the artist of the tracks it creates.
      const artists = await store.sql.query<{ external_id: string; artist: string | null }>(
        "SELECT external_id, artist FROM track WHERE external_id IN ('214', '215', '377', '512') ORDER BY external_id",
      );
      expect(artists.map((t) => [t.external_id, t.artist])).toEqual([
        ["214", "4"],
        ["215", "5"],
        ["377", "6"],
        ["512", "1"],
      ]);
      // The same log without a header (and with Time as 1390190400.0) is the same plays.
      const bare = await importEvents(store, fixture("sessions/no-header.txt"), { format: "sessions" });
      expect(bare).toMatchObject({ rows: 12, inserted: 0, duplicates: 12, usersCreated: 0, badRows: 0 });
    });

    it("reads a log without a header", async () => {
      const report = await importEvents(store, fixture("sessions/no-header.txt"), { format: "sessions" });
      expect(report).toMatchObject({ rows: 12, inserted: 12, usersCreated: 2, tracksCreated: 8 });
      expect((await plays(store)).get("77")!.map((p) => p.track)).toEqual(["512", "600", "601", "214", "602", "603"]);
      const [{ withArtist }] = await store.sql.query<{ withArtist: number }>(
        `SELECT count(*)::int AS "withArtist" FROM track WHERE artist IS NOT NULL`,
      );
      expect(withArtist).toBe(0); // without a header, no column is known to be the artist
    });

    it("takes each session as a user when the header has no UserId", async () => {
      const report = await importEvents(store, fixture("sessions/sessions-only.txt"), { format: "sessions" });
      expect(report).toMatchObject({ rows: 6, inserted: 6, usersCreated: 2 });
      expect([...(await plays(store)).keys()]).toEqual(["1001", "1002"]);
    });

    it("reports an unparsable time with its line", async () => {
      const err = await failure(importEvents(store, fixture("sessions/bad-time.txt"), { format: "sessions" }));
      expect(err.errors).toEqual([
        expect.stringMatching(/sessions\/bad-time\.txt:3: unparsable time "2014-01-20"; expected Unix seconds \(1396321232\)$/),
      ]);
      const skipped = await importEvents(store, fixture("sessions/bad-time.txt"), { format: "sessions", skipBadRows: true });
      expect(skipped).toMatchObject({ rows: 4, inserted: 3, badRows: 1 });
    });
  });

  describe("movielens", () => {
    it("imports ratings, 4 or more as a like", async () => {
      const report = await importEvents(store, fixture("movielens/ratings.csv"), { format: "movielens" });
      expect(report).toMatchObject({ rows: 13, inserted: 13, usersCreated: 2, tracksCreated: 13, badRows: 0 });
      const user1 = (await plays(store)).get("1")!;
      expect(user1.map((p) => [p.track, p.liked])).toEqual([
        ["3", true],
        ["6", true],
        ["70", false],
        ["1", true],
        ["50", true],
        ["47", true],
      ]);
      const [likes] = await store.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM listening_event WHERE liked");
      expect(likes.n).toBe(9);
      // --map adjusts the format's columns.
      await empty(store);
      await importEvents(store, fixture("movielens/ratings.csv"), { format: "movielens", map: "liked=rating>=4.5" });
      const [strict] = await store.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM listening_event WHERE liked");
      expect(strict.n).toBe(3);
    });

    it("reports a rating that is not a number with its line", async () => {
      const err = await failure(importEvents(store, fixture("movielens/bad-rating.csv"), { format: "movielens" }));
      expect(err.errors).toEqual([expect.stringMatching(/movielens\/bad-rating\.csv:3: liked: expected a number, got "four"$/)]);
    });
  });

  it("names the formats it knows when --format is unknown", async () => {
    await expect(importEvents(store, fixture("movielens/ratings.csv"), { format: "lastfm" })).rejects.toThrow(
      "--format lastfm: unknown format; expected csv|tsv|jsonl|lastfm1k|mssd|sessions|movielens",
    );
  });
});
