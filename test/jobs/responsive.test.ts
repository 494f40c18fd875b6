import { performance } from "node:perf_hooks";
import { RunWorker } from "../../src/jobs/worker";
import { loadDemoWorld } from "../../src/data/demo-data";
import type { SqlClient } from "../../src/store/sql";
import type { Store } from "../../src/store/store";
import { openTestStore, backendName } from "../helpers/store";
import { ended, tinyRun, waitForRun } from "./helpers";

/** Holds this thread for `ms`, as a PGlite statement does (it runs in the caller's thread). */
function hold(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** The store, with every statement first holding the thread: a store slower than training. */
function slowed(store: Store, ms: number): Store {
  const sql: SqlClient = {
    query: (text, params) => (hold(ms), store.sql.query(text, params)),
    execute: (text, params) => (hold(ms), store.sql.execute(text, params)),
    copyCsv: (table, columns, csv) => (hold(ms), store.sql.copyCsv(table, columns, csv)),
  };
  return { ...store, sql };
}

// A worker's store work and its timers share one event loop. PGlite answers in this thread
// and its promises settle without the loop turning; Node hands over a training thread's
// messages in batches (all queued ones and those arriving meanwhile, at least 1,000). When
// each progress or checkpoint write took longer than a training step, the loop did not turn
// again until training ended: no heartbeat, no signal, no log line or API request (in CI, a
// worker's "checkpoint saved" lines arrived only after its run had finished, so the kill -9
// test killed an idle worker). src/jobs/execute.ts now starts every statement on its own turn.
// On PGlite the code before that fix fails this test (a gap of ~9 s); on a server it passed.
describe(`a run on a store slower than its training (${backendName})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
    await loadDemoWorld(store, { users: 30, tracks: 100, days: 4, seed: 8 });
  });
  afterAll(() => store.close());

  it("leaves the event loop free between statements: timers keep firing while it trains", async () => {
    const run = await tinyRun(store, { epochs: 10 });
    // 40 ms per statement, a checkpoint every step: the store falls behind the training thread.
    const worker = new RunWorker(slowed(store, 40), {
      exclusive: store.backend === "pglite",
      checkpointEverySteps: 1,
      pollMs: 100,
      heartbeatMs: 200,
    });
    let training = false;
    let steps = 0;
    worker.events.subscribe((e) => {
      if (e.kind === "step" && e.runId === run.id) {
        training = true;
        steps++;
      }
    });
    const gaps: number[] = [];
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      if (training) gaps.push(now - last);
      last = now;
    }, 20);
    try {
      await worker.start();
      const done = await waitForRun(store, run.id, ended);
      expect(done.status).toBe("SUCCEEDED");
    } finally {
      clearInterval(ticker);
      await worker.stop();
    }
    expect(steps).toBeGreaterThan(30);
    // Before: one gap as long as the whole training (seconds). Now: about one statement.
    const longest = Math.max(...gaps);
    console.log(`longest event-loop gap from the first step on: ${Math.round(longest)} ms (${gaps.length} ticks, ${steps} steps)`);
    expect(longest).toBeLessThan(2500);
    expect(gaps.length).toBeGreaterThan(20);
  }, 180_000);
});
