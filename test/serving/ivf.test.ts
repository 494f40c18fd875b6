import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../../src/random";
import { initBackend } from "../../src/model/backend";
import { IvfIndex } from "../../src/serving/ivf";
import { TrackMatrix } from "../../src/store/nearest";
import { expectSameNeighbours } from "./helpers";

const DIM = 16;

/** n clustered vectors (24 clusters of different spreads) and the exact search over them. */
function clustered(n: number, seed = 5) {
  const rng = new Rng(seed);
  const centres = Array.from({ length: 24 }, () => Array.from({ length: DIM }, () => rng.normal() * 3));
  const vectors = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) {
    const c = centres[rng.int(centres.length)];
    const spread = 0.3 + (i % 7) * 0.15;
    for (let j = 0; j < DIM; j++) vectors[i * DIM + j] = c[j] + rng.normal() * spread;
  }
  const norms = Float32Array.from({ length: n }, (_, i) => Math.hypot(...vectors.subarray(i * DIM, (i + 1) * DIM)));
  const exact = new TrackMatrix(
    Array.from({ length: n }, (_, i) => String(i)),
    DIM,
    vectors,
    norms,
    0,
  );
  const queries = Array.from({ length: 60 }, (_, q) => {
    const a = rng.int(n);
    const b = rng.int(n);
    return Float32Array.from({ length: DIM }, (_, j) =>
      q % 2 ? (vectors[a * DIM + j] + vectors[b * DIM + j]) / 2 : vectors[a * DIM + j] + rng.normal() * 0.2,
    );
  });
  return { vectors, exact, queries, rows: Int32Array.from({ length: n }, (_, i) => i) };
}

describe("IVF neighbour index", () => {
  beforeAll(() => initBackend(undefined, { logger: () => undefined }));

  it.each(["l2", "cosine"] as const)("reaches recall@10 >= 0.95 against exact search, calibrated at build (%s)", async (metric) => {
    const { vectors, exact, queries, rows } = clustered(6000);
    const tensors = tf.memory().numTensors;
    const index = await IvfIndex.build(vectors, DIM, rows, metric, { exactBelow: 1000 });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(index.lists).toBe(77);
    expect(index.tau).toBeLessThan(Infinity);
    expect(index.recall).toBeGreaterThanOrEqual(0.98);
    let hits = 0;
    for (const q of queries) {
      const truth = exact.nearest(q, 10, metric);
      const got = index.search(q, 10);
      const ids = new Set(truth.map((t) => Number(t.externalId)));
      hits += got.filter((h) => ids.has(h.row)).length;
      // all lists: the exhaustive search, equal to the ground truth
      const all = index.search(q, 10, undefined, Infinity);
      expectSameNeighbours(
        all.map((h) => ({ id: String(h.row), distance: h.distance })),
        truth.map((t) => ({ id: t.externalId, distance: t.distance })),
      );
    }
    const recall = hits / (queries.length * 10);
    console.log(`IVF ${metric} recall@10 vs exact: ${recall.toFixed(3)} (tau ${index.tau}, ${index.lists} lists)`);
    expect(recall).toBeGreaterThanOrEqual(0.95);
  });

  it("searches the same without the SIMD kernel (JavaScript fallback)", async () => {
    const { vectors, queries, rows } = clustered(3000, 7);
    const fast = await IvfIndex.build(vectors, DIM, rows, "l2", { exactBelow: 1000 });
    process.env.RUBATO_SIMD_DOTS = "0";
    const plain = await IvfIndex.build(vectors, DIM, rows, "l2", { exactBelow: 1000 }).finally(() => delete process.env.RUBATO_SIMD_DOTS);
    expect(plain.tau).toBe(fast.tau);
    for (const q of queries.slice(0, 20)) {
      const a = fast.search(q, 10);
      const b = plain.search(q, 10);
      expectSameNeighbours(
        a.map((h) => ({ id: String(h.row), distance: h.distance })),
        b.map((h) => ({ id: String(h.row), distance: h.distance })),
      );
    }
  });

  it("is exact below exactBelow, honours exclusions, and indexes only the rows given", async () => {
    const { vectors, exact, queries } = clustered(500, 9);
    const rows = Int32Array.from({ length: 250 }, (_, i) => 2 * i); // even rows only
    const index = await IvfIndex.build(vectors, DIM, rows, "l2");
    expect(index.lists).toBe(1);
    const q = queries[3];
    const exclude = new Set([...index.search(q, 3)].map((h) => h.row));
    const got = index.search(q, 5, exclude);
    expect(got.every((h) => h.row % 2 === 0 && !exclude.has(h.row))).toBe(true);
    const truth = exact
      .nearest(q, 500)
      .map((t) => Number(t.externalId))
      .filter((r) => r % 2 === 0 && !exclude.has(r))
      .slice(0, 5);
    expect(got.map((h) => h.row)).toEqual(truth);
    // k larger than the catalogue: everything, nearest first
    const everything = index.search(q, 1000);
    expect(everything.length).toBe(250);
    expect(everything.map((h) => h.distance)).toEqual([...everything.map((h) => h.distance)].sort((a, b) => a - b));
  });
});
