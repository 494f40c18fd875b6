import * as tf from "@tensorflow/tfjs-core";
import { Serving, type BatchInfo, type UserEmbeddingView } from "../../src/serving";
import type { RunView } from "../../src/jobs/runs";
import { loadModel, type ModelTopology } from "../../src/model/artifact";
import { decode, disposeFsVae } from "../../src/model/fsvae";
import { loadEvents } from "../../src/store/import/events";
import { loadTracks } from "../../src/store/import/tracks";
import { recentlyActiveUsers } from "../../src/store/history";
import { nearestTracks } from "../../src/store/nearest";
import type { Store } from "../../src/store/store";
import { backendName, openTestStore } from "../helpers/store";
import { expectSameNeighbours, failure, trainedWorld } from "./helpers";

/** Served neighbours and the store's exact search, in one shape. */
const same = (xs: (({ trackId: string } | { externalId: string }) & { distance: number })[]) =>
  xs.map((x) => ({ id: "trackId" in x ? x.trackId : x.externalId, distance: x.distance }));

function expectClose(got: ArrayLike<number> | null, want: ArrayLike<number> | null, tolerance = 1e-5): void {
  expect(got === null).toBe(want === null);
  if (!got || !want) return;
  expect(got.length).toBe(want.length);
  const worst = Array.from(got).reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
  expect(worst).toBeLessThanOrEqual(tolerance);
}

