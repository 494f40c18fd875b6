/**
 * A vae-cf run through the real queue and worker (startRun, RunWorker):
 * trained data-parallel on two threads (the helpers share the dataset's bag of
 * plays), SUCCEEDED with test metrics, every user's embedding stored from the
 * whole history's bag, and served from the store's play counts per track
 * (warm() reads them ahead of requests).
 */
import { loadDemoWorld } from "../../src/data/demo-data";
import { getRun, startRun, type RunView } from "../../src/jobs/runs";
import { RunWorker } from "../../src/jobs/worker";
import { Serving } from "../../src/serving";
import type { Store } from "../../src/store/store";
import { openTestStore } from "../helpers/store";

jest.setTimeout(300_000);

const OVERRIDES = {
  training: { epochs: 2, batch_size: 32, seed: 5, threads: 2 },
  vae_cf: { units: 16 },
  latent: { size: 6, kl_warmup_steps: 10 },
};

let store: Store;
let serving: Serving | null = null;

beforeAll(async () => {
  store = await openTestStore();
  await loadDemoWorld(store, { users: 40, tracks: 150, days: 6, seed: 3 });
});

afterAll(async () => {
  await serving?.close();
  await store?.close();
});

async function trained(model: string, overrides: unknown): Promise<RunView> {
  const started = await startRun(store, { model, overrides });
  const worker = new RunWorker(store, { exclusive: store.backend === "pglite", pollMs: 50, heartbeatMs: 500 });
  await worker.start();
  try {
    for (const deadline = Date.now() + 240_000; ;) {
      const run = await getRun(store, started.id);
      if (run.status === "SUCCEEDED") return run;
      if (["FAILED", "CANCELLED"].includes(run.status)) throw new Error(`training ${run.status}: ${run.error}`);
      if (Date.now() > deadline) throw new Error(`training still ${run.status} after 240 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await worker.stop();
  }
}

it("trains vae-cf through the queue on two threads, stores every user's embedding and serves the same", async () => {
  const run = await trained("vae-cf", OVERRIDES);
  expect(run).toMatchObject({ status: "SUCCEEDED", modelName: "vae-cf" });
  const [artifact] = await store.sql.query<{ topology: { format: string; type: string } }>(
    `SELECT topology FROM model_artifact WHERE run_id = $1`,
    [run.id],
  );
  expect(artifact.topology).toMatchObject({ format: "rubato-vae-cf/1", type: "vae-cf" });

  const users = await store.sql.query<{ external_id: string }>(`SELECT external_id FROM app_user ORDER BY id`);
  const stored = await store.sql.query<{ external_id: string; mu: number[]; sigma: number[] | null }>(
    `SELECT u.external_id, e.mu, e.sigma FROM user_embedding e JOIN app_user u ON u.id = e.user_id WHERE e.run_id = $1 ORDER BY u.id`,
    [run.id],
  );
  expect(stored.length).toBe(users.length);
  for (const s of stored) {
    expect(s.mu.length).toBe(6);
    expect(s.sigma!.length).toBe(6);
    expect(s.sigma!.every((v) => v > 0)).toBe(true);
  }
  // Users differ: their bags do.
  expect(new Set(stored.map((s) => s.mu.map((v) => v.toFixed(5)).join())).size).toBe(stored.length);

  // Serving reads the bag from the store's play counts per track: the stored numbers, to float rounding.
  serving = new Serving(store);
  // warm() reads every user's history with their bag ahead of requests: the latest embeddings need no read.
  expect(await serving.warm()).toMatchObject({ users: users.length });
  const latest = await Promise.all(stored.slice(0, 8).map((s) => serving!.userEmbedding({ userId: s.external_id })));
  expect(serving.stats.cache).toMatchObject({ misses: users.length, hits: 8 });
  latest.forEach((e, i) => e.mu.forEach((v, k) => expect(Math.abs(v - stored[i].mu[k])).toBeLessThan(1e-4)));
  const served = await Promise.all(
    stored.slice(0, 8).map((s) => serving!.userEmbedding({ userId: s.external_id, runId: run.id, asOf: run.dataCutoff })),
  );
  served.forEach((e, i) => {
    expect(e).toMatchObject({ modelName: "vae-cf", runId: run.id, fast: null, slow: null });
    e.mu.forEach((v, k) => expect(Math.abs(v - stored[i].mu[k])).toBeLessThan(1e-4));
  });
  const similar = await serving.similarTracks({ userId: stored[0].external_id, runId: run.id, k: 5 });
  expect(similar).toMatchObject({ runId: run.id });
  expect(similar.neighbours.length).toBe(5);
});
