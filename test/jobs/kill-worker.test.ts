/**
 * kill -9 mid-run (issue 17): a `rubato worker` killed while it writes a
 * checkpoint (the RUBATO_TEST_PAUSE_AT=checkpoint hook holds the write's
 * transaction open before its commit), then a `rubato serve` killed
 * mid-training while it resumes the run. After each kill nothing of the
 * process is left, the store opens again (for PGlite: the same data directory)
 * and still holds the last committed checkpoint. A restarted worker re-queues
 * the run (at once on PGlite; on a server once its heartbeat is older than the
 * timeout), resumes it, and reaches the test metrics of an uninterrupted run
 * of the same spec and seed.
 */
import { getRun } from "../../src/jobs/runs";
import { deserializeCheckpoint } from "../../src/train/checkpoint";
import { loadDemoWorld } from "../../src/data/demo-data";
import { openStore } from "../../src/store/store";
import type { StoreConfig } from "../../src/store/config";
import { backendName } from "../helpers/store";
import { processStore, tinyRun } from "./helpers";
import { kill9, rubato, waitForNth, type Rubato } from "./processes";

type Shared = Awaited<ReturnType<typeof processStore>>;

/** The test processes' heartbeat timeout (test/jobs/processes.ts). */
const TIMEOUT_MS = 1500;
const EPOCHS = 25;

/** The run's row, and the step of the checkpoint it holds. */
async function runState(config: StoreConfig, id: string) {
  const store = await openStore(config);
  try {
    const [row] = await store.sql.query<{ status: string; attempts: number; error: string | null; checkpoint: Uint8Array | null }>(
      `SELECT status, attempts, error, checkpoint FROM run WHERE id = $1`,
      [id],
    );
    const { checkpoint, ...rest } = row;
    return { ...rest, step: checkpoint ? deserializeCheckpoint(Buffer.from(checkpoint)).loop.step : null };
  } finally {
    await store.close();
  }
}

/** The step of the last "checkpoint saved" line (a checkpoint that committed). */
function lastSavedStep(p: Rubato): number {
  const steps = [...p.output().matchAll(/checkpoint saved at epoch \d+, step (\d+)/g)].map((m) => Number(m[1]));
  expect(steps.length).toBeGreaterThan(0);
  return steps[steps.length - 1];
}

/** The log line's time (pino's epoch milliseconds) of the first line matching `msg`. */
function loggedAt(p: Rubato, msg: RegExp): number {
  const line = p
    .output()
    .split("\n")
    .find((l) => msg.test(l));
  expect(line).toBeDefined();
  return (JSON.parse(line!) as { time: number }).time;
}

describe(`kill -9 mid-run (${backendName})`, () => {
  let shared: Shared;
  let runId: string;
  let killedAt = 0;
  beforeAll(async () => {
    shared = await processStore("rubato-kill-worker-");
    const store = await openStore(shared.config);
    await loadDemoWorld(store, { users: 30, tracks: 100, days: 4, seed: 8 });
    runId = (await tinyRun(store, { epochs: EPOCHS })).id;
    await store.close();
  }, 60_000);
  afterAll(() => shared?.drop());

  const worker = (env: NodeJS.ProcessEnv = {}, ...args: string[]) =>
    rubato(["worker", "--checkpoint-every", "4", ...args], { ...shared.env, ...env });

  it("a worker killed while it writes a checkpoint: the checkpoint being written is lost, the one committed before it stays", async () => {
    // Each checkpoint's transaction is held 1 s before its commit: the first commits, the second is killed.
    const w = worker({ RUBATO_TEST_PAUSE_AT: "checkpoint", RUBATO_TEST_PAUSE_MS: "1000" });
    await waitForNth(w, /RUBATO_TEST_PAUSED checkpoint/, 2);
    const committed = lastSavedStep(w);
    await kill9(w);
    killedAt = Date.now();
    expect(w.output()).not.toMatch(/SUCCEEDED|FAILED/);
    expect(await runState(shared.config, runId)).toEqual({ status: "RUNNING", attempts: 1, error: null, step: committed });
  });

  it("a server killed mid-training while it resumes the run: its last committed checkpoint stays", async () => {
    const s = rubato(["serve", "--port", "0", "--no-demo", "--no-default-models"], { RUBATO_API_KEY: "kill-test", ...shared.env });
    await s.waitFor(/resuming from its checkpoint/);
    await s.waitFor(/checkpoint saved/);
    const committed = lastSavedStep(s);
    await kill9(s);
    killedAt = Date.now();
    expect(s.output()).not.toMatch(/SUCCEEDED|FAILED/);
    const state = await runState(shared.config, runId);
    expect(state).toMatchObject({ status: "RUNNING", attempts: 2, error: null });
    // The kill may land between a checkpoint's commit and its log line: never before the last one logged.
    expect(state.step).toBeGreaterThanOrEqual(committed);
  });

  it("a restarted worker re-queues the run within the heartbeat timeout and finishes it with an uninterrupted run's metrics", async () => {
    // The same spec and seed, queued after the interrupted run: the same worker trains it next, uninterrupted.
    let store = await openStore(shared.config);
    const referenceId = (await tinyRun(store, { epochs: EPOCHS })).id;
    await store.close();

    const w = worker({}, "--once");
    const { code } = await w.exited;
    expect({ code, output: w.output() }).toMatchObject({ code: 0, output: expect.stringMatching(/attempt 3, resuming from its checkpoint/) });
    // PGlite: the store's owner re-queues at start. Server: once the dead worker's heartbeat is older than the timeout.
    const started = loggedAt(w, /"msg":"worker started"/);
    const claimed = loggedAt(w, new RegExp(`claimed run ${runId}`));
    const due = backendName === "pglite" ? started : Math.max(started, killedAt + TIMEOUT_MS);
    expect(claimed - due).toBeLessThan(2500); // a poll a second, and a loaded machine

    store = await openStore(shared.config);
    try {
      const [a, b] = [await getRun(store, runId), await getRun(store, referenceId)];
      const [open] = await store.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM run WHERE status = 'RUNNING'`);
      const [curves] = await store.sql.query<{ n: number; steps: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT (kind, step))::int AS steps FROM run_progress WHERE run_id = $1`,
        [runId],
      );
      expect(open.n).toBe(0);
      expect(a).toMatchObject({ status: "SUCCEEDED", attempts: 3, error: null });
      expect(b).toMatchObject({ status: "SUCCEEDED", attempts: 1, error: null });
      const [ma, mb] = [a.metrics, b.metrics] as { test: { model: Record<string, number> }; steps: number }[];
      expect(ma.steps).toBe(mb.steps);
      for (const k of ["l2", "cosine", "hr10", "ndcg10", "mrr"]) expect(ma.test.model[k]).toBeCloseTo(mb.test.model[k], 6);
      expect(curves.n).toBe(curves.steps); // no curve row written twice
      // and none left from the work the kills lost: read in the order written, the curve never goes back a step
      const written = (
        await store.sql.query<{ step: number }>(`SELECT step FROM run_progress WHERE run_id = $1 ORDER BY seq`, [runId])
      ).map((r) => r.step);
      expect(written).toEqual([...written].sort((x, y) => x - y));
    } finally {
      await store.close();
    }
  });
});
