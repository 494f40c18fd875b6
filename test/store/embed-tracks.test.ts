import { generateWorld } from "../../src/demo/world";
import { Conflict } from "../../src/errors";
import { getCatalogVersion, getEmbeddingDim } from "../../src/store/catalog";
import { loadDemoWorld } from "../../src/data/demo-data";
import { loadCatalogue } from "../../src/store/history";
import { importEventsFile } from "../../src/store/import/events";
import { importTracksFile, loadTracks } from "../../src/store/import/tracks";
import { nearestTracks, trackMatrix } from "../../src/store/nearest";
import type { Store } from "../../src/store/store";
import { embeddingProvenance, embedTracks, genreCheck } from "../../src/data/track-embeddings";
import { importEvents } from "../../src/store/import/formats";
import { formatEmbedReport, withoutVectorText } from "../../src/cli/commands/embed";
import { backendName, openTestStore } from "../helpers/store";
import { itWithShared, sharedFile } from "../helpers/shared";
import { writeTemp } from "../helpers/files";
import { Rng } from "../../src/random";

async function* once<T>(items: T[]): AsyncGenerator<T[]> {
  yield items;
}

const hnswIndexes = async (store: Store) =>
  (
    await store.sql.query<{ name: string }>(
      "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'track' AND indexname LIKE 'track_embedding_hnsw%' ORDER BY 1",
    )
  ).map((r) => r.name);

describe(`embed-tracks on a demo world (${backendName})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
    await loadDemoWorld(store, { users: 150, tracks: 400, days: 14, seed: 5 });
  });
  afterAll(() => store.close());

  it("refuses to replace the tracks' embeddings without overwrite, and changes nothing", async () => {
    const dim = await getEmbeddingDim(store);
    const version = await getCatalogVersion(store);
    const error = await embedTracks(store, { dim: 24 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Conflict);
    expect((error as Error).message).toBe(
      `embed-tracks: 400 track(s) already have embeddings (${dim}-d, imported or learnt before); pass --overwrite to replace every track's embedding with co-occurrence embeddings (models trained on the old ones will need retraining)`,
    );
    expect(await getEmbeddingDim(store)).toBe(dim);
    expect(await getCatalogVersion(store)).toBe(version);
  });

  it("with overwrite, gives every track it can place a 24-d vector whose nearest neighbours share its genre", async () => {
    const version = await getCatalogVersion(store);
    const progress: string[] = [];
    const report = await embedTracks(store, { dim: 24, overwrite: true, seed: 3, onProgress: (p) => progress.push(p.phase) });
    const [{ plays, users }] = await store.sql.query<{ plays: number; users: number }>(
      "SELECT count(*)::int AS plays, count(DISTINCT user_id)::int AS users FROM listening_event",
    );
    expect(report).toMatchObject({ dim: 24, window: 5, tracks: 400, plays, users, replaced: 400, weighting: "ppmi" });
    expect(report.factorised + report.foldedIn + report.withoutVector.total).toBe(400);
    // The world's catalogue has tracks nobody played in these 14 days.
    const [{ unplayed }] = await store.sql.query<{ unplayed: number }>(
      "SELECT count(*)::int AS unplayed FROM track t WHERE NOT EXISTS (SELECT 1 FROM listening_event e WHERE e.track_id = t.id)",
    );
    expect(report.withoutVector).toEqual({
      total: unplayed,
      neverPlayed: unplayed,
      playedOnlyAfterUntil: 0,
      noCooccurrence: 0,
      onlyRareNeighbours: 0,
      degenerate: 0,
    });
    expect(report.explainedVariance).toBeGreaterThan(0);
    expect(report.explainedVariance).toBeLessThan(1);
    expect(progress.filter((p) => p === "reading").length).toBeGreaterThan(2);
    expect(progress.slice(-2)).toEqual(["factorising", "writing"]);

    expect(await getEmbeddingDim(store)).toBe(24);
    expect(await getCatalogVersion(store)).toBeGreaterThan(version);
    const [lengths] = await store.sql.query<{ n: number; d: number }>(
      "SELECT count(*)::int AS n, min(array_length(embedding, 1))::int AS d FROM track WHERE array_length(embedding, 1) = 24",
    );
    expect(lengths).toEqual({ n: 400 - unplayed, d: 24 });
    // Serving searches in process: no pgvector index is built (or kept) for it.
    expect(await hnswIndexes(store)).toEqual([]);

    // Neighbours through nearestTracks (HNSW where pgvector is, else exact).
    const genreOf = new Map(
      (await store.sql.query<{ external_id: string; genre: string }>("SELECT external_id, genre FROM track")).map((r) => [
        r.external_id,
        r.genre,
      ]),
    );
    const matrix = await trackMatrix(store);
    expect(matrix.dim).toBe(24);
    let same = 0;
    let total = 0;
    for (let i = 0; i < matrix.externalIds.length; i += 4) {
      const id = matrix.externalIds[i];
      if (matrix.norms[i] === 0) continue;
      const neighbours = await nearestTracks(store, matrix.vectors.subarray(i * 24, (i + 1) * 24), 10, { exclude: [id] });
      for (const n of neighbours) {
        total++;
        if (genreOf.get(n.externalId) === genreOf.get(id)) same++;
      }
    }
    const counts = new Map<string, number>();
    for (const g of genreOf.values()) counts.set(g, (counts.get(g) ?? 0) + 1);
    const chance = [...genreOf.values()].reduce((acc, g) => acc + (counts.get(g)! - 1) / 399, 0) / 400;
    const share = same / total;
    console.log(
      `embed-tracks on a demo world (150 users, 400 tracks, ${backendName}): ${(share * 100).toFixed(1)}% of ${total} neighbours share the query's genre; chance ${(chance * 100).toFixed(1)}%; ${report.seconds.total.toFixed(1)} s`,
    );
    // Measured 0.977 on both backends (seed 3); chance is 0.065.
    expect(share).toBeGreaterThan(0.85);
    expect(chance).toBeLessThan(0.1);
    const check = await genreCheck(store);
    expect(check!.neighbours).toBeGreaterThan(0.85);
    expect(check!.chance).toBeCloseTo(chance, 2);
    expect(report.genres!.neighbours).toBeGreaterThan(0.85); // the same check, on tracks with 5+ plays
  });

  it("is deterministic for a seed, and replaces its own embeddings only with overwrite", async () => {
    const before = await loadCatalogue(store);
    const placed = before.hasEmbedding.reduce((a, b) => a + b, 0);
    await expect(embedTracks(store, { dim: 24, seed: 3 })).rejects.toThrow(`${placed} track(s) already have embeddings (24-d`);
    const again = await embedTracks(store, { dim: 24, seed: 3, overwrite: true });
    expect(again.replaced).toBe(placed);
    const after = await loadCatalogue(store);
    expect(after.embeddings).toEqual(before.embeddings);
  });
});

