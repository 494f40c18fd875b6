/**
 * More than one process on one PostgreSQL server (issue 17; docs/architecture.md,
 * "More than one process"): two `rubato serve --no-worker` and two `rubato worker`
 * on one database. Plays recorded through one server reach the other's
 * userEmbedding within a second; N queued runs are each trained exactly once;
 * a run activated is what both servers serve within a second; a worker killed
 * mid-run is taken over by the other once its heartbeat is older than the
 * timeout, and the run ends with an uninterrupted run's metrics.
 *
 * Needs a server (DATABASE_URL): the embedded store belongs to one process.
 */
import { activateRun, getRun, type RunView } from "../../src/jobs/runs";
import { loadDemoWorld } from "../../src/data/demo-data";
import { openStore, type Store } from "../../src/store/store";
import { gql } from "../api/client";
import { ended, processStore, tinyRun, waitForRun } from "./helpers";
import { kill9, rubato, terminate, type Rubato } from "./processes";

const KEY = "multi-process-test";
/** The test processes' heartbeat timeout (test/jobs/processes.ts). */
const TIMEOUT_MS = 1500;

const server = !!process.env.DATABASE_URL;
if (!server) console.warn("skipping test/jobs/multi-process.test.ts: it needs a PostgreSQL server (DATABASE_URL); see .ci/postgres.sh");

const EMBEDDING = `query($u: ID!) { userEmbedding(userId: $u) { runId plays mu } }`;
const RECORD = `mutation($p: [PlayInput!]!) { recordPlays(input: { plays: $p }) { recorded } }`;

type Embedding = { runId: string; plays: number; mu: number[] };

