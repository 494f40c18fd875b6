/**
 * `rubato train`'s path (src/jobs/train.ts): a run queued held by this process
 * and trained through executeRun; a cancel keeps its checkpoint and
 * --resume RUN_ID continues it to the metrics of an uninterrupted run.
 */
import { loadDemoWorld } from "../../src/data/demo-data";
import { getRun } from "../../src/jobs/runs";
import { trainRun } from "../../src/jobs/train";
import type { Store } from "../../src/store/store";
import { openTestStore } from "../helpers/store";

jest.setTimeout(300_000);

let store: Store;

beforeAll(async () => {
  store = await openTestStore();
  await loadDemoWorld(store, { users: 60, tracks: 150, days: 4, seed: 3 });
});

afterAll(async () => {
  await store?.close();
});

const overrides = { training: { epochs: 2, batch_size: 32, seed: 5 } };

it("cancels a run with its checkpoint, and --resume RUN_ID ends where an uninterrupted run ends", async () => {
  const straight = await trainRun(store, "no-slow", { overrides, testRows: 50 });
  expect(straight.status).toBe("SUCCEEDED");

  const controller = new AbortController();
  const cancelled = await trainRun(store, "no-slow", {
    overrides,
    testRows: 50,
    signal: controller.signal,
    onStep: (p) => p.step === 3 && controller.abort(),
  });
  expect(cancelled).toMatchObject({ status: "CANCELLED", report: { training: { status: "cancelled" } } });
  expect(await getRun(store, cancelled.runId)).toMatchObject({ status: "CANCELLED", hasCheckpoint: true });

  const resumed = await trainRun(store, null, { resumeRun: cancelled.runId, testRows: 50 });
  expect(resumed).toMatchObject({ runId: cancelled.runId, status: "SUCCEEDED" });
  expect(await getRun(store, cancelled.runId)).toMatchObject({ status: "SUCCEEDED", attempts: 2 });
  expect(resumed.report!.test!.model).toEqual(straight.report!.test!.model);

  // A run that succeeded is not trained again.
  await expect(trainRun(store, null, { resumeRun: cancelled.runId })).rejects.toThrow(/cannot be resumed/);
});
