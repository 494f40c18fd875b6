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
  const rubato = (...args: string[]) => run("node", [bin, ...args], { env });

  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it("loads a small demo world and reports it with status", async () => {
    const out = await rubato("demo-data", "--users", "30", "--tracks", "100", "--days", "2", "--seed", "5");
    expect(out.stdout).toMatch(/demo-world\/tracks: 100 rows/);
    expect(out.stdout).toMatch(/events inserted \d+, already present 0, users created \d+/);
    const status = JSON.parse((await rubato("status", "--json")).stdout);
    expect(status).toMatchObject({ backend: "pglite", tracks: 100, tracksWithEmbedding: 100, embeddingDim: 80 });
    expect(status.events).toBeGreaterThan(0);
  });

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

  it("rejects bad options with a clear message", async () => {
    const err = await rubato("demo-data", "--users", "ten").catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toContain('--users expects a positive integer, got "ten"');
  });
});
