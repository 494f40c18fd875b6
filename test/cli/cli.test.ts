import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { writeTemp } from "../helpers/files";

const run = promisify(execFile);
const bin = path.resolve(__dirname, "../../bin/rubato.js");

// The CLI as a user runs it: a child process on an embedded store in a fresh data directory.
describe("rubato CLI (PGlite)", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-cli-"));
  const env = { ...process.env, RUBATO_DATA_DIR: dataDir, DATABASE_URL: "" };
  // From a directory other than the project's: the CLI must not depend on the working directory (decorators need its tsconfig).
  const rubato = (...args: string[]) => run("node", [bin, ...args], { env, cwd: os.tmpdir() });

  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it("loads a small demo world and reports it with status", async () => {
    const out = await rubato("demo-data", "--users", "30", "--tracks", "100", "--days", "2", "--seed", "5");
    expect(out.stdout).toMatch(/demo-world\/tracks: 100 rows/);
    expect(out.stdout).toMatch(/events inserted \d+, already present 0, users created \d+/);
    const status = JSON.parse((await rubato("status", "--json")).stdout);
    expect(status).toMatchObject({ backend: "pglite", tracks: 100, tracksWithEmbedding: 100, embeddingDim: 80 });
    expect(status.events).toBeGreaterThan(0);
  });

  it("train stores a run through the queue's path: rubato runs lists it SUCCEEDED, with the report's metrics", async () => {
    const out = await rubato("train", "no-slow", "--epochs", "1", "--batch-size", "64", "--seed", "2", "--test-rows", "40", "--json");
    const report = JSON.parse(out.stdout);
    expect(report).toMatchObject({ status: "SUCCEEDED", spec: { name: "no-slow", training: { epochs: 1, seed: 2, batch_size: 64 } } });
    expect(report.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(report.training).toMatchObject({ status: "completed", epochs: 1 });
    expect(report.test.rows).toBeLessThanOrEqual(40);
    expect(report.test).toHaveProperty("average");
    const listed = (await rubato("runs")).stdout.split("\n").find((line) => line.startsWith(report.runId));
    expect(listed).toMatch(/ SUCCEEDED +no-slow /);
    const shown = JSON.parse((await rubato("runs", "show", report.runId)).stdout.split("\n--- spec")[0]);
    expect(shown).toMatchObject({ status: "SUCCEEDED", seed: 2, attempts: 1, hasCheckpoint: true });
    expect(shown.metrics.test.model).toEqual(report.test.model);

    // A baseline is a stored run too; the text report puts the model next to the baselines.
    const text = (await rubato("train", "average", "--test-rows", "40")).stdout;
    expect(text).toMatch(/^average \(spec [0-9a-f]{12}\): \d+ users/);
    expect(text).toMatch(/baseline +average \(nothing to train\)/);
    expect(text).toMatch(/\nrun +[0-9a-f-]{36} \(rubato runs show/);
    expect(text).toMatch(/\npopularity +\d/);
    expect((await rubato("runs", "--status", "succeeded")).stdout).toMatch(/ SUCCEEDED +average /);
  }, 240_000);

  it("exits non-zero with FILE:LINE messages on a bad import, and writes nothing", async () => {
    const before = JSON.parse((await rubato("status", "--json")).stdout);
    const file = writeTemp("cli-bad.csv", "user,track,played_at\nu1,t00001,2026-10-01T10:00:00Z\nu1,nope,2026-10-01T10:01:00Z\n");
    const err = await rubato("import", "events", file).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toContain("import rolled back, nothing was written: 1 bad row");
    expect(err.stderr).toContain(`${file}:3: unknown track "nope"`);
    const after = JSON.parse((await rubato("status", "--json")).stdout);
    expect(after.events).toBe(before.events);
  });

  it("embed-tracks --until learns from the plays before a time, and says which tracks have no vector and why", async () => {
    for (const [flag, value, message] of [
      [
        "--until",
        "2014-02-30",
        '--until: expected an ISO 8601 time with its zone, e.g. 2014-04-23T00:00:00Z (or a date, 2014-04-23, for its 00:00 UTC), got "2014-02-30"',
      ],
      ["--until", "2014-04-23T10:00:00", "--until: expected an ISO 8601 time with its zone"],
      ["--session-gap", "0", '--session-gap: expected a number of minutes > 0, got "0"'],
    ]) {
      const err = await rubato("embed-tracks", flag, value).catch((e) => e);
      expect(err.code).toBe(1);
      expect(err.stderr).toContain(message);
    }
    const { firstPlay, lastPlay } = JSON.parse((await rubato("status", "--json")).stdout);
    const until = new Date((Date.parse(firstPlay) + Date.parse(lastPlay)) / 2).toISOString();
    const out = await rubato("embed-tracks", "--dim", "8", "--overwrite", "--until", until, "--sessions", "--json");
    const report = JSON.parse(out.stdout);
    expect(report).toMatchObject({ dim: 8, until, sessions: { gapMinutes: 30 } });
    expect(Date.parse(report.newestPlay)).toBeLessThanOrEqual(Date.parse(until));
    expect(report.withoutVector.total).toBe(
      report.withoutVector.neverPlayed +
        report.withoutVector.playedOnlyAfterUntil +
        report.withoutVector.noCooccurrence +
        report.withoutVector.onlyRareNeighbours +
        report.withoutVector.degenerate,
    );
    const status = JSON.parse((await rubato("status", "--json")).stdout);
    expect(status).toMatchObject({ tracks: 100, tracksWithEmbedding: 100 - report.withoutVector.total, embeddingDim: 8 });
  });

  it("rejects bad options with a clear message", async () => {
    const err = await rubato("demo-data", "--users", "ten").catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toContain('--users expects a positive integer, got "ten"');
  });
});

describe("rubato serve (npm start)", () => {
  it("loads the demo world into an empty store, queues a first model, serves /health and GraphQL, and shuts down cleanly on SIGTERM", async () => {
    const { spawn } = await import("node:child_process");
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-serve-"));
    const child = spawn("node", [bin, "serve", "--port", "0", "--demo-users", "25", "--demo-tracks", "80", "--demo-days", "2"], {
      env: { ...process.env, RUBATO_DATA_DIR: dataDir, DATABASE_URL: "", RUBATO_LOG_LEVEL: "info" },
    });
    try {
      let stderr = "";
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on("data", (d: Buffer) => {
          stderr += d.toString();
          const m = /"url":"(http:\/\/[^"]+)"/.exec(stderr);
          if (m) resolve(m[1]);
        });
        child.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
      });
      expect(stderr).toContain("empty store: loading the demo world");
      const health = (await (await fetch(`${url}/health`)).json()) as { database: { events: number } };
      expect(health).toMatchObject({ status: "ok", database: { backend: "pglite", tracks: 80 } });
      expect(health.database.events).toBeGreaterThan(0);
      // No model yet: the starter and then fs-vae-quick are queued (the first may already be training).
      const key = fs.readFileSync(path.join(dataDir, "api-key"), "utf8").trim();
      expect(stderr).toContain(key);
      const runs = (await (
        await fetch(`${url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: "{ runs { edges { node { model status } } } }" }),
        })
      ).json()) as { data: { runs: { edges: { node: { model: string } }[] } } };
      expect(runs.data.runs.edges.map((e) => e.node.model).sort()).toEqual(["fs-vae-quick", "fs-vae-starter"]);
      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(stderr).toContain('"signal":"SIGTERM"');
    } finally {
      child.kill("SIGKILL");
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
