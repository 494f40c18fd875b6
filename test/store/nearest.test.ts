import { loadTracks, type TrackRow } from "../../src/store/import/tracks";
import { nearestTracks, trackMatrix } from "../../src/store/nearest";
import type { Store } from "../../src/store/store";
import { openTestStore, backendName } from "../helpers/store";

const DIM = 16;

/** Clustered random tracks: a realistic shape for an approximate index. */
function* clusteredTracks(n: number): Generator<TrackRow> {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const centres = Array.from({ length: 12 }, () => Array.from({ length: DIM }, () => rand() * 3));
  for (let i = 0; i < n; i++) {
    const c = centres[i % centres.length];
    yield { line: i + 2, externalId: `t${i}`, title: null, artist: null, genre: `g${i % 12}`, embedding: c.map((v) => v + rand() * 0.8) };
  }
}

async function* rows<T>(items: Iterable<T>): AsyncGenerator<T[]> {
  yield [...items];
}

describe(`nearestTracks (${backendName})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
    await loadTracks(store, rows(clusteredTracks(3000)));
  });
  afterAll(() => store.close());

  it("exact search finds a track itself first, honours exclusions and metrics", async () => {
    const matrix = await trackMatrix(store);
    const q = matrix.vectors.slice(5 * DIM, 6 * DIM);
    const id = matrix.externalIds[5];
    const l2 = await nearestTracks(store, q, 5, { method: "exact" });
    expect(l2[0]).toEqual({ externalId: id, distance: expect.closeTo(0, 4) });
    expect(l2.map((n) => n.distance)).toEqual([...l2.map((n) => n.distance)].sort((a, b) => a - b));
    const without = await nearestTracks(store, q, 5, { method: "exact", exclude: [id] });
    expect(without.map((n) => n.externalId)).toEqual(
      l2
        .slice(1)
        .map((n) => n.externalId)
        .concat(without[4].externalId),
    );
    const cos = await nearestTracks(store, q, 3, { method: "exact", metric: "cosine" });
    expect(cos[0].externalId).toBe(id);
    expect(cos[0].distance).toBeCloseTo(0, 5);
  });

  it("rejects a query of the wrong dimension", async () => {
    await expect(nearestTracks(store, [1, 2, 3], 5)).rejects.toThrow("nearestTracks: query has 3 values; expected 16");
  });

  it("auto mode agrees with exact search (HNSW recall@10 where pgvector exists)", async () => {
    const matrix = await trackMatrix(store);
    let hits = 0;
    const queries = 50;
    for (let qi = 0; qi < queries; qi++) {
      const q = Array.from(matrix.vectors.slice(qi * 37 * DIM, qi * 37 * DIM + DIM), (v, j) => v + Math.sin(qi + j) * 0.3);
      const exact = await nearestTracks(store, q, 10, { method: "exact" });
      const auto = await nearestTracks(store, q, 10);
      const truth = new Set(exact.map((n) => n.externalId));
      hits += auto.filter((n) => truth.has(n.externalId)).length;
      if (!store.hasVector) expect(auto).toEqual(exact);
    }
    const recall = hits / (queries * 10);
    console.log(`nearestTracks ${store.hasVector ? "HNSW" : "exact fallback"} recall@10 vs exact on ${backendName}: ${recall.toFixed(3)}`);
    expect(recall).toBeGreaterThanOrEqual(store.hasVector ? 0.95 : 1);
  });
});
