/**
 * The serving service in process, without HTTP: `node -r @swc-node/register bench/serving.ts`
 *
 * For each world (BENCH_WORLDS=demo,big: the demo world of 2,000 users and
 * 5,000 tracks, and 2,000 users over a catalogue of 100,000 tracks) it fills
 * an embedded store (kept in the temp dir between runs), stores an
 * fs-vae-quick model as a finished run (random weights by default: latency
 * does not depend on them; BENCH_TRAIN=1 trains one epoch instead), then
 * runs 16 concurrent clients (BENCH_CLIENTS) for BENCH_SECONDS each against
 * userEmbedding, similarTracks by user and similarTracks by track, each
 * request for another user or track. Prints per line:
 *   serving_<world>_<operation>_c<clients> p50_ms N p99_ms N req_per_s N batch_mean N cache_hit_rate R
 * (a user's first request reads their plays from the store; later ones hit the history cache).
 * plus the recall@10 of served user neighbours against the exhaustive scan.
 * bench/serve.ts measures the same through the GraphQL server.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startRun } from "../src/jobs/runs";
import { RunWorker } from "../src/jobs/worker";
import { saveModel } from "../src/model/artifact";
import { compileSpec } from "../src/model/compile";
import { disposeFsVae } from "../src/model/fsvae";
import { initBackend } from "../src/model/backend";
import { Serving } from "../src/serving";
import { loadSpec } from "../src/spec";
import { getEmbeddingDim } from "../src/store/catalog";
import { loadDemoWorld } from "../src/data/demo-data";
import { trackMatrix } from "../src/store/nearest";
import { openStore, type Store } from "../src/store/store";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = (process.env.BENCH_CLIENTS ?? "1,16").split(",").map(Number);
const WORLDS = {
  demo: { users: 2000, tracks: 5000, days: 28 },
  big: { users: 2000, tracks: 100_000, days: 14 },
};

async function worldStore(name: string, size: { users: number; tracks: number; days: number }): Promise<Store> {
  const dir = path.join(os.tmpdir(), `rubato-bench-serving-${name}-${size.users}-${size.tracks}-${size.days}`);
  const ready = path.join(dir, "ready");
  if (!fs.existsSync(ready)) fs.rmSync(dir, { recursive: true, force: true });
  const store = await openStore({ backend: "pglite", location: path.join(dir, "pgdata") });
  if (!fs.existsSync(ready)) {
    console.error(`bench:serving: loading ${size.users} users, ${size.tracks} tracks, ${size.days} days (once; kept in ${dir})...`);
    await loadDemoWorld(store, { ...size, seed: 1 });
    fs.writeFileSync(ready, "");
  }
  return store;
}

/** A finished fs-vae-quick run to serve: trained for one epoch, or with its initial weights (same graph, same cost). */
async function servedRun(store: Store): Promise<string> {
  const id = await findOrMakeRun(store);
  await store.sql.query(`UPDATE run SET active = false WHERE active`);
  await store.sql.query(`UPDATE run SET active = true WHERE id = $1`, [id]);
  return id;
}

