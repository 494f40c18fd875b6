import { generateWorld } from "../../src/demo/world";
import { Conflict } from "../../src/errors";
import { getCatalogVersion, getEmbeddingDim } from "../../src/store/catalog";
import { loadDemoWorld } from "../../src/store/demo-data";
import { loadCatalogue } from "../../src/store/history";
import { importEventsFile } from "../../src/store/import/events";
import { importTracksFile, loadTracks } from "../../src/store/import/tracks";
import { nearestTracks, trackMatrix } from "../../src/store/nearest";
import type { Store } from "../../src/store/store";
import { embedTracks, genreCheck } from "../../src/store/track-embeddings";
import { backendName, openTestStore } from "../helpers/store";
import { itWithShared, sharedFile } from "../helpers/shared";
import { writeTemp } from "../helpers/files";

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
    const dim = await getEmbeddingDim(store.sql);
    const version = await getCatalogVersion(store.sql);
    const error = await embedTracks(store, { dim: 24 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Conflict);
    expect((error as Error).message).toBe(
      `embed-tracks: 400 track(s) already have embeddings (${dim}-d, imported or learnt before); pass --overwrite to replace every track's embedding with co-occurrence embeddings (models trained on the old ones will need retraining)`,
    );
    expect(await getEmbeddingDim(store.sql)).toBe(dim);
    expect(await getCatalogVersion(store.sql)).toBe(version);
  });

  it("with overwrite, gives every track a 24-d vector whose nearest neighbours share its genre", async () => {
    const version = await getCatalogVersion(store.sql);
    const progress: string[] = [];
    const report = await embedTracks(store, { dim: 24, overwrite: true, seed: 3, onProgress: (p) => progress.push(p.phase) });
    const [{ plays, users }] = await store.sql.query<{ plays: number; users: number }>(
      "SELECT count(*)::int AS plays, count(DISTINCT user_id)::int AS users FROM listening_event",
    );
    expect(report).toMatchObject({ dim: 24, window: 5, tracks: 400, plays, users, replaced: 400, weighting: "ppmi" });
    expect(report.factorised + report.foldedIn + report.zero).toBe(400);
    expect(report.explainedVariance).toBeGreaterThan(0);
    expect(report.explainedVariance).toBeLessThan(1);
    expect(progress.filter((p) => p === "reading").length).toBeGreaterThan(2);
    expect(progress.slice(-2)).toEqual(["factorising", "writing"]);

    expect(await getEmbeddingDim(store.sql)).toBe(24);
    expect(await getCatalogVersion(store.sql)).toBeGreaterThan(version);
    const [lengths] = await store.sql.query<{ n: number; d: number }>(
      "SELECT count(*)::int AS n, min(array_length(embedding, 1))::int AS d FROM track WHERE array_length(embedding, 1) = 24",
    );
    expect(lengths).toEqual({ n: 400, d: 24 });
    if (store.hasVector) expect(await hnswIndexes(store)).toEqual(["track_embedding_hnsw_cosine_24", "track_embedding_hnsw_l2_24"]);

    // Neighbours through the served search path (HNSW where pgvector is, else exact).
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
    await expect(embedTracks(store, { dim: 24, seed: 3 })).rejects.toThrow("400 track(s) already have embeddings (24-d");
    const again = await embedTracks(store, { dim: 24, seed: 3, overwrite: true });
    expect(again.replaced).toBe(400);
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

  it("learns vectors for tracks created by an events import without --overwrite; an unplayed track gets zeros", async () => {
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
    expect(await getEmbeddingDim(store.sql)).toBeNull();
    const report = await embedTracks(store, { dim: 8, minCount: 3 });
    expect(report).toMatchObject({ dim: 8, replaced: 0, plays });
    const [often] = await store.sql.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM (SELECT track_id FROM listening_event GROUP BY track_id HAVING count(*) >= 3) t",
    );
    expect(report.factorised).toBe(often.n);
    expect(report.zero).toBeGreaterThanOrEqual(1);
    expect(report.factorised + report.foldedIn + report.zero).toBe(report.tracks);
    expect(await getEmbeddingDim(store.sql)).toBe(8);
    const [lonely] = await store.sql.query<{ embedding: number[] }>("SELECT embedding FROM track WHERE external_id = 'never-played'");
    expect(lonely.embedding).toEqual(new Array(8).fill(0));
    const [{ missing }] = await store.sql.query<{ missing: number }>("SELECT count(*)::int AS missing FROM track WHERE embedding IS NULL");
    expect(missing).toBe(0);
    expect(await genreCheck(store)).toBeNull(); // no genres to check
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
