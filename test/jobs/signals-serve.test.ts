/**
 * SIGTERM to a real `rubato serve` (npm start) while its in-process worker
 * holds a run (issue 17: a SIGTERM between the claim and the training thread
 * was ignored and training went on): the server exits within 10 s, leaves no
 * process behind, and the run resumes when the server starts again. The
 * pauses come from the RUBATO_TEST_PAUSE_AT hook (src/test-hooks.ts).
 */
import { loadDemoWorld } from "../../src/data/demo-data";
import { openStore } from "../../src/store/store";
import { backendName } from "../helpers/store";
import { processStore, tinyRun } from "./helpers";
import { rubato, runRow, terminate } from "./processes";

type Shared = Awaited<ReturnType<typeof processStore>>;

describe(`SIGTERM to rubato serve (${backendName})`, () => {
  let shared: Shared;
  let runId: string;
  beforeAll(async () => {
    shared = await processStore("rubato-signals-serve-");
    const store = await openStore(shared.config);
    await loadDemoWorld(store, { users: 30, tracks: 100, days: 4, seed: 8 });
    runId = (await tinyRun(store, { epochs: 25 })).id;
    await store.close();
  }, 60_000);
  afterAll(() => shared?.drop());

  /** The server on a free port, with its worker; the store already has data and a queued run. */
  async function serve(env: NodeJS.ProcessEnv = {}) {
    const s = rubato(["serve", "--port", "0", "--no-demo", "--no-default-models"], {
      RUBATO_API_KEY: "signals-test",
      ...shared.env,
      ...env,
    });
    // The worker may claim the run before the server listens; SIGTERM is handled from then on.
    await s.waitFor(/"msg":"listening"/);
    return s;
  }

  async function expectResumable(attempts: number) {
    expect(await runRow(shared.config, runId)).toMatchObject({ status: "RUNNING", error: null, attempts });
  }

  it("between the claim and the training thread: exits at once, before any training", async () => {
    const s = await serve({ RUBATO_TEST_PAUSE_AT: "claimed" });
    await s.waitFor(/RUBATO_TEST_PAUSED claimed/);
    const exit = await terminate(s);
    expect(exit.code).toBe(0);
    expect(s.output()).not.toMatch(/checkpoint saved/);
    expect(s.output()).toMatch(/stopped with this process/);
    await expectResumable(1);
  });

  it("during the dataset build: stops the build", async () => {
    const s = await serve({ RUBATO_TEST_PAUSE_AT: "dataset" });
    await s.waitFor(/RUBATO_TEST_PAUSED dataset/);
    const exit = await terminate(s);
    expect(exit.code).toBe(0);
    expect(s.output()).not.toMatch(/checkpoint saved/);
    expect(s.output()).toMatch(/stopped with this process/);
    await expectResumable(2);
  });

  it("mid-training: ends the training thread and keeps the checkpoint", async () => {
    const s = await serve();
    await s.waitFor(/checkpoint saved/);
    const exit = await terminate(s);
    expect(exit.code).toBe(0);
    expect(s.output()).not.toMatch(/SUCCEEDED|FAILED/);
    await expectResumable(3);
    expect((await runRow(shared.config, runId)).checkpoint_bytes).toBeGreaterThan(0);
  });

  it("a restart resumes the run from its checkpoint and finishes it; an idle server exits cleanly", async () => {
    const s = await serve();
    await s.waitFor(/resuming from its checkpoint/);
    await s.waitFor(/SUCCEEDED|FAILED/, 90_000);
    const exit = await terminate(s);
    expect(exit.code).toBe(0);
    expect(await runRow(shared.config, runId)).toMatchObject({ status: "SUCCEEDED", error: null, attempts: 4 });
  });
});
