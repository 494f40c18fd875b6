/**
 * JODIE and LatentCross end to end: started over GraphQL, trained by the
 * queue's worker (the training thread, the stored user embeddings), then
 * served: userEmbedding and similarTracks(userId:) answer for their runs.
 */
import { startServer, type RunningServer } from "../../src/api/server";
import { RunWorker } from "../../src/jobs/worker";
import { loadDemoWorld } from "../../src/data/demo-data";
import type { Store } from "../../src/store/store";
import { openTestStore, backendName } from "../helpers/store";
import { ended, waitForRun } from "../jobs/helpers";
import { gql } from "./client";

jest.setTimeout(300_000);

const KEY = "test-key-123";
const USER = "u00003";
const TRAINING = { epochs: 2, batch_size: 64, early_stopping: { patience: 5 } };
const RUNS = [
  { model: "jodie", overrides: { jodie: { units: 8, static_units: 4 }, training: TRAINING }, width: 12 },
  { model: "latent-cross", overrides: { latent_cross: { units: 8, head: { units: 8 } }, training: TRAINING }, width: 8 },
];

describe(`jodie and latent-cross over GraphQL and the queue (${backendName})`, () => {
  let store: Store;
  let server: RunningServer;
  let worker: RunWorker;
  let url: string;
  const runIds: string[] = [];
  const q = (query: string, variables: Record<string, unknown> = {}, key?: string) => gql(url, query, variables, key);

  beforeAll(async () => {
    store = await openTestStore();
    await loadDemoWorld(store, { users: 40, tracks: 120, days: 5, seed: 4 });
    worker = new RunWorker(store, { exclusive: store.backend === "pglite", pollMs: 100, heartbeatMs: 200 });
    server = await startServer(store, { port: 0, policy: { apiKey: KEY, openQueries: true }, worker });
    url = server.graphqlUrl;
    for (const { model, overrides } of RUNS) {
      const started = await q(
        `mutation($input: StartTrainingInput!) { startTraining(input: $input) { run { id status model } } }`,
        { input: { model, overrides, seed: 3 } },
        KEY,
      );
      expect(started.errors).toBeUndefined();
      expect(started.data!.startTraining.run).toMatchObject({ status: "QUEUED", model });
      runIds.push(started.data!.startTraining.run.id);
    }
    await worker.start();
    for (const id of runIds) await waitForRun(store, id, ended, 240_000);
  });

  afterAll(async () => {
    await worker?.stop();
    await server?.close();
    await store?.close();
  });

  it.each(RUNS.map((r, i) => [r.model, i, r.width] as const))("%s: the run succeeds and serves its users", async (model, i, width) => {
    const runId = runIds[i];
    const run = await q(`query($id: ID!) { run(id: $id) { status error hasModel model } }`, { id: runId });
    expect(run.data!.run).toEqual({ status: "SUCCEEDED", error: null, hasModel: true, model });
    const [{ n }] = await store.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM user_embedding WHERE run_id = $1`, [runId]);
    expect(n).toBeGreaterThan(0);

    const e = await q(
      `query($u: ID!, $r: ID) { userEmbedding(userId: $u, runId: $r) { runId model mu sigma fast { mu } slow { mu } nextTrack } }`,
      { u: USER, r: runId },
    );
    expect(e.errors).toBeUndefined();
    const embedding = e.data!.userEmbedding;
    expect(embedding).toMatchObject({ runId, model, sigma: null, fast: null, slow: null });
    expect(embedding.mu).toHaveLength(width);
    expect(embedding.mu.every(Number.isFinite)).toBe(true);

    const near = await q(`query($u: ID!, $r: ID) { similarTracks(userId: $u, runId: $r, k: 5) { track { id } distance } }`, {
      u: USER,
      r: runId,
    });
    expect(near.errors).toBeUndefined();
    const distances = near.data!.similarTracks.map((n: { distance: number }) => n.distance);
    expect(distances).toHaveLength(5);
    expect(distances).toEqual([...distances].sort((a, b) => a - b));
  });
});
