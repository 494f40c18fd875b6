/**
 * The fault points the other process tests do not reach (issue 17): kill -9 of
 * a `rubato worker` between the claim and the training thread, and during the
 * dataset build, then SIGTERM while a checkpoint's transaction waits for its
 * commit. One run goes through all three, one worker after another; a last
 * worker finishes it with the test metrics of an uninterrupted run.
 */
import { getRun } from "../../src/jobs/runs";
import { loadDemoWorld } from "../../src/data/demo-data";
import { openStore } from "../../src/store/store";
import { deserializeCheckpoint } from "../../src/train/checkpoint";
import { backendName } from "../helpers/store";
import { processStore, tinyRun } from "./helpers";
import { kill9, rubato, runRow, terminate, waitForNth } from "./processes";

type Shared = Awaited<ReturnType<typeof processStore>>;

const EPOCHS = 25;

describe(`fault cells of a run (${backendName})`, () => {
  let shared: Shared;
  let runId: string;
  beforeAll(async () => {
    shared = await processStore("rubato-fault-cells-");
    const store = await openStore(shared.config);
    await loadDemoWorld(store, { users: 30, tracks: 100, days: 4, seed: 8 });
    runId = (await tinyRun(store, { epochs: EPOCHS })).id;
    await store.close();
  }, 60_000);
  afterAll(() => shared?.drop());

  const worker = (env: NodeJS.ProcessEnv = {}, ...args: string[]) =>
    rubato(["worker", "--checkpoint-every", "4", ...args], { ...shared.env, ...env });

  /** The step of the checkpoint the run holds (null: none). */
  async function storedStep(): Promise<number | null> {
    const store = await openStore(shared.config);
    try {
      const [row] = await store.sql.query<{ checkpoint: Uint8Array | null }>(`SELECT checkpoint FROM run WHERE id = $1`, [runId]);
      return row.checkpoint ? deserializeCheckpoint(Buffer.from(row.checkpoint)).loop.step : null;
    } finally {
      await store.close();
    }
  }

  it("kill -9 between the claim and the training thread: the run stays RUNNING, nothing of it written but the claim", async () => {
    const w = worker({ RUBATO_TEST_PAUSE_AT: "claimed" });
    await w.waitFor(/RUBATO_TEST_PAUSED claimed/);
    await kill9(w);
    expect(w.output()).not.toMatch(/tfjs backend|checkpoint saved/);
    expect(await runRow(shared.config, runId)).toMatchObject({ status: "RUNNING", attempts: 1, error: null, checkpoint_bytes: null });
  });

  it("kill -9 during the dataset build: the next worker takes the run again, and it stays resumable", async () => {
    const w = worker({ RUBATO_TEST_PAUSE_AT: "dataset" });
    await w.waitFor(/RUBATO_TEST_PAUSED dataset/);
    expect(w.output()).toMatch(new RegExp(`claimed run ${runId}`));
    await kill9(w);
    expect(w.output()).not.toMatch(/tfjs backend|checkpoint saved/);
    expect(await runRow(shared.config, runId)).toMatchObject({ status: "RUNNING", attempts: 2, error: null, checkpoint_bytes: null });
  });

  it("SIGTERM while a checkpoint waits for its commit: exits within 10 s with code 0, and that checkpoint is committed", async () => {
    // Each checkpoint's transaction is held before its commit (1 s, or until the stop): the first commits, the signal lands in the second.
    const w = worker({ RUBATO_TEST_PAUSE_AT: "checkpoint", RUBATO_TEST_PAUSE_MS: "1000" });
    await waitForNth(w, /RUBATO_TEST_PAUSED checkpoint/, 2);
    const savedBefore = [...w.output().matchAll(/checkpoint saved at epoch \d+, step (\d+)/g)].map((m) => Number(m[1]));
    const exit = await terminate(w);
    expect(exit.code).toBe(0);
    const saved = [...w.output().matchAll(/checkpoint saved at epoch \d+, step (\d+)/g)].map((m) => Number(m[1]));
    // The write held at the signal committed (each is logged after its commit; the stop may write a newer one after it),
    // and the newest is what the run holds.
    expect(saved.length).toBeGreaterThan(savedBefore.length);
    expect(w.output()).not.toMatch(/"level":50/);
    expect(saved[saved.length - 1]).toBeGreaterThan(savedBefore[savedBefore.length - 1] ?? 0);
    expect(await storedStep()).toBe(saved[saved.length - 1]);
    expect(await runRow(shared.config, runId)).toMatchObject({ status: "RUNNING", attempts: 3, error: null });
  });

  it("a last worker resumes the run and ends it with an uninterrupted run's test metrics", async () => {
    let store = await openStore(shared.config);
    const referenceId = (await tinyRun(store, { epochs: EPOCHS })).id;
    await store.close();
    const w = worker({}, "--once");
    const { code } = await w.exited;
    expect({ code, output: w.output() }).toMatchObject({ code: 0, output: expect.stringMatching(/attempt 4, resuming from its checkpoint/) });
    const again = worker({}, "--once");
    expect((await again.exited).code).toBe(0);
    store = await openStore(shared.config);
    try {
      const [a, b] = [await getRun(store, runId), await getRun(store, referenceId)];
      expect(a).toMatchObject({ status: "SUCCEEDED", attempts: 4, error: null });
      expect(b).toMatchObject({ status: "SUCCEEDED", attempts: 1, error: null });
      const [ma, mb] = [a.metrics, b.metrics] as { test: { model: Record<string, number> }; steps: number }[];
      expect(ma.steps).toBe(mb.steps);
      for (const k of ["l2", "cosine", "hr10", "ndcg10", "mrr"]) expect(ma.test.model[k]).toBeCloseTo(mb.test.model[k], 6);
    } finally {
      await store.close();
    }
  });
});