describe(`serving (${backendName})`, () => {
  let store: Store;
  let run: RunView;
  let serving: Serving;
  const batches: BatchInfo[] = [];
  let users: { id: number; external_id: string }[];

  beforeAll(async () => {
    store = await openTestStore();
    run = await trainedWorld(store);
    serving = new Serving(store, { onBatch: (b) => batches.push(b) });
    users = await store.sql.query(`SELECT id, external_id FROM app_user ORDER BY id`);
  });
  afterAll(async () => {
    await serving?.close();
    await store?.close();
  });

  /**
   * The decoder's output for a served mu, computed here from the stored
   * artifact; the skip path (fs-vae-quick's decoder.skip) adds the user's last
   * plays' embeddings, which x_s carries in the columns the model reads.
   */
  async function decoded(runId: string, mu: number[], userId: string): Promise<Float32Array> {
    const [a] = await store.sql.query<{ topology: ModelTopology; weights: Uint8Array }>(
      `SELECT topology, weights FROM model_artifact WHERE run_id = $1`,
      [runId],
    );
    const model = loadModel({ topology: a.topology, weights: Buffer.from(a.weights) });
    try {
      const { window: w, inputDim, embeddingOffset = 0 } = model.config.encoderS!;
      const dim = model.config.decoder.outputDim;
      const x_s = new Float32Array(w * inputDim);
      const last = await store.sql.query<{ embedding: number[] }>(
        `SELECT t.embedding FROM listening_event e JOIN app_user u ON u.id = e.user_id JOIN track t ON t.id = e.track_id
          WHERE u.external_id = $1 ORDER BY e.played_at DESC, e.track_id DESC LIMIT $2`,
        [userId, w],
      );
      last.forEach(({ embedding }, k) => x_s.set(embedding.slice(0, dim), (w - 1 - k) * inputDim + embeddingOffset));
      return tf.tidy(() => decode(model, tf.tensor2d([mu]), tf.tensor3d(x_s, [1, w, inputDim]))).dataSync() as Float32Array;
    } finally {
      disposeFsVae(model);
    }
  }

  /** The user's last `w` plays' tracks (external ids). */
  async function recentTracks(userId: string, w: number): Promise<string[]> {
    const rows = await store.sql.query<{ external_id: string }>(
      `SELECT t.external_id FROM listening_event e JOIN app_user u ON u.id = e.user_id JOIN track t ON t.id = e.track_id
        WHERE u.external_id = $1 ORDER BY e.played_at DESC, e.track_id DESC LIMIT $2`,
      [userId, w],
    );
    return rows.map((r) => r.external_id);
  }

  it("serves, as of the run's cut-off, the embedding the run stored for every user", async () => {
    const stored = await store.sql.query<{ external_id: string; as_of: Date; mu: number[]; sigma: number[] | null }>(
      `SELECT u.external_id, e.as_of, e.mu, e.sigma FROM user_embedding e JOIN app_user u ON u.id = e.user_id WHERE e.run_id = $1`,
      [run.id],
    );
    expect(stored.length).toBe(users.length);
    const served = await Promise.all(stored.map((s) => serving.userEmbedding({ userId: s.external_id, asOf: run.dataCutoff })));
    stored.forEach((s, i) => {
      const e = served[i];
      expect(e).toMatchObject({ userId: s.external_id, runId: run.id, modelName: "fs-vae-quick" });
      expect(e.asOf.getTime()).toBe(run.dataCutoff!.getTime());
      expectClose(e.mu, s.mu);
      expectClose(e.sigma, s.sigma);
      // concat: mu = [fast part, slow part], K = 4 each
      expect(e.fast!.mu.length).toBe(4);
      expect(e.slow!.mu.length).toBe(4);
      expectClose(e.mu, [...e.fast!.mu, ...e.slow!.mu], 0);
      expectClose(e.sigma, [...e.fast!.sigma!, ...e.slow!.sigma!], 0);
    });
    expect(served.every((e) => e.plays > 0)).toBe(true);
  });

  it("without asOf reads every play: asOf is the user's last play", async () => {
    const u = users[3].external_id;
    const [{ last, n }] = await store.sql.query<{ last: Date; n: number }>(
      `SELECT max(played_at) AS last, count(*)::int AS n FROM listening_event WHERE user_id = $1`,
      [users[3].id],
    );
    const e = await serving.userEmbedding({ userId: u });
    expect(e.asOf.getTime()).toBe(new Date(last).getTime());
    expect(e.plays).toBe(n);
    expect(e.runId).toBe(run.id);
    // an earlier asOf reads fewer plays
    const earlier = await serving.userEmbedding({ userId: u, asOf: new Date(new Date(last).getTime() - 86_400_000) });
    expect(earlier.plays).toBeLessThan(n);
    expect(earlier.mu).not.toEqual(e.mu);
  });

  it("batches concurrent requests into one SQL fetch and one forward pass, with the same results as one by one", async () => {
    const ids = users.slice(0, 12).map((u) => u.external_id);
    // Fresh services over a store that counts the history reads (latestHistories: one statement per batch).
    const reads: number[] = [];
    const counting: Store = {
      ...store,
      sql: { ...store.sql, query: (text, params) => (text.includes("WITH ORDINALITY") && reads.push(1), store.sql.query(text, params)) },
    };
    const sizes = (list: BatchInfo[]) => list.map((b) => b.size);
    const one: UserEmbeddingView[] = [];
    const seqBatches: BatchInfo[] = [];
    const sequential = new Serving(counting, { onBatch: (b) => seqBatches.push(b) });
    for (const userId of ids) one.push(await sequential.userEmbedding({ userId }));
    expect(sizes(seqBatches)).toEqual(ids.map(() => 1));
    expect(reads.length).toBe(ids.length);
    sequential.close();

    reads.length = 0;
    const together: BatchInfo[] = [];
    const concurrent = new Serving(counting, { onBatch: (b) => together.push(b) });
    const all = await Promise.all(ids.map((userId) => concurrent.userEmbedding({ userId })));
    expect(together).toEqual([{ size: 12, models: 1, ms: expect.any(Number) }]);
    expect(concurrent.stats).toMatchObject({ batches: 1, requests: 12, largestBatch: 12, cache: { misses: 12, hits: 0 } });
    expect(reads.length).toBe(1);
    all.forEach((e, i) => {
      expect(e.userId).toBe(ids[i]);
      expect(e.asOf).toEqual(one[i].asOf);
      expectClose(e.mu, one[i].mu, 1e-6);
      expectClose(e.sigma, one[i].sigma, 1e-6);
      expectClose(e.fast!.mu, one[i].fast!.mu, 1e-6);
    });
    // Asked again together: one batch, no history read at all (the users are cached).
    reads.length = 0;
    const again = await Promise.all(ids.map((userId) => concurrent.userEmbedding({ userId })));
    expect(reads.length).toBe(0);
    expect(concurrent.stats.cache.hits).toBe(12);
    again.forEach((e, i) => expectClose(e.mu, all[i].mu, 0));
    concurrent.close();
  });

  it("warm() reads every user's latest history ahead of requests, so first requests need no history read", async () => {
    const warmed = new Serving(store);
    const [{ n }] = await store.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM app_user");
    expect(await warmed.warm()).toMatchObject({ users: n }); // fewer users than prefillUsers (10,000)
    expect(warmed.stats.cache.misses).toBe(n);
    const ids = users.slice(0, 8).map((u) => u.external_id);
    const served = await Promise.all(ids.map((userId) => warmed.userEmbedding({ userId })));
    expect(warmed.stats.cache).toMatchObject({ misses: n, hits: ids.length });
    const cold = new Serving(store);
    for (const [i, userId] of ids.entries()) expectClose(served[i].mu, (await cold.userEmbedding({ userId })).mu, 1e-6);
    warmed.close();
    cold.close();
  });

  it("warm() reads only the prefillUsers most recently active users, found without reading every play", async () => {
    // The reference: every user's last play by a full aggregate, most recent first, ties by id.
    const byRecency = (
      await store.sql.query<{ external_id: string }>(
        `SELECT u.external_id FROM app_user u JOIN (SELECT user_id, max(played_at) AS last FROM listening_event GROUP BY user_id) e
            ON e.user_id = u.id ORDER BY e.last DESC, u.id`,
      )
    ).map((r) => r.external_id);
    // Pages smaller than the population and a best-n smaller than a page: both paths of the keyset read.
    expect(await recentlyActiveUsers(store, 7, 4)).toEqual(byRecency.slice(0, 7));
    expect(await recentlyActiveUsers(store, 3, 100)).toEqual(byRecency.slice(0, 3));
    expect(await recentlyActiveUsers(store, 0)).toEqual([]);
    const warmed = new Serving(store, { prefillUsers: 5 });
    expect(await warmed.warm()).toMatchObject({ users: 5 });
    expect(warmed.stats.cache.misses).toBe(5);
    await warmed.userEmbedding({ userId: byRecency[0] });
    await warmed.userEmbedding({ userId: byRecency[byRecency.length - 1] });
    expect(warmed.stats.cache).toMatchObject({ hits: 1, misses: 6 });
    // cachedUsers bounds the prefill too; 0 reads none.
    const small = new Serving(store, { cachedUsers: 2 });
    expect(await small.warm()).toMatchObject({ users: 2 });
    const none = new Serving(store, { prefillUsers: 0 });
    expect(await none.warm()).toMatchObject({ users: 0 });
    expect(none.stats.cache.misses).toBe(0);
    for (const s of [warmed, small, none]) await s.close();
  });

  it("a bad request in a batch fails alone", async () => {
    batches.length = 0;
    const results = await Promise.allSettled([
      serving.userEmbedding({ userId: users[0].external_id }),
      serving.userEmbedding({ userId: "nobody" }),
      serving.userEmbedding({ userId: users[1].external_id, asOf: new Date("2000-01-01T00:00:00Z") }),
      serving.userEmbedding({ userId: users[1].external_id }),
    ]);
    expect(batches.map((b) => b.size)).toEqual([4]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: "NOT_FOUND", message: 'no user "nobody"' });
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: "BAD_USER_INPUT", details: { field: "asOf" } });
  });

  it.each(["l2", "cosine"] as const)("similarTracks by user: the exact nearest tracks to decode(mu) (%s)", async (metric) => {
    const u = users[5].external_id;
    const e = await serving.userEmbedding({ userId: u });
    const got = await serving.similarTracks({ userId: u, k: 10, metric });
    expect(got).toMatchObject({ runId: run.id, metric });
    const target = await decoded(run.id, e.mu, u);
    expectClose(e.nextTrack, target, 1e-5);
    const exact = await nearestTracks(store, target, 10, { method: "exact", metric });
    expectSameNeighbours(same(got.neighbours), same(exact));
  });

  it("similarTracks by user with excludeRecent leaves out the last window's tracks", async () => {
    const u = users[6].external_id;
    const recent = await recentTracks(u, 5); // fs-vae-quick's fast window
    const e = await serving.userEmbedding({ userId: u });
    const target = await decoded(run.id, e.mu, u);
    const all = await serving.similarTracks({ userId: u, k: 140 });
    expect(all.neighbours.some((n) => recent.includes(n.trackId))).toBe(true);
    const got = await serving.similarTracks({ userId: u, k: 10, excludeRecent: true });
    expect(got.neighbours.filter((n) => recent.includes(n.trackId))).toEqual([]);
    const exact = await nearestTracks(store, target, 10, { method: "exact", exclude: recent });
    expectSameNeighbours(same(got.neighbours), same(exact));
  });

  it("similarTracks by track: the exact nearest tracks, the track itself excluded", async () => {
    const [t] = await store.sql.query<{ external_id: string; embedding: number[] }>(
      `SELECT external_id, embedding FROM track ORDER BY id OFFSET 17 LIMIT 1`,
    );
    for (const metric of ["l2", "cosine"] as const) {
      const got = await serving.similarTracks({ trackId: t.external_id, k: 7, metric });
      expect(got).toMatchObject({ runId: null, metric });
      expect(got.neighbours.map((n) => n.trackId)).not.toContain(t.external_id);
      const exact = await nearestTracks(store, t.embedding, 7, { method: "exact", metric, exclude: [t.external_id] });
      expectSameNeighbours(same(got.neighbours), same(exact));
    }
    expect((await serving.similarTracks({ trackId: t.external_id })).neighbours.length).toBe(10);
  });

  it("recordPlays: the next read uses the new plays without retraining (the fast part moves)", async () => {
    const u = users[8];
    const before = await serving.userEmbedding({ userId: u.external_id });
    const tracks = await store.sql.query<{ external_id: string }>(`SELECT external_id FROM track ORDER BY id DESC LIMIT 3`);
    const t0 = before.asOf.getTime();
    const plays = tracks.map((t, i) => ({
      userId: u.external_id,
      trackId: t.external_id,
      playedAt: new Date(t0 + (i + 1) * 60_000),
      liked: true,
    }));
    expect(await serving.recordPlays(plays)).toEqual({ recorded: 3, duplicates: 0, usersCreated: 0 });
    const after = await serving.userEmbedding({ userId: u.external_id });
    expect(after.plays).toBe(before.plays + 3);
    expect(after.asOf.getTime()).toBe(t0 + 3 * 60_000);
    const moved = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    expect(moved(after.fast!.mu, before.fast!.mu)).toBeGreaterThan(1e-4);
    expect(moved(after.slow!.mu, before.slow!.mu)).toBeGreaterThan(0);
    // the new plays are now the recent window
    const next = await serving.similarTracks({ userId: u.external_id, k: 20, excludeRecent: true });
    for (const t of tracks) expect(next.neighbours.map((n) => n.trackId)).not.toContain(t.external_id);
    // as of the old time, nothing changed
    const then = await serving.userEmbedding({ userId: u.external_id, asOf: before.asOf });
    expectClose(then.mu, before.mu, 1e-6);
  });

  it("keeps users' latest plays in memory, and still sees plays written by any path", async () => {
    const u = users[9].external_id;
    const first = await serving.userEmbedding({ userId: u });
    const before = serving.stats.cache;
    const again = await serving.userEmbedding({ userId: u });
    expect(serving.stats.cache.hits).toBe(before.hits + 1);
    expect(again).toEqual(first);
    // Our own recordPlays: only that user is read again.
    const other = users[10].external_id;
    await serving.userEmbedding({ userId: other });
    const [t] = await store.sql.query<{ external_id: string }>(`SELECT external_id FROM track ORDER BY id LIMIT 1`);
    await serving.recordPlays([{ userId: u, trackId: t.external_id, playedAt: new Date(first.asOf.getTime() + 60_000) }]);
    const clears = serving.stats.cache.clears;
    const [mine, theirs] = await Promise.all([serving.userEmbedding({ userId: u }), serving.userEmbedding({ userId: other })]);
    expect(mine.plays).toBe(first.plays + 1);
    expect(serving.stats.cache.clears).toBe(clears);
    // Any other writer (an import here) moves the event counter: everything is read again.
    const plays = (await serving.userEmbedding({ userId: other })).plays;
    await loadEvents(
      store,
      (async function* () {
        yield [
          {
            line: 1,
            user: other,
            track: t.external_id,
            playedAt: new Date(theirs.asOf.getTime() + 60_000),
            skipped: false,
            liked: false,
            addedToPlaylist: false,
            restarted: false,
            msPlayed: null,
            context: null,
          },
        ];
      })(),
    );
    expect((await serving.userEmbedding({ userId: other })).plays).toBe(plays + 1);
    expect(serving.stats.cache.clears).toBe(clears + 1);
  });

  it("sees a track imported after the catalogue was cached, as a query and in plays", async () => {
    const [t] = await store.sql.query<{ embedding: number[] }>(`SELECT embedding FROM track ORDER BY id LIMIT 1`);
    await serving.similarTracks({
      trackId: (await store.sql.query<{ external_id: string }>(`SELECT external_id FROM track LIMIT 1`))[0].external_id,
    });
    await loadTracks(
      store,
      (async function* () {
        yield [{ line: 1, externalId: "fresh-track", title: null, artist: null, genre: null, embedding: t.embedding.map((v) => v + 0.01) }];
      })(),
    );
    const near = await serving.similarTracks({ trackId: "fresh-track", k: 3 });
    expect(near.neighbours).toHaveLength(3);
    const u = users[11].external_id;
    const last = (await serving.userEmbedding({ userId: u })).asOf;
    await serving.recordPlays([{ userId: u, trackId: "fresh-track", playedAt: new Date(last.getTime() + 1000) }]);
    const e = await serving.userEmbedding({ userId: u });
    expect(e.asOf.getTime()).toBe(last.getTime() + 1000);
    const byUser = await serving.similarTracks({ userId: u, k: 200, excludeRecent: true });
    expect(byUser.neighbours.map((n) => n.trackId)).not.toContain("fresh-track");
  });

  it("rejects bad requests with stable codes", async () => {
    const u = users[0].external_id;
    const [t] = await store.sql.query<{ external_id: string }>(`SELECT external_id FROM track LIMIT 1`);
    await expect(failure(serving.userEmbedding({ userId: "ghost" }))).resolves.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining('"ghost"'),
    });
    await expect(failure(serving.userEmbedding({ userId: "" }))).resolves.toMatchObject({ code: "BAD_USER_INPUT" });
    await expect(failure(serving.userEmbedding({ userId: u, asOf: new Date("2001-01-01T00:00:00Z") }))).resolves.toMatchObject({
      code: "BAD_USER_INPUT",
      message: expect.stringContaining("before their first play"),
    });
    await expect(failure(serving.userEmbedding({ userId: u, asOf: new Date("nonsense") }))).resolves.toMatchObject({
      code: "BAD_USER_INPUT",
    });
    const missingRun = "00000000-0000-4000-8000-000000000000";
    await expect(failure(serving.userEmbedding({ userId: u, runId: missingRun }))).resolves.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining(missingRun),
    });
    await expect(failure(serving.userEmbedding({ userId: u, runId: "run-7" }))).resolves.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining('"run-7"'),
    });
    await expect(failure(serving.similarTracks({ trackId: "no-such-track" }))).resolves.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining('"no-such-track"'),
    });
    await expect(failure(serving.similarTracks({ userId: "ghost" }))).resolves.toMatchObject({ code: "NOT_FOUND" });
    for (const k of [0, 1001, 2.5, -3])
      await expect(failure(serving.similarTracks({ trackId: t.external_id, k }))).resolves.toMatchObject({
        code: "BAD_USER_INPUT",
        details: { field: "k" },
      });
    await expect(failure(serving.similarTracks({ trackId: t.external_id, userId: u }))).resolves.toMatchObject({
      code: "BAD_USER_INPUT",
      message: expect.stringContaining("exactly one of trackId"),
    });
    await expect(failure(serving.similarTracks({}))).resolves.toMatchObject({ code: "BAD_USER_INPUT" });
    await expect(failure(serving.similarTracks({ trackId: t.external_id, excludeRecent: true }))).resolves.toMatchObject({
      code: "BAD_USER_INPUT",
      details: { field: "excludeRecent" },
    });
    await expect(failure(serving.similarTracks({ trackId: t.external_id, metric: "dot" as "l2" }))).resolves.toMatchObject({
      code: "BAD_USER_INPUT",
    });
  });

  it("a given run must have succeeded with a model: CONFLICT otherwise", async () => {
    const u = users[0].external_id;
    const insert = async (status: string, name: string) =>
      (
        await store.sql.query<{ id: string }>(
          `INSERT INTO run (id, model_name, spec_yaml, spec_hash, seed, status) VALUES (gen_random_uuid(), $1, 'name: x', 'h', 1, $2::run_status)
           RETURNING id`,
          [name, status],
        )
      )[0].id;
    const queued = await insert("QUEUED", "fs-vae-quick");
    const failed = await insert("FAILED", "fs-vae-quick");
    const baseline = await insert("SUCCEEDED", "average");
    await expect(failure(serving.userEmbedding({ userId: u, runId: queued }))).resolves.toMatchObject({
      code: "CONFLICT",
      message: `run ${queued} is QUEUED; only a successful run with a model can serve`,
    });
    await expect(failure(serving.similarTracks({ userId: u, runId: failed }))).resolves.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("is FAILED"),
    });
    await expect(failure(serving.userEmbedding({ userId: u, runId: baseline }))).resolves.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("without a model"),
    });
    await store.sql.query(`DELETE FROM run WHERE id = ANY($1::uuid[])`, [[queued, failed, baseline]]);
  });

  it("follows the active run after invalidate(), keeps at most maxModels loaded, and leaks no tensors", async () => {
    const [{ id: copy }] = await store.sql.query<{ id: string }>(
      `INSERT INTO run (id, model_name, spec_yaml, spec_hash, seed, data_cutoff, status, finished_at)
       SELECT gen_random_uuid(), model_name, spec_yaml, spec_hash, seed, data_cutoff, 'SUCCEEDED', now() FROM run WHERE id = $1
       RETURNING id`,
      [run.id],
    );
    await store.sql.query(
      `INSERT INTO model_artifact (run_id, topology, weights) SELECT $2, topology, weights FROM model_artifact WHERE run_id = $1`,
      [run.id, copy],
    );
    const u = users[2].external_id;
    try {
      // The copy finished last, so it is now the active run.
      serving.invalidate();
      const e = await serving.userEmbedding({ userId: u });
      expect(e.runId).toBe(copy);
      const tensors = tf.memory().numTensors;
      const small = new Serving(store, { maxModels: 1 });
      const views = [];
      for (const runId of [run.id, copy, run.id, copy]) views.push(await small.userEmbedding({ userId: u, runId }));
      expect(views.map((v) => v.runId)).toEqual([run.id, copy, run.id, copy]);
      views.forEach((v) => expectClose(v.mu, e.mu, 1e-6));
      await small.similarTracks({ userId: u, runId: run.id });
      small.close();
      await new Promise((resolve) => setImmediate(resolve));
      expect(tf.memory().numTensors).toBe(tensors);
    } finally {
      await store.sql.query(`DELETE FROM run WHERE id = $1`, [copy]);
      serving.invalidate();
    }
    expect((await serving.userEmbedding({ userId: u })).runId).toBe(run.id);
  });

  it("never answers a track without a usable embedding (a stored zero vector or none), by user or by track", async () => {
    const [{ dim }] = await store.sql.query<{ dim: number }>("SELECT array_length(embedding, 1) AS dim FROM track LIMIT 1");
    const blank = (externalId: string, embedding: number[] | null) => ({
      line: 1,
      externalId,
      title: null,
      artist: null,
      genre: null,
      embedding,
    });
    await loadTracks(
      store,
      (async function* () {
        yield [blank("zero-a", new Array<number>(dim).fill(0)), blank("zero-b", new Array<number>(dim).fill(0)), blank("vectorless", null)];
      })(),
    );
    const without = ["zero-a", "zero-b", "vectorless"];
    // A listener whose last plays are those tracks.
    const u = users[12].external_id;
    const last = (await serving.userEmbedding({ userId: u })).asOf.getTime();
    await serving.recordPlays(without.map((trackId, i) => ({ userId: u, trackId, playedAt: new Date(last + (i + 1) * 60_000) })));
    const [{ tracks }] = await store.sql.query<{ tracks: number }>("SELECT count(*)::int AS tracks FROM track");
    for (const metric of ["l2", "cosine"] as const) {
      // k beyond the catalogue: every candidate comes back, so any of them would show.
      const byUser = await serving.similarTracks({ userId: u, k: tracks + 10, metric });
      expect(byUser.neighbours.length).toBe(tracks - without.length);
      expect(byUser.neighbours.filter((n) => without.includes(n.trackId))).toEqual([]);
      const [t] = await store.sql.query<{ external_id: string }>(`SELECT external_id FROM track ORDER BY id OFFSET 5 LIMIT 1`);
      const byTrack = await serving.similarTracks({ trackId: t.external_id, k: tracks + 10, metric });
      expect(byTrack.neighbours.length).toBe(tracks - without.length - 1);
      expect(byTrack.neighbours.filter((n) => without.includes(n.trackId))).toEqual([]);
    }
    for (const trackId of without)
      await expect(failure(serving.similarTracks({ trackId }))).resolves.toMatchObject({
        code: "BAD_USER_INPUT",
        message: `track ${JSON.stringify(trackId)} has no embedding, so it has no neighbours`,
        details: { field: "trackId", trackId },
      });
    expect((await serving.tracks(["zero-a", "vectorless"])).map((t) => t?.embedding)).toEqual([null, null]);
  });
});