async function findOrMakeRun(store: Store): Promise<string> {
  const wanted = process.env.BENCH_TRAIN === "1" ? "trained" : "untrained";
  const [existing] = await store.sql.query<{ id: string }>(
    `SELECT r.id FROM run r JOIN model_artifact a ON a.run_id = r.id WHERE r.status = 'SUCCEEDED' AND r.error IS NULL AND r.metrics->>'bench' = $1
      ORDER BY r.finished_at DESC LIMIT 1`,
    [wanted],
  );
  if (existing) return existing.id;
  if (wanted === "trained") {
    const run = await startRun(store, { model: "fs-vae-quick", overrides: { training: { epochs: 1 } } });
    const worker = new RunWorker(store, { exclusive: true, pollMs: 200 });
    console.error("bench:serving: training fs-vae-quick for one epoch...");
    const done = new Promise<void>((resolve, reject) =>
      worker.events.subscribe((e) => {
        if (e.kind !== "status" || e.runId !== run.id) return;
        if (e.status === "SUCCEEDED") resolve();
        else if (e.status === "FAILED" || e.status === "CANCELLED") reject(new Error(`training ${e.status}`));
      }),
    );
    await worker.start();
    await done;
    await worker.stop();
    await store.sql.query(`UPDATE run SET metrics = metrics || '{"bench": "trained"}'::jsonb WHERE id = $1`, [run.id]);
    return run.id;
  }
  const loaded = loadSpec("fs-vae-quick");
  if (!loaded.ok) throw new Error("fs-vae-quick does not load");
  const model = compileSpec(loaded.spec, (await getEmbeddingDim(store))!);
  const artifact = saveModel(model, { featureStats: { transform: loaded.spec.features.slow.transform, mean: [], std: [] } });
  disposeFsVae(model);
  const [{ id }] = await store.sql.query<{ id: string }>(
    `INSERT INTO run (id, model_name, spec_yaml, spec_hash, seed, status, finished_at, metrics)
     VALUES (gen_random_uuid(), 'fs-vae-quick', $1, 'bench', 7, 'SUCCEEDED', now(), '{"bench": "untrained"}') RETURNING id`,
    [loaded.yaml],
  );
  await store.sql.query(`INSERT INTO model_artifact (run_id, topology, weights) VALUES ($1, $2::jsonb, $3)`, [
    id,
    JSON.stringify(artifact.topology),
    artifact.weights,
  ]);
  return id;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function drive(clients: number, request: (i: number) => Promise<unknown>) {
  const latencies: number[] = [];
  let next = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await request(next++);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), rps: latencies.length / SECONDS };
}

async function main() {
  await initBackend(undefined, { logger: (m) => console.error(m) });
  for (const world of (process.env.BENCH_WORLDS ?? "demo,big").split(",") as (keyof typeof WORLDS)[]) {
    const store = await worldStore(world, WORLDS[world]);
    try {
      const runId = await servedRun(store);
      const users = (await store.sql.query<{ external_id: string }>(`SELECT external_id FROM app_user ORDER BY id`)).map(
        (r) => r.external_id,
      );
      const matrix = await trackMatrix(store);
      let batches = 0;
      let batched = 0;
      const serving = new Serving(store, { onBatch: (b) => ((batches += 1), (batched += b.size)) });
      const t = performance.now();
      await serving.warm();
      console.log(`serving_${world}_warm_s ${((performance.now() - t) / 1000).toFixed(2)}`);

      let hits = 0;
      const sample = 200;
      for (let s = 0; s < sample; s++) {
        const userId = users[(s * 37) % users.length];
        const [e, near] = await Promise.all([serving.userEmbedding({ userId }), serving.similarTracks({ userId })]);
        const exact = new Set(matrix.nearest(e.nextTrack, 10).map((n) => n.externalId));
        hits += near.neighbours.filter((n) => exact.has(n.trackId)).length;
      }
      console.log(`serving_${world}_recall10_user ${(hits / sample / 10).toFixed(3)}`);

      const operations: Record<string, (i: number) => Promise<unknown>> = {
        userEmbedding: (i) => serving.userEmbedding({ userId: users[(i * 7) % users.length] }),
        similarTracksByUser: (i) => serving.similarTracks({ userId: users[(i * 7) % users.length], k: 10 }),
        similarTracksByTrack: (i) => serving.similarTracks({ trackId: matrix.externalIds[(i * 7919) % matrix.externalIds.length], k: 10 }),
      };
      for (const [name, request] of Object.entries(operations))
        for (const clients of CLIENTS) {
          batches = 0;
          batched = 0;
          const cache = serving.stats.cache;
          const m = await drive(clients, request);
          const mean = batches ? (batched / batches).toFixed(1) : "-";
          const hits = serving.stats.cache.hits - cache.hits;
          const misses = serving.stats.cache.misses - cache.misses;
          const hitRate = hits + misses ? (hits / (hits + misses)).toFixed(2) : "-";
          console.log(
            `serving_${world}_${name}_c${clients} p50_ms ${m.p50.toFixed(1)} p99_ms ${m.p99.toFixed(1)} req_per_s ${m.rps.toFixed(0)} batch_mean ${mean} cache_hit_rate ${hitRate}`,
          );
        }
      console.error(`bench:serving: run ${runId}`);
      await serving.close();
    } finally {
      await store.close();
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
