/** trainingProgress's source for runs trained by another process: persisted progress, polled. */
import { watchRun, type ProgressReport } from "../../src/jobs/watch";
import { RunWorker } from "../../src/jobs/worker";
import { loadDemoWorld } from "../../src/data/demo-data";
import type { Store } from "../../src/store/store";
import { openTestStore, backendName } from "../helpers/store";
import { tinyRun } from "../jobs/helpers";

describe(`watchRun without in-process events (${backendName})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
    await loadDemoWorld(store, { users: 30, tracks: 90, days: 4, seed: 9 });
  });
  afterAll(() => store.close());

  it("streams the status, the persisted epochs and steps in order, and ends with the final status", async () => {
    const run = await tinyRun(store, { epochs: 3 });
    // The worker's events are its own: the watcher sees only what reaches the database.
    const worker = new RunWorker(store, { exclusive: store.backend === "pglite", pollMs: 100, heartbeatMs: 200 });
    const stream = await watchRun(store, run.id, { events: null, pollMs: 50 });
    await worker.start();
    const reports: ProgressReport[] = [];
    for await (const r of stream) reports.push(r);
    await worker.stop();

    expect(reports[0]).toMatchObject({ kind: "STATUS", status: "QUEUED" });
    expect(reports.at(-1)).toMatchObject({ kind: "STATUS", status: "SUCCEEDED" });
    expect(reports.filter((r) => r.kind === "STATUS").map((r) => r.status)).toEqual(["QUEUED", "RUNNING", "SUCCEEDED"]);
    const epochs = reports.filter((r) => r.kind === "EPOCH");
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(epochs.every((e) => typeof e.loss === "number" && typeof e.validationLoss === "number")).toBe(true);
    const steps = reports.filter((r) => r.kind === "STEP").map((r) => r.step!);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(new Set(steps).size).toBe(steps.length);
  });

  it("an unknown run is NOT_FOUND before the stream starts", async () => {
    await expect(watchRun(store, "00000000-0000-4000-8000-000000000000")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("return() ends a live stream", async () => {
    const run = await tinyRun(store);
    const stream = await watchRun(store, run.id, { pollMs: 50 });
    expect((await stream.next()).value).toMatchObject({ kind: "STATUS", status: "QUEUED" });
    await stream.return!();
    expect((await stream.next()).done).toBe(true);
  });
});
