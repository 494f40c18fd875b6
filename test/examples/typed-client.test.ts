/**
 * examples/typed-client: its generated types are what GraphQL Code Generator
 * makes from schema.graphql today, it compiles (and a field its operations did
 * not select does not), and it runs against a live server (PGlite, a small
 * demo world, a tiny model trained here).
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { startServer, type RunningServer } from "../../src/api/server";
import { startRun } from "../../src/jobs/runs";
import { RunWorker } from "../../src/jobs/worker";
import { loadDemoWorld } from "../../src/data/demo-data";
import type { Store } from "../../src/store/store";
import { openTestStore, backendName } from "../helpers/store";
import { TINY, waitForRun } from "../jobs/helpers";

const run = promisify(execFile);
const ROOT = path.join(__dirname, "..", "..");
const EXAMPLE = path.join(ROOT, "examples", "typed-client");
const TSC = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
const KEY = "typed-client-key";

/** Exit code, stdout and stderr of a node process (no throw on failure). */
async function node(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe(`examples/typed-client (${backendName})`, () => {
  it("holds the types GraphQL Code Generator makes from schema.graphql now (else run `npm run codegen`)", async () => {
    const cli = path.join(path.dirname(require.resolve("@graphql-codegen/cli/package.json", { paths: [EXAMPLE] })), "esm", "bin.js");
    // --check: generate in memory, exit 1 when a file would change.
    const r = await node([cli, "--config", "examples/typed-client/codegen.ts", "--check"]);
    expect({ code: r.code, out: r.code === 0 ? "" : r.stdout + r.stderr }).toEqual({ code: 0, out: "" });
  });

  it("compiles, and a field its operations did not ask for does not", async () => {
    const ok = await node([TSC, "-p", path.join(EXAMPLE, "tsconfig.json")]);
    expect({ code: ok.code, out: ok.stdout }).toEqual({ code: 0, out: "" });

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-typed-client-"));
    try {
      const generated = path.join(EXAMPLE, "generated", "graphql.ts").replace(/\.ts$/, "");
      fs.writeFileSync(
        path.join(dir, "wrong.ts"),
        `import type { SimilarTracksQuery } from ${JSON.stringify(generated)};\n` +
          `export const title = (q: SimilarTracksQuery) => q.similarTracks[0].track.title;\n`,
      );
      fs.writeFileSync(
        path.join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: { strict: true, noEmit: true, module: "node16", moduleResolution: "node16", types: [] },
          files: ["wrong.ts"],
        }),
      );
      const wrong = await node([TSC, "-p", path.join(dir, "tsconfig.json")]);
      expect(wrong.code).not.toBe(0);
      expect(wrong.stdout).toMatch(/Property 'title' does not exist/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("against a live server", () => {
    let store: Store;
    let server: RunningServer;

    beforeAll(async () => {
      store = await openTestStore();
      await loadDemoWorld(store, { users: 20, tracks: 60, days: 3, seed: 9 });
      const worker = new RunWorker(store, { exclusive: store.backend === "pglite", pollMs: 50, heartbeatMs: 200 });
      const trained = await startRun(store, { model: "fs-vae-quick", overrides: TINY, seed: 5 });
      await worker.start();
      await waitForRun(store, trained.id, (r) => r.status !== "QUEUED" && r.status !== "RUNNING");
      await worker.stop();
      server = await startServer(store, { port: 0, policy: { apiKey: KEY, openQueries: true } });
    });
    afterAll(async () => {
      await server?.close();
      await store?.close();
    });

    it("runs its calls: similarTracks, recordPlays with clientMutationId, userEmbeddings with an unknown user", async () => {
      const r = await node([
        "-r",
        "@swc-node/register",
        path.join(EXAMPLE, "client.ts"),
        server.graphqlUrl,
        KEY,
        "t00001",
        "u00001",
        "nobody",
      ]);
      expect({ code: r.code, stderr: r.code === 0 ? "" : r.stderr }).toEqual({ code: 0, stderr: "" });
      const [similar, recorded, embedded] = r.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line));
      expect(similar.errors).toEqual([]);
      expect(similar.similarTracks).toHaveLength(3);
      const distances = similar.similarTracks.map((n: { distance: number }) => n.distance);
      expect(distances).toEqual([...distances].sort((a, b) => a - b));
      expect(recorded).toEqual({
        recordPlays: { recorded: 1, duplicates: 0, usersCreated: 0, clientMutationId: "typed-client" },
        errors: [],
      });
      expect(embedded.userEmbeddings).toEqual([{ userId: "u00001", plays: expect.any(Number), dims: 8 }, null]);
      expect(embedded.errors).toEqual([{ path: ["userEmbeddings", 1], code: "NOT_FOUND" }]);
    });
  });
});
