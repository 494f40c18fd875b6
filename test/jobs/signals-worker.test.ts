/**
 * SIGTERM to a real `rubato worker` at each stage of a run (issue 17): the
 * process exits within 10 s, leaves no process behind and leaves the run to
 * resume (never FAILED); a restart finishes it. The pauses come from the
 * RUBATO_TEST_PAUSE_AT hook (src/test-hooks.ts), so each signal lands at a
 * known point. One run goes through every stage, one worker after another.
 */
import { loadDemoWorld } from "../../src/data/demo-data";
import { openStore } from "../../src/store/store";
import { backendName } from "../helpers/store";
import { processStore, tinyRun } from "./helpers";
import { rubato, runRow, terminate } from "./processes";

type Shared = Awaited<ReturnType<typeof processStore>>;

describe(`SIGTERM to rubato worker (${backendName})`, () => {
  let shared: Shared;
  let runId: string;
  beforeAll(async () => {
    shared = await processStore("rubato-signals-worker-");
    const store = await openStore(shared.config);
    await loadDemoWorld(store, { users: 30, tracks: 100, days: 4, seed: 8 });
    runId = (await tinyRun(store, { epochs: 25 })).id;
    await store.close();
  }, 60_000);
  afterAll(() => shared?.drop());

  const worker = (env: NodeJS.ProcessEnv = {}, ...args: string[]) =>
    rubato(["worker", "--checkpoint-every", "4", ...args], { ...shared.env, ...env });

  /** Not FAILED, not finished: RUNNING until a worker re-queues it (at once on PGlite, after the heartbeat timeout on a server). */
  async function expectResumable(attempts: number) {
    expect(await runRow(shared.config, runId)).toMatchObject({ status: "RUNNING", error: null, attempts });
  }

  it("between the claim and the training thread: exits at once, before any training", async () => {
    const w = worker({ RUBATO_TEST_PAUSE_AT: "claimed" });
    await w.waitFor(/RUBATO_TEST_PAUSED claimed/);
    const exit = await terminate(w);
    expect(exit.code).toBe(0);
    expect(w.output()).not.toMatch(/tfjs backend|checkpoint saved/);
    expect(w.output()).toMatch(/stopped with this process/);
    await expectResumable(1);
  });

  it("during the dataset build: stops the build", async () => {
    const w = worker({ RUBATO_TEST_PAUSE_AT: "dataset" });
    await w.waitFor(/RUBATO_TEST_PAUSED dataset/);
    const exit = await terminate(w);
    expect(exit.code).toBe(0);
    expect(w.output()).not.toMatch(/tfjs backend|checkpoint saved/);
    expect(w.output()).toMatch(/stopped with this process/);
    await expectResumable(2);
  });

  it("mid-training: ends the training thread and keeps the checkpoint", async () => {
    const w = worker();
    await w.waitFor(/checkpoint saved/);
    const exit = await terminate(w);
    expect(exit.code).toBe(0);
    expect(w.output()).not.toMatch(/SUCCEEDED|FAILED/);
    expect(w.output()).toMatch(/stopped with this process/);
    await expectResumable(3);
    expect((await runRow(shared.config, runId)).checkpoint_bytes).toBeGreaterThan(0);
  });

  it("a second SIGTERM exits at once when the graceful stop hangs", async () => {
    const w = worker({ RUBATO_TEST_PAUSE_AT: "claimed", RUBATO_TEST_PAUSE_STUCK: "1" });
    await w.waitFor(/RUBATO_TEST_PAUSED claimed/);
    w.child.kill("SIGTERM");
    await w.waitFor(/shutting down/);
    const exit = await terminate(w, 3000);
    expect(exit.code).toBe(1);
    expect(w.output()).toMatch(/second signal: exiting now/);
    await expectResumable(4);
  });

  it("a graceful stop that hangs still ends within 10 s", async () => {
    const w = worker({ RUBATO_TEST_PAUSE_AT: "claimed", RUBATO_TEST_PAUSE_STUCK: "1" });
    await w.waitFor(/RUBATO_TEST_PAUSED claimed/);
    const exit = await terminate(w, 10_000);
    expect(exit.code).toBe(1);
    expect(w.output()).toMatch(/shutdown is taking too long: exiting now/);
    await expectResumable(5);
  });

  it("a restart resumes the run from its checkpoint and finishes it", async () => {
    const w = worker({}, "--once");
    const { code } = await w.exited;
    expect({ code, output: w.output() }).toMatchObject({ code: 0, output: expect.stringMatching(/resuming from its checkpoint/) });
    expect(await runRow(shared.config, runId)).toMatchObject({ status: "SUCCEEDED", error: null, attempts: 6 });
  });
});
