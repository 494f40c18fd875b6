/**
 * SIGTERM to `rubato serve` while it starts (issue 17): the handlers used to
 * go on only once the server listened, so a SIGTERM while the demo world
 * loaded into a fresh store killed the process on the spot, its tracks
 * committed and its plays not. Now the server stops within 10 s with code 0,
 * and the next start finishes the interrupted load: the store ends holding
 * exactly the demo world. The RUBATO_TEST_PAUSE_AT=import hook holds the
 * tracks' transaction open before its commit, where the signal lands.
 */
import { generateWorld } from "../../src/demo/world";
import { unfinishedDemoWorld } from "../../src/data/demo-data";
import { openStore } from "../../src/store/store";
import type { StoreConfig } from "../../src/store/config";
import { backendName } from "../helpers/store";
import { processStore } from "./helpers";
import { rubato, terminate } from "./processes";

type Shared = Awaited<ReturnType<typeof processStore>>;

const WORLD = { users: 60, tracks: 300, days: 3 };

/** What the store holds, and the interrupted demo world load, if any. */
async function contents(config: StoreConfig) {
  const store = await openStore(config);
  try {
    const [row] = await store.sql.query<{ tracks: number; users: number; events: number }>(
      `SELECT (SELECT count(*)::int FROM track) AS tracks, (SELECT count(*)::int FROM app_user) AS users,
              (SELECT count(*)::int FROM listening_event) AS events`,
    );
    return { ...row, unfinished: (await unfinishedDemoWorld(store)) !== null };
  } finally {
    await store.close();
  }
}

describe(`SIGTERM to rubato serve while it starts (${backendName})`, () => {
  let shared: Shared;
  beforeAll(async () => {
    shared = await processStore("rubato-signals-startup-");
  });
  afterAll(() => shared?.drop());

  const serve = (env: NodeJS.ProcessEnv = {}) =>
    rubato(
      [
        "serve",
        "--port",
        "0",
        "--no-worker",
        "--no-default-models",
        ...["--demo-users", String(WORLD.users), "--demo-tracks", String(WORLD.tracks), "--demo-days", String(WORLD.days)],
      ],
      { RUBATO_API_KEY: "signals-test", ...shared.env, ...env },
    );

  it("while the demo world loads into a fresh store: stops within 10 s, exit code 0", async () => {
    const s = serve({ RUBATO_TEST_PAUSE_AT: "import" });
    await s.waitFor(/RUBATO_TEST_PAUSED import/);
    const exit = await terminate(s);
    expect({ code: exit.code, output: s.output() }).toMatchObject({ code: 0, output: expect.stringMatching(/shutting down/) });
    expect(s.output()).not.toMatch(/"msg":"listening"|demo world loaded|rubato: /);
    // The tracks committed as the signal came; the plays were never started.
    expect(await contents(shared.config)).toEqual({ tracks: WORLD.tracks, users: 0, events: 0, unfinished: true });
  });

  it("the next start finishes the interrupted load: the store holds exactly the demo world", async () => {
    const s = serve();
    await s.waitFor(/"msg":"listening"/);
    expect(s.output()).toMatch(/the last demo world load did not finish: loading it again/);
    const exit = await terminate(s);
    expect(exit.code).toBe(0);
    const world = generateWorld({ ...WORLD, seed: 1 });
    const events = [...world.events()];
    expect(await contents(shared.config)).toEqual({
      tracks: world.tracks.length,
      users: new Set(events.map((e) => e.userExternalId)).size,
      events: events.length,
      unfinished: false,
    });
  });
});
