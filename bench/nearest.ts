/**
 * Neighbour search at catalogue scale: `node -r @swc-node/register bench/nearest.ts`
 *
 * Loads a demo-world catalogue of BENCH_TRACKS tracks (default 100,000, 80-d)
 * into an embedded store (kept in the temp dir, so the HNSW build is paid
 * once), then times, on queries shaped like what is served (a track's
 * neighbours, and mixtures of tracks as a decoded user state tends to be):
 *   - pgvector HNSW on PGlite (nearestTracks, ef_search 200) and its recall@10,
 *   - the exhaustive in-process scan (TrackMatrix, the ground truth; and the
 *     serving index's SIMD kernel over every list),
 *   - the serving IVF index (build time, calibrated probing, recall@10).
 * "burst16" is 16 queries arriving at once on this one thread: the time the
 * last of them waits, i.e. the search share of a p99 at 16 concurrent clients.
 * Prints one figure per line: nearest_<method>_<figure> VALUE.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateWorld } from "../src/demo/world";
import { Rng } from "../src/random";
import { initBackend } from "../src/model/backend";
import { IvfIndex } from "../src/serving/ivf";
import { loadTracks } from "../src/store/import/tracks";
import { ensureVectorIndex, nearestTracks, trackMatrix, type TrackMatrix } from "../src/store/nearest";
import { openStore, type Store } from "../src/store/store";

const TRACKS = Number(process.env.BENCH_TRACKS ?? 100_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 200);
const K = 10;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const print = (name: string, value: number, digits = 2) => console.log(`nearest_${name} ${value.toFixed(digits)}`);

async function catalogueStore(): Promise<Store> {
  const dir = path.join(os.tmpdir(), `rubato-bench-nearest-${TRACKS}`);
  const ready = path.join(dir, "ready");
  if (!fs.existsSync(ready)) fs.rmSync(dir, { recursive: true, force: true });
  const store = await openStore({ backend: "pglite", location: path.join(dir, "pgdata") });
  if (!fs.existsSync(ready)) {
    console.error(`bench:nearest: loading ${TRACKS} tracks and building the HNSW indexes (once; kept in ${dir})...`);
    const world = generateWorld({ users: 1, tracks: TRACKS, days: 1, seed: 3 });
    let t = Date.now();
    await loadTracks(
      store,
      (async function* () {
        yield world.tracks.map((x, i) => ({
          line: i + 1,
          externalId: x.externalId,
          title: null,
          artist: null,
          genre: x.genre,
          embedding: x.embedding,
        }));
      })(),
    );
    print("load_tracks_s", (Date.now() - t) / 1000, 1);
    t = Date.now();
    await ensureVectorIndex(store);
    print("hnsw_build_s", (Date.now() - t) / 1000, 1);
    fs.writeFileSync(ready, "");
  }
  return store;
}

/** Half neighbours of a track (the track itself excluded), half mixtures of 2 to 5 tracks. */
function queries(m: TrackMatrix): { vector: Float32Array; exclude: string[] }[] {
  const rng = new Rng(9);
  const n = m.externalIds.length;
  const { dim, vectors } = m;
  return Array.from({ length: QUERIES }, (_, q) => {
    if (q % 2 === 0) {
      const i = rng.int(n);
      return { vector: vectors.slice(i * dim, (i + 1) * dim), exclude: [m.externalIds[i]] };
    }
    const parts = 2 + rng.int(4);
    const v = new Float32Array(dim);
    for (let p = 0; p < parts; p++) {
      const i = rng.int(n);
      for (let j = 0; j < dim; j++) v[j] += vectors[i * dim + j] / parts;
    }
    return { vector: v, exclude: [] };
  });
}

async function time<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

function recall(got: string[][], truth: string[][]): number {
  let hits = 0;
  got.forEach((g, i) => {
    const want = new Set(truth[i]);
    hits += g.filter((id) => want.has(id)).length;
  });
  return hits / (truth.length * K);
}

async function main() {
  await initBackend(undefined, { logger: (m) => console.error(m) });
  const store = await catalogueStore();
  try {
    const m = await trackMatrix(store);
    const qs = queries(m);
    print("tracks", m.externalIds.length, 0);

    // Ground truth: the exhaustive scan.
    const exact: string[][] = [];
    const exactMs: number[] = [];
    for (const q of qs) {
      const r = await time(() => m.nearest(q.vector, K, "l2", new Set(q.exclude)));
      exactMs.push(r.ms);
      exact.push(r.value.map((n) => n.externalId));
    }
    print("exact_ms_p50", percentile(exactMs, 50));
    print("exact_ms_p99", percentile(exactMs, 99));
    print("exact_burst16_ms", percentile(exactMs, 50) * 16, 1);

    // pgvector HNSW in PGlite (same thread): warm the index pages first.
    for (const q of qs.slice(0, 20)) await nearestTracks(store, q.vector, K, { exclude: q.exclude });
    const hnsw: string[][] = [];
    const hnswMs: number[] = [];
    for (const q of qs) {
      const r = await time(() => nearestTracks(store, q.vector, K, { exclude: q.exclude }));
      hnswMs.push(r.ms);
      hnsw.push(r.value.map((n) => n.externalId));
    }
    print("hnsw_ms_p50", percentile(hnswMs, 50));
    print("hnsw_ms_p99", percentile(hnswMs, 99));
    print(
      "hnsw_burst16_ms",
      (await time(() => Promise.all(qs.slice(0, 16).map((q) => nearestTracks(store, q.vector, K, { exclude: q.exclude }))))).ms,
      1,
    );
    print("hnsw_recall10", recall(hnsw, exact), 3);

    // The serving index.
    const rows = Int32Array.from({ length: m.externalIds.length }, (_, i) => i);
    const built = await time(() => IvfIndex.build(m.vectors, m.dim, rows, "l2"));
    const index = built.value;
    print("ivf_build_s", built.ms / 1000);
    print("ivf_lists", index.lists, 0);
    print("ivf_tau", index.tau, 2);
    print("ivf_calibration_recall10", index.recall, 3);
    const rowOf = new Map(m.externalIds.map((id, i) => [id, i]));
    const ivf: string[][] = [];
    const ivfMs: number[] = [];
    for (let rep = 0; rep < 3; rep++)
      for (const [i, q] of qs.entries()) {
        const r = await time(() => index.search(q.vector, K, new Set(q.exclude.map((id) => rowOf.get(id)!))));
        ivfMs.push(r.ms);
        if (rep === 0) ivf[i] = r.value.map((h) => m.externalIds[h.row]);
      }
    print("ivf_ms_p50", percentile(ivfMs, 50), 3);
    print("ivf_ms_p99", percentile(ivfMs, 99), 3);
    const burst = await time(() => qs.slice(0, 16).map((q) => index.search(q.vector, K)));
    print("ivf_burst16_ms", burst.ms, 1);
    print("ivf_recall10", recall(ivf, exact), 3);
    const simd: number[] = [];
    for (const q of qs.slice(0, 50)) simd.push((await time(() => index.search(q.vector, K, undefined, Infinity))).ms);
    print("exhaustive_simd_ms_p50", percentile(simd, 50));
    print(
      "ivf_recall10_track_neighbours",
      recall(
        ivf.filter((_, i) => i % 2 === 0),
        exact.filter((_, i) => i % 2 === 0),
      ),
      3,
    );
    print(
      "ivf_recall10_mixtures",
      recall(
        ivf.filter((_, i) => i % 2 === 1),
        exact.filter((_, i) => i % 2 === 1),
      ),
      3,
    );
  } finally {
    await store.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
