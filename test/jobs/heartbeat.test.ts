/**
 * The heartbeat starts with the claim (issue 17): a dataset build that outlasts
 * the heartbeat timeout must not let another worker take the run mid-build.
 * Two workers share one store (as two `rubato worker` processes share a
 * server); the first pauses in its dataset build (the RUBATO_TEST_PAUSE_AT
 * hook) for five heartbeat timeouts while the second polls.
 */
import { cancel, getRun } from "../../src/jobs/runs";
import { RunWorker } from "../../src/jobs/worker";
import { loadDemoWorld } from "../../src/data/demo-data";
import type { Store } from "../../src/store/store";
import { backendName, openTestStore } from "../helpers/store";
import { ended, tinyRun, waitForRun } from "./helpers";

const TIMEOUT_MS = 600;
const PAUSE_MS = 5 * TIMEOUT_MS;

describe(`the heartbeat (${backendName})`, () => {
  let store: Store;
  const saved = { at: process.env.RUBATO_TEST_PAUSE_AT, ms: process.env.RUBATO_TEST_PAUSE_MS };
  beforeAll(async () => {
    store = await openTestStore();
    await loadDemoWorld(store, { users: 30, tracks: 100, days: 4, seed: 8 });
  }, 60_000);
  afterAll(async () => {
    for (const [key, value] of [
      ["RUBATO_TEST_PAUSE_AT", saved.at],
      ["RUBATO_TEST_PAUSE_MS", saved.ms],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await store?.close();
  });

  it("runs from the claim on: a dataset build longer than the timeout keeps its run", async () => {
    const run = await tinyRun(store);
    process.env.RUBATO_TEST_PAUSE_AT = "dataset";
    process.env.RUBATO_TEST_PAUSE_MS = String(PAUSE_MS);
    let paused = 0;
    const write = process.stderr.write.bind(process.stderr) as (...args: unknown[]) => boolean;
    const spy = jest.spyOn(process.stderr, "write").mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
      if (String(chunk).includes("RUBATO_TEST_PAUSED dataset")) paused = Date.now();
      return write(chunk, ...rest);
    }) as typeof process.stderr.write);
    const logs: string[] = [];
    const worker = (id: string) =>
      new RunWorker(store, { id, heartbeatTimeoutMs: TIMEOUT_MS, pollMs: 100, log: (m) => logs.push(`${id}: ${m}`) });
    const a = worker("A");
    const b = worker("B");
    // Prisma compiles each query shape on first use, synchronously (~0.1 s, more on a loaded
    // machine): compile waitForRun's before the 600 ms timeout is live in this process.
    await getRun(store, run.id);
    try {
      await a.start();
      while (!paused) await new Promise((r) => setTimeout(r, 20));
      await b.start();
      // The heartbeat as the store holds it, sampled through the pause.
      const beats: number[] = [];
      while (Date.now() - paused < PAUSE_MS - 300) {
        const [row] = await store.sql.query<{ heartbeat_at: Date; worker_id: string | null; attempts: number }>(
          `SELECT heartbeat_at, worker_id, attempts FROM run WHERE id = $1`,
          [run.id],
        );
        expect({ worker: row.worker_id, attempts: row.attempts }).toEqual({ worker: "A", attempts: 1 });
        beats.push(new Date(row.heartbeat_at).getTime());
        await new Promise((r) => setTimeout(r, 250));
      }
      // It advanced all along: never older than the timeout, and the last is within the pause's end.
      expect(new Set(beats).size).toBeGreaterThanOrEqual(PAUSE_MS / TIMEOUT_MS);
      for (let i = 1; i < beats.length; i++) expect(beats[i]).toBeGreaterThanOrEqual(beats[i - 1]);
      const done = await waitForRun(store, run.id, ended, 60_000);
      expect(done).toMatchObject({ status: "SUCCEEDED", attempts: 1, error: null });
      expect(logs.filter((l) => /re-queued|^B: claimed/.test(l))).toEqual([]);
    } finally {
      spy.mockRestore();
      delete process.env.RUBATO_TEST_PAUSE_AT;
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it("hands a cancel that came during the dataset build to the training thread", async () => {
    const run = await tinyRun(store, { epochs: 25 });
    process.env.RUBATO_TEST_PAUSE_AT = "dataset";
    process.env.RUBATO_TEST_PAUSE_MS = String(3 * TIMEOUT_MS);
    const w = new RunWorker(store, { id: "C", heartbeatTimeoutMs: TIMEOUT_MS, pollMs: 100 });
    try {
      await w.start();
      await waitForRun(store, run.id, (r) => r.status === "RUNNING", 30_000);
      expect(await cancel(store, run.id)).toBe("RUNNING");
      const done = await waitForRun(store, run.id, ended, 60_000);
      expect(done).toMatchObject({ status: "CANCELLED", attempts: 1, error: null });
      expect((done.metrics as { steps: number }).steps).toBeLessThan(5);
    } finally {
      delete process.env.RUBATO_TEST_PAUSE_AT;
      await w.stop();
    }
  });
});
