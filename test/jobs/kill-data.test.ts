/**
 * kill -9 while data is written (issue 17): `rubato demo-data`, `rubato import`
 * and `rubato embed-tracks`, each killed with its transaction's writes done and
 * its commit pending (the RUBATO_TEST_PAUSE_AT hooks, src/test-hooks.ts). After
 * each kill the store opens again (for PGlite: the same data directory, through
 * PostgreSQL's crash recovery), holds what it held before the killed
 * transaction and nothing of it (all or nothing, committed data kept), and the
 * same command run again does its work.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateWorld } from "../../src/demo/world";
import { getEventStats } from "../../src/store/catalog";
import { unfinishedDemoWorld } from "../../src/data/demo-data";
import { openStore } from "../../src/store/store";
import type { StoreConfig } from "../../src/store/config";
import { backendName } from "../helpers/store";
import { processStore } from "./helpers";
import { kill9, rubato, waitForNth } from "./processes";

type Shared = Awaited<ReturnType<typeof processStore>>;

const WORLD = { users: 60, tracks: 300, days: 3, seed: 1 };

/** Everything these tests compare, read through a fresh open of the store. */
async function contents(config: StoreConfig) {
  const store = await openStore(config);
  try {
    const [row] = await store.sql.query<{
      tracks: number;
      users: number;
      events: number;
      embeddings: string | null;
      dim: number | null;
      indexes: number;
      staging: number;
    }>(
      `SELECT (SELECT count(*)::int FROM track) AS tracks, (SELECT count(*)::int FROM app_user) AS users,
              (SELECT count(*)::int FROM listening_event) AS events,
              (SELECT md5(string_agg(coalesce(embedding::text, '-'), ',' ORDER BY id)) FROM track) AS embeddings,
              (SELECT (value #>> '{}')::int FROM setting WHERE key = 'embedding_dim') AS dim,
              (SELECT count(*)::int FROM pg_indexes WHERE tablename = 'track' AND indexname LIKE 'track_embedding_hnsw%') AS indexes,
              (SELECT count(*)::int FROM pg_tables WHERE tablename LIKE 'rubato_import_stage_%') AS staging`,
    );
    const stats = await getEventStats(store.sql);
    const provenance = await store.sql.query(`SELECT 1 FROM setting WHERE key = 'embedding_provenance'`);
    return { ...row, counted: stats.count, unfinished: (await unfinishedDemoWorld(store)) !== null, learnt: provenance.length > 0 };
  } finally {
    await store.close();
  }
}

describe(`kill -9 while data is written (${backendName})`, () => {
  let shared: Shared;
  let dir: string;
  beforeAll(async () => {
    shared = await processStore("rubato-kill-data-");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-kill-data-files-"));
  });
  afterAll(async () => {
    await shared?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => rubato(args, { ...shared.env, ...env });
  const demoData = (env?: NodeJS.ProcessEnv) =>
    run(["demo-data", ...Object.entries(WORLD).flatMap(([k, v]) => [`--${k}`, String(v)])], env);
  async function succeeds(p: ReturnType<typeof run>) {
    const exit = await p.exited;
    expect({ code: exit.code, output: p.output() }).toMatchObject({ code: 0 });
  }

  let loaded: Awaited<ReturnType<typeof contents>>;

  it("demo-data killed in the plays' transaction: the tracks stay, no play is stored; a second run finishes the world", async () => {
    // Two transactions, each held 1.5 s before its commit: the tracks' commits, the plays' is killed.
    const p = demoData({ RUBATO_TEST_PAUSE_AT: "import", RUBATO_TEST_PAUSE_MS: "1500" });
    await waitForNth(p, /RUBATO_TEST_PAUSED import/, 2);
    await kill9(p);
    expect(await contents(shared.config)).toMatchObject({ tracks: WORLD.tracks, users: 0, events: 0, counted: 0, unfinished: true });

    await succeeds(demoData());
    const world = generateWorld(WORLD);
    const events = [...world.events()];
    loaded = await contents(shared.config);
    expect(loaded).toMatchObject({
      tracks: world.tracks.length,
      users: new Set(events.map((e) => e.userExternalId)).size,
      events: events.length,
      counted: events.length,
      dim: 80,
      unfinished: false,
    });
  });

  it("import killed before its commit: the store is as before; the import run again adds every row", async () => {
    const world = generateWorld(WORLD);
    const start = Date.parse("2026-11-01T00:00:00Z");
    const lines = ["user,track,played_at"];
    for (let i = 0; i < 3000; i++) {
      // Half the plays by users the store knows, half by 40 new ones.
      const user = i % 2 ? `kill-user-${i % 40}` : world.users[i % world.users.length].externalId;
      lines.push(`${user},${world.tracks[(i * 7) % world.tracks.length].externalId},${new Date(start + i * 60_000).toISOString()}`);
    }
    const file = path.join(dir, "plays.csv");
    fs.writeFileSync(file, lines.join("\n") + "\n");

    const p = run(["import", "events", file], { RUBATO_TEST_PAUSE_AT: "import" });
    await p.waitFor(/RUBATO_TEST_PAUSED import/);
    await kill9(p);
    const after = await contents(shared.config);
    expect(after).toEqual({ ...loaded, staging: after.staging });
    // On a server the dead import's staging tables stay until the next import sweeps them.
    if (backendName === "pglite") expect(after.staging).toBe(0);

    await succeeds(run(["import", "events", file]));
    const imported = await contents(shared.config);
    // The store's users are the world's users with a play; the import's other users are new.
    const players = new Set([...world.events()].map((e) => e.userExternalId));
    const newUsers = new Set(lines.slice(1).map((l) => l.split(",")[0]).filter((u) => !players.has(u))).size;
    expect(imported).toMatchObject({ events: loaded.events + 3000, counted: loaded.events + 3000, staging: 0 });
    expect(imported.users - loaded.users).toBe(newUsers);
    loaded = imported;
  });

  it("embed-tracks killed before its commit: every embedding, the dimension and the vector index are as before", async () => {
    const args = ["embed-tracks", "--dim", "16", "--window", "5", "--min-count", "1", "--overwrite"];
    const p = run(args, { RUBATO_TEST_PAUSE_AT: "embed-tracks" });
    await p.waitFor(/RUBATO_TEST_PAUSED embed-tracks/);
    await kill9(p);
    expect(await contents(shared.config)).toEqual(loaded);

    await succeeds(run(args));
    const learnt = await contents(shared.config);
    expect(learnt).toMatchObject({ dim: 16, learnt: true, events: loaded.events });
    expect(learnt.embeddings).not.toBe(loaded.embeddings);
  });
});
