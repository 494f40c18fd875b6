/**
 * A track whose stored embedding is missing or the zero vector has no embedding
 * anywhere: not in the catalogue, the searches, the counts, the targets or the
 * ranking metrics' candidates.
 */
import { evaluatePredictions, ranks } from "../../src/eval";
import { buildDataset } from "../../src/features";
import { tracksByIds } from "../../src/store/browse";
import { loadCatalogue, streamHistories } from "../../src/store/history";
import { loadEvents, type EventRow } from "../../src/store/import/events";
import { loadTracks, type TrackRow } from "../../src/store/import/tracks";
import { nearestTracks } from "../../src/store/nearest";
import { storeStats } from "../../src/store/stats";
import type { Store } from "../../src/store/store";
import { CatalogueCache } from "../../src/serving/catalogue";
import { specWith } from "../features/world";
import { backendName, openTestStore } from "../helpers/store";
import { materialise } from "../features/materialise";

async function* once<T>(items: T[]): AsyncGenerator<T[]> {
  yield items;
}

const track = (externalId: string, embedding: number[] | null): TrackRow => ({
  line: 1,
  externalId,
  title: null,
  artist: null,
  genre: null,
  embedding,
});

/** Four unit tracks on the axes, two stored zero vectors and one track with none. */
const TRACKS: [string, number[] | null][] = [
  ["east", [1, 0]],
  ["north", [0, 1]],
  ["zero-a", [0, 0]],
  ["west", [-1, 0]],
  ["none", null],
  ["south", [0, -1]],
  ["zero-b", [0, 0]],
];
const WITHOUT = ["zero-a", "zero-b", "none"];

/** Each listener plays every track, in a rotated order. */
const SEQUENCES = [
  ["east", "zero-a", "north", "west", "none", "south", "zero-b", "east", "north"],
  ["north", "west", "zero-b", "south", "east", "none", "zero-a", "west", "south"],
  ["south", "none", "east", "zero-a", "north", "zero-b", "west", "east", "west"],
];

describe(`tracks without a usable embedding (${backendName})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
    await loadTracks(store, once(TRACKS.map(([id, e]) => track(id, e))));
    const plays: EventRow[] = SEQUENCES.flatMap((tracks, u) =>
      tracks.map((t, i) => ({
        line: 1,
        user: `listener-${u}`,
        track: t,
        playedAt: new Date(Date.UTC(2026, 0, 1 + u, 12, i * 4)),
        skipped: false,
        liked: false,
        addedToPlaylist: false,
        restarted: false,
        msPlayed: null,
        context: null,
      })),
    );
    await loadEvents(store, once(plays));
  });
  afterAll(() => store.close());

  it("the catalogue marks a stored zero vector as no embedding, like a missing one", async () => {
    const cat = await loadCatalogue(store);
    const has = Object.fromEntries(cat.externalIds.map((id, i) => [id, cat.hasEmbedding[i]]));
    expect(has).toEqual({ east: 1, north: 1, "zero-a": 0, west: 1, none: 0, south: 1, "zero-b": 0 });
    const row = cat.externalIds.indexOf("zero-a");
    expect(Array.from(cat.embeddings.subarray(row * 2, row * 2 + 2))).toEqual([0, 0]);
    // The store still holds what was imported.
    const [stored] = await store.sql.query<{ embedding: number[] }>("SELECT embedding FROM track WHERE external_id = 'zero-a'");
    expect(stored.embedding).toEqual([0, 0]);
  });

  it("status counts only usable embeddings, and a track read by id shows none", async () => {
    expect(await storeStats(store)).toMatchObject({ tracks: 7, tracksWithEmbedding: 4, embeddingDim: 2 });
    const views = await tracksByIds(store, ["zero-a", "none", "east"]);
    expect(views.map((v) => v?.embedding)).toEqual([null, null, [1, 0]]);
  });

  it("no search returns them: the exact search, pgvector's index and serving's index, by either metric", async () => {
    const tiny = [0.01, 0.002]; // nearer to the origin than to any real track
    const methods = store.hasVector ? (["exact", "index"] as const) : (["exact"] as const);
    for (const method of methods) {
      for (const metric of ["l2", "cosine"] as const) {
        const got = await nearestTracks(store, tiny, 10, { method, metric });
        expect([method, metric, got.map((n) => n.externalId).sort()]).toEqual([method, metric, ["east", "north", "south", "west"]]);
      }
      expect((await nearestTracks(store, tiny, 1, { method }))[0].externalId).toBe("east");
    }
    const state = await new CatalogueCache(store).current();
    for (const metric of ["l2", "cosine"] as const) {
      const index = await state.index(metric);
      const hits = index.search(Float32Array.from(tiny), 10);
      expect(hits.map((h) => state.catalogue.externalIds[h.row]).sort()).toEqual(["east", "north", "south", "west"]);
    }
  });

  it("plays before them are no points (counted), and they are no ranking candidates", async () => {
    const cat = await loadCatalogue(store);
    const ds = await buildDataset(streamHistories(store, { catalogue: cat }), cat, specWith({ fast: { window: 3 } }));
    // Every play but each listener's last is a point, unless the next track has no embedding: 3 of 8 per listener.
    expect(ds.counts.targetWithoutEmbedding).toBe(9);
    expect(ds.n).toBe(3 * 8 - 9);
    const targets = Array.from(ds.targetIndex.subarray(0, ds.n), (t) => cat.externalIds[t]);
    expect(targets.filter((t) => WITHOUT.includes(t))).toEqual([]);
    // A prediction a hundredth of the way to the true track: the zero vectors, were they candidates,
    // would be nearer to it than the true track is.
    const rows = Array.from({ length: ds.n }, (_, r) => r);
    const pred = Float32Array.from(materialise(ds).target, (v) => v * 0.01);
    expect(Array.from(ranks(pred, ds.targetIndex.subarray(0, ds.n), cat))).toEqual(rows.map(() => 1));
    expect(evaluatePredictions(pred, ds, cat, rows)).toMatchObject({ hr10: 1, mrr: 1, ndcg10: 1, n: ds.n });
  });
});