describe(`embed-tracks where the data has no embeddings (${backendName})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
  });
  afterAll(() => store.close());

  it("says so when there are no plays", async () => {
    await expect(embedTracks(store, { dim: 4 })).rejects.toThrow("embed-tracks: the store has no plays; import listening events first");
  });

  it("learns vectors for tracks created by an events import without --overwrite; an unplayed track gets none, and the report says why", async () => {
    const world = generateWorld({ users: 40, tracks: 120, days: 5, seed: 2 });
    await loadTracks(store, once([{ line: 1, externalId: "never-played", title: null, artist: null, genre: null, embedding: null }]));
    // What a user without embeddings does: rubato import events plays.csv --create-tracks.
    let csv = "user,track,played_at\n";
    let plays = 0;
    for (const e of world.events()) {
      csv += `${e.userExternalId},${e.trackExternalId},${e.playedAt.toISOString()}\n`;
      plays++;
    }
    await importEventsFile(store, writeTemp("embed-plays.csv", csv), "csv", { createTracks: true });
    expect(await getEmbeddingDim(store)).toBeNull();
    const report = await embedTracks(store, { dim: 8, minCount: 3 });
    expect(report).toMatchObject({ dim: 8, replaced: 0, plays, until: null, sessions: null, normalized: true });
    const [often] = await store.sql.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM (SELECT track_id FROM listening_event GROUP BY track_id HAVING count(*) >= 3) t",
    );
    expect(report.factorised).toBe(often.n);
    expect(report.withoutVector.neverPlayed).toBe(1);
    expect(report.withoutVector.playedOnlyAfterUntil).toBe(0);
    expect(report.factorised + report.foldedIn + report.withoutVector.total).toBe(report.tracks);
    expect(await getEmbeddingDim(store)).toBe(8);
    const [lonely] = await store.sql.query<{ embedding: number[] | null }>(
      "SELECT embedding FROM track WHERE external_id = 'never-played'",
    );
    expect(lonely.embedding).toBeNull();
    const [{ missing, zero }] = await store.sql.query<{ missing: number; zero: number }>(
      "SELECT count(*) FILTER (WHERE embedding IS NULL)::int AS missing, count(*) FILTER (WHERE NOT (0 <> ANY(embedding)))::int AS zero FROM track",
    );
    expect([missing, zero]).toEqual([report.withoutVector.total, 0]);
    expect(withoutVectorText(report)).toMatch(new RegExp(`^${report.withoutVector.total} tracks? ha(s|ve) no vector .*: .*1 never played`));
    expect(formatEmbedReport(report)).toContain(`embedded ${report.tracks - report.withoutVector.total} of ${report.tracks} tracks`);
    expect(await genreCheck(store)).toBeNull(); // no genres to check
    expect(report.artists).toBeNull(); // nor artists
  });
});

describe(`embed-tracks on MovieLens (${backendName})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
  });
  afterAll(() => store.close());

  itWithShared("movielens-latest-small/ratings.csv")("movies' nearest neighbours share a genre more often than chance", async () => {
    await importTracksFile(store, sharedFile("movielens-latest-small/movies.csv")!, "csv", { map: "id=movieId,genre=genres" });
    await importEventsFile(store, sharedFile("movielens-latest-small/ratings.csv")!, "csv", {
      map: "user=userId,track=movieId,played_at=timestamp,liked=rating>=4",
      createTracks: true,
    });
    const report = await embedTracks(store, { dim: 32 });
    expect(report).toMatchObject({ tracks: 9742, plays: 100836, users: 610, replaced: 0 });
    const g = report.genres!; // tracks with 5+ ratings, up to 500 of them
    console.log(
      `MovieLens (${backendName}), 32-d co-occurrence embeddings: ${(g.neighbours * 100).toFixed(1)}% of movies' 10 nearest neighbours share a genre; ` +
        `chance ${(g.chance * 100).toFixed(1)}% (${g.queries} movies with 5+ ratings); ${report.seconds.total.toFixed(1)} s`,
    );
    expect(g.queries).toBe(500);
    expect(g.neighbours).toBeGreaterThan(g.chance + 0.15);
  });
});

