/**
 * A run whose worker died is re-queued, unless its cancel had been requested: then it
 * ends CANCELLED. (Before, `rubato runs cancel` on a run left RUNNING by a killed
 * process only set the request; the next worker re-queued the run and trained it again.)
 */
import { claimRun, enqueueRun, requeueExpired, requeueOrphans } from "../../src/store/run-queue";
import { cancelRun } from "../../src/store/runs";
import type { Store } from "../../src/store/store";
import { backendName, openTestStore } from "../helpers/store";

describe(`orphaned runs (${backendName})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
  }, 60_000);
  afterAll(async () => {
    await store?.close();
  });

  /** Two runs claimed by a worker that then "dies"; the second has a cancel requested. */
  async function orphans(): Promise<{ kept: string; cancelled: string }> {
    const run = (seed: number) =>
      enqueueRun(store.sql, {
        modelName: "orphan-test",
        specYaml: "name: orphan-test",
        specHash: `h${seed}`,
        seed,
        dataCutoff: new Date(),
      });
    const kept = await run(1);
    const cancelled = await run(2);
    await store.sql.execute(`UPDATE run SET status = 'CANCELLED' WHERE status = 'QUEUED' AND id NOT IN ($1, $2)`, [kept, cancelled]);
    for (let i = 0; i < 2; i++) expect(await claimRun(store, "dead-worker")).not.toBeNull();
    expect(await cancelRun(store, cancelled)).toBe("RUNNING");
    return { kept, cancelled };
  }

  const statusOf = async (id: string) =>
    (
      await store.sql.query<{ status: string; finished_at: Date | null; worker_id: string | null }>(
        `SELECT status, finished_at, worker_id FROM run WHERE id = $1`,
        [id],
      )
    )[0];

  it.each([
    ["requeueOrphans (a restart of the embedded store's only process)", () => requeueOrphans(store.sql, "new-worker")],
    ["requeueExpired (another worker sees the heartbeat expire)", () => requeueExpired(store.sql, 0)],
  ])("%s re-queues the run and cancels the one whose cancel was requested", async (_name, requeue) => {
    const { kept, cancelled } = await orphans();
    await new Promise((r) => setTimeout(r, 20));
    expect(await requeue()).toEqual([kept]);
    expect(await statusOf(kept)).toMatchObject({ status: "QUEUED", finished_at: null, worker_id: null });
    const c = await statusOf(cancelled);
    expect(c).toMatchObject({ status: "CANCELLED", worker_id: null });
    expect(c.finished_at).not.toBeNull();
    await store.sql.execute(`UPDATE run SET status = 'CANCELLED' WHERE id = $1`, [kept]);
  });
});