/** Polls `read` until `done` holds; returns how long that took (ms) and the last value. */
async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 10_000): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  for (;;) {
    const value = await read();
    if (done(value)) return { ms: performance.now() - started, value };
    if (performance.now() - started > timeoutMs) throw new Error(`still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

(server ? describe : describe.skip)("two servers started together on an empty PostgreSQL database", () => {
  it("load the demo world and queue the first model once", async () => {
    const shared = await processStore("rubato-multi-start-");
    const world = ["--demo-users", "60", "--demo-tracks", "300", "--demo-days", "3"];
    const serve = () =>
      rubato(["serve", "--port", "0", "--no-worker", "--default-models", "fs-vae-quick", ...world], { RUBATO_API_KEY: KEY, ...shared.env });
    const ps = [serve(), serve()];
    try {
      for (const p of ps) await p.waitFor(/"msg":"listening"/, 60_000);
      expect(ps.filter((p) => /"msg":"demo world loaded"/.test(p.output()))).toHaveLength(1);
      const store = await openStore(shared.config);
      try {
        const [row] = await store.sql.query<{ runs: number; events: number; loading: number }>(
          `SELECT (SELECT count(*)::int FROM run) AS runs, (SELECT count(*)::int FROM listening_event) AS events,
                  (SELECT count(*)::int FROM setting WHERE key = 'demo_world_loading') AS loading`,
        );
        expect(row).toMatchObject({ runs: 1, loading: 0 });
        expect(row.events).toBeGreaterThan(0);
      } finally {
        await store.close();
      }
    } finally {
      for (const p of ps) if (p.child.exitCode === null && p.child.signalCode === null) await terminate(p);
      await shared.drop();
    }
  }, 90_000);
});

(server ? describe : describe.skip)("more than one process on one PostgreSQL server", () => {
  let shared: Awaited<ReturnType<typeof processStore>>;
  let store: Store;
  let servers: { p: Rubato; graphql: string }[] = [];
  let workers: Rubato[] = [];
  let user: string;
  let track: string;

  beforeAll(async () => {
    shared = await processStore("rubato-multi-");
    store = await openStore(shared.config);
    await loadDemoWorld(store, { users: 30, tracks: 100, days: 4, seed: 8 });
    [{ user, track }] = await store.sql.query<{ user: string; track: string }>(
      `SELECT u.external_id AS user, (SELECT external_id FROM track ORDER BY id LIMIT 1) AS track
         FROM app_user u WHERE EXISTS (SELECT 1 FROM listening_event e WHERE e.user_id = u.id) ORDER BY u.id LIMIT 1`,
    );
    const serve = () =>
      rubato(["serve", "--port", "0", "--no-worker", "--no-demo", "--no-default-models"], { RUBATO_API_KEY: KEY, ...shared.env });
    const ps = [serve(), serve()];
    workers = [0, 1].map(() => rubato(["worker", "--checkpoint-every", "4"], shared.env));
    for (const p of ps) await p.waitFor(/"msg":"listening"/);
    for (const w of workers) await w.waitFor(/"msg":"worker started"/);
    servers = ps.map((p) => {
      const line = p
        .output()
        .split("\n")
        .find((l) => l.includes('"msg":"listening"'))!;
      return { p, graphql: (JSON.parse(line) as { graphql: string }).graphql };
    });
  }, 90_000);

  afterAll(async () => {
    for (const p of [...servers.map((s) => s.p), ...workers]) if (p.child.exitCode === null && p.child.signalCode === null) await terminate(p);
    await store?.close();
    await shared?.drop();
  });

  const embedding = async (i: number): Promise<Embedding> => {
    const r = await gql<{ userEmbedding: Embedding }>(servers[i].graphql, EMBEDDING, { u: user });
    if (!r.data?.userEmbedding) throw new Error(JSON.stringify(r.errors));
    return r.data.userEmbedding;
  };
  const claims = (id: string) => workers.map((w) => (w.output().match(new RegExp(`claimed run ${id}`, "g")) ?? []).length);

  it("trains each of N queued runs exactly once, the two workers sharing them", async () => {
    const runs = [];
    for (let seed = 1; seed <= 4; seed++) runs.push((await tinyRun(store, { seed })).id);
    const done: RunView[] = [];
    for (const id of runs) done.push(await waitForRun(store, id, ended, 90_000));
    expect(done.map((r) => [r.status, r.attempts])).toEqual(runs.map(() => ["SUCCEEDED", 1]));
    const perRun = runs.map(claims);
    expect(perRun.map(([a, b]) => a + b)).toEqual(runs.map(() => 1));
    // Both took some (each polls once a second, and a run takes seconds).
    expect(perRun.reduce((sum, [a]) => sum + a, 0)).toBeGreaterThan(0);
    expect(perRun.reduce((sum, [, b]) => sum + b, 0)).toBeGreaterThan(0);
  });

  it("shows plays recorded through one server in the other's userEmbedding within a second", async () => {
    const before = await embedding(1); // now in server 1's caches
    const playedAt = new Date(Date.now() - 1000).toISOString();
    const recorded = await gql(servers[0].graphql, RECORD, { p: [{ userId: user, trackId: track, playedAt }] }, KEY);
    expect(recorded.data).toEqual({ recordPlays: { recorded: 1 } });
    const seen = await until(
      () => embedding(1),
      (e) => e.plays === before.plays + 1,
    );
    console.log(`a play recorded through one server reached the other's userEmbedding after ${Math.round(seen.ms)} ms`);
    expect(seen.ms).toBeLessThan(1000);
    expect(seen.value.mu).not.toEqual(before.mu);
  });

  it("serves the run activated from another process on both servers within a second", async () => {
    const serving = (await embedding(0)).runId;
    const [other] = await store.sql.query<{ id: string }>(
      `SELECT id FROM run WHERE status = 'SUCCEEDED' AND id <> $1 ORDER BY finished_at LIMIT 1`,
      [serving],
    );
    // Each server loads that run's model first (as a request naming it would), so the wait measured is the switch itself.
    for (const s of servers) expect((await gql(s.graphql, `{ userEmbedding(userId: "${user}", runId: "${other.id}") { runId } }`)).errors).toBeUndefined();
    await activateRun(store, other.id);
    const seen = await Promise.all([0, 1].map((i) => until(() => embedding(i), (e) => e.runId === other.id)));
    console.log(`an activated run was served after ${seen.map((s) => Math.round(s.ms)).join(" and ")} ms`);
    for (const s of seen) expect(s.ms).toBeLessThan(1500); // the active run is looked up at most once a second
  });

  it("hands a run whose worker was killed to the other worker after the heartbeat timeout; it ends with an uninterrupted run's metrics", async () => {
    const id = (await tinyRun(store, { epochs: 25, seed: 11 })).id;
    const holder = await until(
      async () => claims(id).findIndex((n) => n > 0),
      (i) => i >= 0,
      30_000,
    ).then((r) => r.value);
    const [dying, taker] = [workers[holder], workers[1 - holder]];
    await dying.waitFor(new RegExp(`"runId":"${id}"[^\\n]*"msg":"checkpoint saved`), 60_000);
    await kill9(dying);
    const killedAt = Date.now();
    await taker.waitFor(new RegExp(`claimed run ${id} \\([^)]*attempt 2, resuming from its checkpoint`), 30_000);
    const tookMs = Date.now() - killedAt;
    console.log(`the other worker took the run ${tookMs} ms after the kill (heartbeat timeout ${TIMEOUT_MS} ms, a poll a second)`);
    expect(tookMs).toBeLessThan(TIMEOUT_MS + 1000 + 1500);
    const interrupted = await waitForRun(store, id, ended, 90_000);

    const reference = await waitForRun(store, (await tinyRun(store, { epochs: 25, seed: 11 })).id, ended, 90_000);
    expect(interrupted).toMatchObject({ status: "SUCCEEDED", attempts: 2, error: null });
    expect(reference).toMatchObject({ status: "SUCCEEDED", attempts: 1, error: null });
    const [ma, mb] = [interrupted.metrics, reference.metrics] as { test: { model: Record<string, number> }; steps: number }[];
    expect(ma.steps).toBe(mb.steps);
    for (const k of ["l2", "cosine", "hr10", "ndcg10", "mrr"]) expect(ma.test.model[k]).toBeCloseTo(mb.test.model[k], 6);
    expect((await getRun(store, id)).status).toBe("SUCCEEDED");
  });
});