/**
 * A session log (the sessions format, with ArtistId): 8 artists of 6 tracks, 30 listeners
 * with one session a day for 6 days, each 5 tracks of one artist in album order. Besides:
 * "solo", played as a session of its own 10 minutes after a listener's day-2 session, and
 * "late", appended to every day-5 session.
 */
function albumLog(): { text: string; lastDay: Date } {
  const day0 = Date.UTC(2014, 3, 19);
  const rng = new Rng(17);
  const next = (n: number) => rng.int(n);
  let text = "UserId\tSessionId\tItemId\tTime\tArtistId\n";
  let session = 1000;
  for (let u = 0; u < 30; u++) {
    for (let day = 0; day < 6; day++) {
      const artist = next(8);
      const start = next(6);
      let t = day0 + day * 86_400_000 + (8 + next(10)) * 3_600_000;
      const play = (track: string, artistId: string) => {
        text += `${u}\t${session}\t${track}\t${t / 1000}\t${artistId}\n`;
        t += 180_000;
      };
      for (let k = 0; k < 5; k++) play(`t${artist}-${(start + k) % 6}`, `A${artist}`);
      if (day === 5) play("late", "A9");
      session++;
      if (day === 2 && u % 3 === 0) {
        t += 600_000;
        play("solo", "A8");
        session++;
      }
    }
  }
  return { text, lastDay: new Date(day0 + 5 * 86_400_000) };
}

