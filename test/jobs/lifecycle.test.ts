import { cancel, getRun, runCurves, SpecInvalid, startRun } from "../../src/jobs/runs";
import { servingRunId } from "../../src/store/runs";
import { claimRun, enqueueRun } from "../../src/store/run-queue";
import { RunWorker } from "../../src/jobs/worker";
import { loadDemoWorld } from "../../src/data/demo-data";
import type { Store } from "../../src/store/store";
import { openTestStore, backendName } from "../helpers/store";
import { ended, tinyRun, waitForRun } from "./helpers";

describe(`training runs (${backendName})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
    await loadDemoWorld(store, { users: 40, tracks: 120, days: 5, seed: 4 });
  });
  afterAll(() => store.close());

  it("lives from QUEUED to SUCCEEDED: progress, curves, metrics, artifact and every user's embedding", async () => {
    const run = await tinyRun(store);
    const queued = await getRun(store, run.id);
    expect(queued).toMatchObject({ status: "QUEUED", queuePosition: 1, modelName: "fs-vae-quick", seed: 7 });
    expect(queued.specYaml).toContain("units: 8");
    const [{ newest }] = await store.sql.query<{ newest: Date }>("SELECT max(played_at) AS newest FROM listening_event");
    expect(queued.dataCutoff!.getTime()).toBe(new Date(newest).getTime());

    const worker = new RunWorker(store, { exclusive: store.backend === "pglite", pollMs: 100, heartbeatMs: 200 });
    const seen: string[] = [];
    worker.events.subscribe((e) => seen.push(e.kind === "status" ? e.status : e.kind));
    await worker.start();
    const done = await waitForRun(store, run.id, ended);
    await worker.stop();
    await worker.idle();

    expect(done.error).toBeNull();
    expect(done.status).toBe("SUCCEEDED");
    expect(done.attempts).toBe(1);
    const metrics = done.metrics as {
      test: { model: { l2: number; hr10: number }; average: { l2: number } };
      epochs: number;
      latentUnits: number;
    };
    expect(metrics.epochs).toBe(2);
    expect(metrics.latentUnits).toBe(8);
    expect(metrics.test.model.l2).toBeGreaterThan(0);
    expect(seen).toEqual(expect.arrayContaining(["RUNNING", "step", "epoch", "SUCCEEDED"]));

    const curves = await runCurves(store, run.id);
    expect(curves.filter((c) => c.kind === "epoch").map((c) => c.epoch)).toEqual([1, 2]);
    const steps = curves.map((c) => c.step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));

    expect(done.hasArtifact).toBe(true);
    const [emb] = await store.sql.query<{ n: number; k: number; users: number }>(
      `SELECT count(*)::int AS n, min(cardinality(mu))::int AS k,
              (SELECT count(DISTINCT user_id)::int FROM listening_event) AS users
         FROM user_embedding WHERE run_id = $1`,
      [run.id],
    );
    expect(emb.n).toBe(emb.users);
    expect(emb.k).toBe(8); // concat of z_s and z_n, K = 4 each
    expect(await servingRunId(store)).toBe(run.id);
  });

  it("cancels a QUEUED run at once", async () => {
    const run = await tinyRun(store);
    expect(await cancel(store, run.id)).toBe("CANCELLED");
    expect(await getRun(store, run.id)).toMatchObject({ status: "CANCELLED", queuePosition: null });
  });

  it("cancels a RUNNING run within a step and keeps its last checkpoint", async () => {
    const run = await tinyRun(store, { epochs: 200 });
    const worker = new RunWorker(store, { exclusive: store.backend === "pglite", pollMs: 100, heartbeatMs: 100 });
    let epochs = 0;
    worker.events.subscribe((e) => void (e.kind === "epoch" && e.runId === run.id && epochs++));
    await worker.start();
    await waitForRun(store, run.id, (r) => r.hasCheckpoint && epochs >= 1);
    expect(await cancel(store, run.id)).toBe("RUNNING");
    const done = await waitForRun(store, run.id, ended, 30_000);
    await worker.stop();
    await worker.idle();
    expect(done.status).toBe("CANCELLED");
    expect(done.hasCheckpoint).toBe(true);
    expect((done.metrics as { epochs: number }).epochs).toBeLessThan(200);
  });

  it("never lets two workers claim the same run", async () => {
    const ids = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        enqueueRun(store.sql, { modelName: `claim-${i}`, specYaml: "name: x", specHash: "h", seed: i, dataCutoff: null }),
      ),
    );
    const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => claimRun(store, `worker-${i % 2}`)));
    const claimed = claims.filter((c) => c !== null).map((c) => c!.id);
    expect(new Set(claimed).size).toBe(claimed.length);
    expect(claimed.sort()).toEqual([...ids].sort());
    await store.sql.query(`DELETE FROM run WHERE model_name LIKE 'claim-%'`);
  });

  it("rejects an invalid spec when the run is started, with every error", async () => {
    const err = await startRun(store, {
      spec: "extends: fs-vae-quick\nname: bad\nencoders:\n  fast:\n    unit: 3\nlatent:\n  size: -1\n",
    }).catch((e) => e);
    expect(err).toBeInstanceOf(SpecInvalid);
    const messages = (err as SpecInvalid).errors.map((e) => `${e.line}:${e.column}: ${e.path}: ${e.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^5:5: encoders\.fast\.unit: unknown key; did you mean "units"\?$/),
        expect.stringMatching(/^7:3: latent\.size: expected an integer from 1 to 1,024, got -1$/),
      ]),
    );
  });

  it("fails early, with the error and where it came from, when the spec does not fit the data", async () => {
    const run = await tinyRun(store, { split: { by: "user", train: 0.98, validation: 0.01, test: 0.01 } });
    const worker = new RunWorker(store, { exclusive: store.backend === "pglite", pollMs: 100 });
    await worker.start();
    const done = await waitForRun(store, run.id, ended);
    await worker.stop();
    await worker.idle();
    expect(done.status).toBe("FAILED");
    expect(done.error).toMatch(
      /^data: \d+ users give \d+ training, 0 validation and \d+ test rows \(split by user 0\.98\/0\.01\/0\.01\): too few users for the split; load more data, or set training\.split\.validation to 0$/,
    );
  });

  it("says, when its process stops mid-run, that the run resumes from its checkpoint", async () => {
    const run = await tinyRun(store, { epochs: 200 });
    const lines: string[] = [];
    const worker = new RunWorker(store, {
      exclusive: store.backend === "pglite",
      pollMs: 100,
      heartbeatMs: 100,
      log: (message: string) => void lines.push(message),
    });
    await worker.start();
    await waitForRun(store, run.id, (r) => r.hasCheckpoint);
    await worker.stop();
    await worker.idle();
    expect(lines).toContain(`run ${run.id} stopped with this process; it resumes from its last checkpoint when a worker starts again`);
    expect((await getRun(store, run.id)).hasCheckpoint).toBe(true);
  });
});
