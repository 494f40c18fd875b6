/**
 * src/store/runs.ts, the run table's plain reads and writes through Prisma: pages
 * newest first with keyset cursors, queue positions, cancel's compare-and-set on
 * the status, one active run, the run serving uses. Both backends.
 */
import { enqueueRun, claimRun, finishRun } from "../../src/store/run-queue";
import {
  cancelRun,
  countOpenRuns,
  findRun,
  newestSpecs,
  pageRuns,
  reusableRun,
  runsAhead,
  servingRunId,
  setActiveRun,
} from "../../src/store/runs";
import { saveArtifact } from "../../src/store/artifacts";
import { lastCurveSeq, recordProgress, runCurves, dropCurvesAfter } from "../../src/store/run-progress";
import type { Store } from "../../src/store/store";
import { backendName, openTestStore } from "../helpers/store";

describe(`store/runs.ts (${backendName})`, () => {
  let store: Store;
  beforeEach(async () => {
    store = await openTestStore();
  });
  afterEach(() => store.close());

  const queue = async (n: number, name = "m") => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      ids.push(await enqueueRun(store.sql, { modelName: name, specYaml: `name: ${name}\n# ${i}`, specHash: `h${i}`, seed: i, dataCutoff: null }));
      // created_at has milliseconds: runs queued within one are ordered by id, which is random
      await new Promise((r) => setTimeout(r, 5));
    }
    return ids;
  };

  it("pages runs newest first, with queue positions, across cursors", async () => {
    const ids = await queue(5);
    const seen: string[] = [];
    let after: string | null | undefined = undefined;
    for (;;) {
      const page = await pageRuns(store, { first: 2, after });
      seen.push(...page.items.map((i) => i.node.id));
      if (!page.hasNextPage) break;
      after = page.items[page.items.length - 1].cursor;
    }
    expect(seen).toEqual([...ids].reverse());
    expect((await pageRuns(store, { first: 10 })).items.map((i) => i.node.id)).toEqual(seen);
    const run = await findRun(store, ids[2]);
    expect(run).toMatchObject({ id: ids[2], status: "QUEUED", queuePosition: 3, hasArtifact: false, hasCheckpoint: false, active: false });
    expect(run!.createdAt).toBeInstanceOf(Date);
    expect(await findRun(store, "00000000-0000-4000-8000-000000000000")).toBeNull();
    const claimed = await claimRun(store, "w");
    expect(claimed!.id).toBe(ids[0]);
    expect((await findRun(store, ids[2]))!.queuePosition).toBe(2);
    expect((await pageRuns(store, { first: 10, status: "RUNNING" })).items.map((i) => i.node.id)).toEqual([ids[0]]);
    expect(await countOpenRuns(store)).toBe(5);
    expect(await runsAhead(store, [ids[3], ids[4]], false)).toBe(2);
    expect(await runsAhead(store, [ids[3], ids[4]], true)).toBe(3);
  });

  it("cancels a queued run at once, a running one by request, and leaves an ended one", async () => {
    const [queued, running] = await queue(2);
    await claimRun(store, "w"); // takes `queued` (the oldest)
    const [other] = await queue(1);
    expect(await cancelRun(store, other)).toBe("CANCELLED");
    expect(await findRun(store, other)).toMatchObject({ status: "CANCELLED", finishedAt: expect.any(Date) });
    expect(await cancelRun(store, queued)).toBe("RUNNING");
    expect((await store.prisma.run.findUnique({ where: { id: queued } }))!.cancelRequested).toBe(true);
    await claimRun(store, "w");
    await finishRun(store.sql, running, "w", { status: "SUCCEEDED" });
    expect(await cancelRun(store, running)).toBe("SUCCEEDED");
    expect(await cancelRun(store, "00000000-0000-4000-8000-000000000000")).toBeNull();
  });

  it("keeps one active run, and serves it before the newest successful one", async () => {
    const ids = await queue(2);
    for (const id of ids) {
      await claimRun(store, "w");
      await saveArtifact(store, id, { topology: { format: "t" }, weights: Buffer.from([1, 2, 3]) });
      await finishRun(store.sql, id, "w", { status: "SUCCEEDED", metrics: { a: 1 } });
      await new Promise((r) => setTimeout(r, 5)); // distinct finished_at (milliseconds)
    }
    expect(await servingRunId(store)).toBe(ids[1]);
    await setActiveRun(store, ids[0]);
    expect(await servingRunId(store)).toBe(ids[0]);
    await setActiveRun(store, ids[1]);
    await setActiveRun(store, ids[1]);
    expect((await store.prisma.run.findMany({ where: { active: true } })).map((r) => r.id)).toEqual([ids[1]]);
    expect(await findRun(store, ids[0])).toMatchObject({ hasArtifact: true, metrics: { a: 1 }, active: false });
    expect(await reusableRun(store, "h0", 0, new Date())).toBeNull();
  });

  it("finds the newest spec of each model and reuses a run of the same spec, seed and cut-off", async () => {
    await queue(2, "a");
    await queue(1, "b");
    expect(await newestSpecs(store)).toEqual([
      { modelName: "a", specYaml: "name: a\n# 1" },
      { modelName: "b", specYaml: "name: b\n# 0" },
    ]);
    const cutoff = new Date("2026-01-02T03:04:05.678Z");
    const id = await enqueueRun(store.sql, { modelName: "c", specYaml: "y", specHash: "hc", seed: 7, dataCutoff: cutoff });
    expect(await reusableRun(store, "hc", 7, cutoff)).toBe(id);
    expect(await reusableRun(store, "hc", 8, cutoff)).toBeNull();
  });

  it("records and reads a run's curves", async () => {
    const [id] = await queue(1);
    expect(await lastCurveSeq(store, id)).toBe(0);
    for (let seq = 1; seq <= 3; seq++)
      await recordProgress(store.sql, { runId: id, seq, kind: "step", epoch: 0, step: seq * 10, json: JSON.stringify({ kind: "step", seq }) });
    // A number already stored keeps its row (the run's latest report is replaced).
    await recordProgress(store.sql, { runId: id, seq: 3, kind: "step", epoch: 0, step: 30, json: JSON.stringify({ again: true }) });
    expect(await lastCurveSeq(store, id)).toBe(3);
    expect((await runCurves(store, id)).map((c) => [c.seq, c.step, c.values])).toEqual([
      [1, 10, { kind: "step", seq: 1 }],
      [2, 20, { kind: "step", seq: 2 }],
      [3, 30, { kind: "step", seq: 3 }],
    ]);
    expect((await runCurves(store, id, 2)).map((c) => c.seq)).toEqual([3]);
    await dropCurvesAfter(store, id, 15);
    expect((await runCurves(store, id)).map((c) => c.seq)).toEqual([1]);
    expect((await findRun(store, id))!.progress).toEqual({ again: true });
  });
});