describe(`embed-tracks on a session log: --sessions, --until, the artist check and provenance (${backendName})`, () => {
  let store: Store;
  const log = albumLog();
  const embedding = async (id: string) =>
    (await store.sql.query<{ embedding: number[] | null }>("SELECT embedding FROM track WHERE external_id = $1", [id]))[0].embedding;
  beforeAll(async () => {
    store = await openTestStore();
    await importEvents(store, writeTemp("albums.tsv", log.text), { format: "sessions" });
  });
  afterAll(() => store.close());

  it("with --sessions, windows stop at sessions: a track always played in a session of its own gets no vector", async () => {
    const within = await embedTracks(store, { dim: 4, sessions: true });
    expect(within.sessions).toEqual({ gapMinutes: 30 });
    expect(within.withoutVector).toMatchObject({ total: 1, noCooccurrence: 1 });
    expect(await embedding("solo")).toBeNull();
    expect(withoutVectorText(within)).toBe(
      "1 track has no vector (searches and metrics leave them out): 1 never played within --window 5 plays of another track in the same session",
    );
    // Without sessions its window reaches back into the session before.
    const across = await embedTracks(store, { dim: 4, overwrite: true });
    expect(across.withoutVector.total).toBe(0);
    expect(await embedding("solo")).toHaveLength(4);
  });

  it("checks that tracks' nearest neighbours share their artist (the log's ArtistId), against chance", async () => {
    const report = await embedTracks(store, { dim: 4, overwrite: true, sessions: true });
    const a = report.artists!;
    expect(report.genres).toBeNull();
    // 48 album tracks in 8 groups, plus "late" and "solo" on artists of their own: chance is about 5/49.
    expect(a.chance).toBeLessThan(0.15);
    // An artist has 6 tracks, so at most 5 of a track's 10 neighbours can share it: the ceiling is 0.5.
    expect(a.neighbours).toBeGreaterThan(0.4);
    expect(formatEmbedReport(report)).toContain("artist check: ");
  });

  it("--until learns only from plays at or before it, says which tracks are played only after, and records it", async () => {
    const until = new Date(log.lastDay.getTime() - 1);
    const report = await embedTracks(store, { dim: 4, overwrite: true, until });
    const [before] = await store.sql.query<{ plays: number; newest: Date }>(
      "SELECT count(*)::int AS plays, max(played_at) AS newest FROM listening_event WHERE played_at <= $1",
      [until.toISOString()],
    );
    expect(report).toMatchObject({ plays: before.plays, until, newestPlay: new Date(before.newest) });
    expect(report.withoutVector).toEqual({
      total: 1,
      neverPlayed: 0,
      playedOnlyAfterUntil: 1,
      noCooccurrence: 0,
      onlyRareNeighbours: 0,
      degenerate: 0,
    });
    expect(await embedding("late")).toBeNull();
    expect(withoutVectorText(report)).toContain("1 played only after --until");
    expect(formatEmbedReport(report)).toContain(`plays at or before ${until.toISOString()}`);
    const provenance = await embeddingProvenance(store);
    expect(provenance).toMatchObject({
      until,
      newestPlay: new Date(before.newest),
      plays: before.plays,
      dim: 4,
      window: 5,
      minCount: 1,
      weighting: "ppmi",
      sessions: null,
      normalized: true,
    });
    expect(provenance!.learntAt.getTime()).toBeLessThanOrEqual(Date.now());
    // All plays: the newest play is the log's last.
    await embedTracks(store, { dim: 4, overwrite: true });
    const [{ last }] = await store.sql.query<{ last: Date }>("SELECT max(played_at) AS last FROM listening_event");
    expect(await embeddingProvenance(store)).toMatchObject({ until: null, newestPlay: new Date(last) });
  });

  it("--until before every play is refused, saying so; importing embeddings forgets the provenance", async () => {
    await expect(embedTracks(store, { dim: 4, overwrite: true, until: new Date("2014-01-01T00:00:00Z") })).rejects.toThrow(
      "embed-tracks: the store has no plays at or before --until 2014-01-01T00:00:00.000Z; pick a later time",
    );
    expect(await embeddingProvenance(store)).not.toBeNull();
    await loadTracks(store, once([{ line: 1, externalId: "imported", title: null, artist: null, genre: null, embedding: [1, 0, 0, 0] }]));
    expect(await embeddingProvenance(store)).toBeNull();
  });
});

describe(`embed-tracks on a 30Music session slice (${backendName})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
  });
  afterAll(() => store.close());

  itWithShared("30music-dev/30music-200ks_test.0.txt")(
    "leaves the tracks never heard near another without an embedding, says so, and groups tracks by artist",
    async () => {
      await importEvents(store, sharedFile("30music-dev/30music-200ks_test.0.txt")!, { format: "sessions" });
      const report = await embedTracks(store, { dim: 32 });
      const w = report.withoutVector;
      console.log(
        `30Music slice 0 (${backendName}), 32-d: ${w.total} of ${report.tracks} tracks without a vector (${w.noCooccurrence} without co-occurrence); ` +
          `artist check ${(100 * report.artists!.neighbours).toFixed(1)}% against ${(100 * report.artists!.chance).toFixed(2)}% by chance; ${report.seconds.total.toFixed(1)} s`,
      );
      // Measured: 4 of 16,305, every one played but never within 5 plays of another track.
      expect(w.noCooccurrence).toBeGreaterThan(0);
      expect(w.total).toBe(w.noCooccurrence + w.neverPlayed + w.onlyRareNeighbours + w.degenerate);
      const [{ missing, zero }] = await store.sql.query<{ missing: number; zero: number }>(
        "SELECT count(*) FILTER (WHERE embedding IS NULL)::int AS missing, count(*) FILTER (WHERE NOT (0 <> ANY(embedding)))::int AS zero FROM track",
      );
      expect([missing, zero]).toEqual([w.total, 0]);
      expect((await loadCatalogue(store)).hasEmbedding.reduce((a, b) => a + b, 0)).toBe(report.tracks - w.total);
      // The log's ArtistId is each track's artist; the vectors never saw it.
      expect(report.artists!.chance).toBeLessThan(0.01);
      expect(report.artists!.neighbours).toBeGreaterThan(0.3);
    },
  );
});
