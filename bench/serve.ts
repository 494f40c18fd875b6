/**
 * npm run bench:serve — serving latency and throughput over real HTTP.
 *
 * For each world (the default demo world, and one with a catalogue of 100,000
 * tracks) it fills an embedded store and trains fs-vae-quick (one epoch: the
 * model's quality is not what is measured) once, keeping both in the temp dir
 * for the next run (BENCH_FRESH=1 makes them again), starts `rubato serve` as its
 * own process, and drives it from this process with autocannon at 1, 16 and
 * 64 concurrent clients: userEmbedding, similarTracks by user, similarTracks
 * by track, each request for a different user or track. Prints per line:
 *   serve_<world>_<operation>_c<clients>_p50_ms N, _p99_ms N and _req_per_s N
 * and the recall@10 of the served neighbours against exact search:
 *   serve_<world>_recall10_<form> R
 * BENCH_SECONDS (default 8) sets the time per measurement; BENCH_WORLDS=demo|big|demo,big;
 * BENCH_OPERATIONS (default all three) picks operations by name; BENCH_SERVER_NODE_FLAGS adds
 * flags to the server's node (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it, or
 * "--trace-gc" with BENCH_SERVER_STDOUT=FILE to keep what it prints).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { startRun } from "../src/jobs/runs";
import { RunWorker } from "../src/jobs/worker";
import { loadDemoWorld } from "../src/data/demo-data";
import { trackMatrix, type TrackMatrix } from "../src/store/nearest";
import { openStore } from "../src/store/store";
import { recorder } from "./record";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const WORLDS = {
  demo: { users: 2000, tracks: 5000, days: 28 },
  big: { users: 1000, tracks: 100_000, days: 7 },
};
const CLIENTS = [1, 16, 64];
const KEY = "bench-key";

/** The world's store with a trained model: made once and kept in the temp dir (BENCH_FRESH=1 makes it again). */
async function prepare(dir: string, size: { users: number; tracks: number; days: number }) {
  const ready = path.join(dir, "ready");
  if (process.env.BENCH_FRESH === "1" || !fs.existsSync(ready)) {
    fs.rmSync(dir, { recursive: true, force: true });
    await trainOnWorld(dir, size);
    fs.writeFileSync(ready, "");
  } else console.error(`bench:serve: reusing the world and model in ${dir}`);
  const store = await openStore({ backend: "pglite", location: path.join(dir, "pgdata") });
  try {
    const users = (await store.sql.query<{ external_id: string }>("SELECT external_id FROM app_user ORDER BY id")).map(
      (r) => r.external_id,
    );
    return { users, matrix: await trackMatrix(store) };
  } finally {
    await store.close();
  }
}

export async function trainOnWorld(dir: string, size: { users: number; tracks: number; days: number }) {
  const store = await openStore({ backend: "pglite", location: path.join(dir, "pgdata") });
  try {
    console.error(`bench:serve: loading ${size.users} users, ${size.tracks} tracks, ${size.days} days...`);
    await loadDemoWorld(store, { ...size, seed: 1 });
    const run = await startRun(store, { model: "fs-vae-quick", overrides: { training: { epochs: 1 } } });
    const worker = new RunWorker(store, { exclusive: true, pollMs: 200 });
    const done = new Promise<void>((resolve, reject) =>
      worker.events.subscribe((e) => {
        if (e.kind !== "status" || e.runId !== run.id) return;
        if (e.status === "SUCCEEDED") resolve();
        else if (e.status === "FAILED" || e.status === "CANCELLED") reject(new Error(`training ${e.status}: ${e.error ?? ""}`));
      }),
    );
    console.error("bench:serve: training fs-vae-quick for one epoch...");
    await worker.start();
    await done;
    await worker.stop();
  } finally {
    await store.close();
  }
}

function startServer(dir: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        "--max-semi-space-size=64",
        ...(process.env.BENCH_SERVER_NODE_FLAGS ?? "").split(" ").filter(Boolean),
        path.resolve(__dirname, "../bin/rubato.js"),
        "serve",
        "--port",
        "0",
        "--no-default-models",
      ],
      {
        env: { ...process.env, RUBATO_DATA_DIR: dir, RUBATO_API_KEY: KEY, RUBATO_LOG_LEVEL: "info", NODE_ENV: "production" },
        stdio: ["ignore", process.env.BENCH_SERVER_STDOUT ? fs.openSync(process.env.BENCH_SERVER_STDOUT, "w") : "ignore", "pipe"],
      },
    );
    let err = "";
    child.stderr!.on("data", (d: Buffer) => {
      err += d;
      const m = /"graphql":"([^"]+)"/.exec(err);
      if (m) resolve({ child, url: m[1] });
    });
    child.on("exit", (code) => reject(new Error(`rubato serve exited with ${code}: ${err}`)));
  });
}

export async function post(url: string, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: Record<string, unknown>; errors?: { message: string }[] };
  if (body.errors) throw new Error(`${query}: ${body.errors[0].message}`);
  return body.data!;
}

/** Drives `url` with `clients` concurrent connections for `seconds`, request i's body from body(i): latency percentiles (ms), mean req/s, failures. */
export async function drive(url: string, clients: number, body: (i: number) => string, seconds = SECONDS) {
  let i = 0;
  const result = await autocannon({
    url,
    method: "POST",
    connections: clients,
    duration: seconds,
    headers: { "content-type": "application/json" },
    requests: [{ setupRequest: (req) => ({ ...req, body: body(i++) }) }],
  });
  return { p50: result.latency.p50, p99: result.latency.p99, rps: result.requests.average, failed: result.non2xx + result.errors };
}

/** Request bodies per operation, each request for a different user or track. */
export const OPERATIONS = {
  userEmbedding: (users: string[], _tracks: string[]) => (i: number) =>
    JSON.stringify({ query: `query($u: ID!) { userEmbedding(userId: $u) { mu sigma } }`, variables: { u: users[i % users.length] } }),
  similarTracksByUser: (users: string[], _tracks: string[]) => (i: number) =>
    JSON.stringify({
      query: `query($u: ID!) { similarTracks(userId: $u, k: 10) { track { id } distance } }`,
      variables: { u: users[i % users.length] },
    }),
  similarTracksByTrack: (_users: string[], tracks: string[]) => (i: number) =>
    JSON.stringify({
      query: `query($t: ID!) { similarTracks(trackId: $t, k: 10) { track { id } distance } }`,
      variables: { t: tracks[(i * 7919) % tracks.length] },
    }),
};

async function recall(url: string, matrix: TrackMatrix, users: string[]) {
  const sample = 200;
  let byTrack = 0;
  for (let s = 0; s < sample; s++) {
    const i = (s * 104_729) % matrix.externalIds.length;
    const id = matrix.externalIds[i];
    const exact = matrix
      .nearest(matrix.vectors.subarray(i * matrix.dim, (i + 1) * matrix.dim), 10, "l2", new Set([id]))
      .map((n) => n.externalId);
    const data = await post(url, `query($t: ID!) { similarTracks(trackId: $t, k: 10) { track { id } } }`, { t: id });
    const served = new Set((data.similarTracks as { track: { id: string } }[]).map((n) => n.track.id));
    byTrack += exact.filter((e) => served.has(e)).length / 10;
  }
  let byUser = 0;
  for (let s = 0; s < sample; s++) {
    const u = users[(s * 37) % users.length];
    const data = await post(
      url,
      `query($u: ID!) { userEmbedding(userId: $u) { nextTrack } similarTracks(userId: $u, k: 10) { track { id } } }`,
      { u },
    );
    const exact = matrix.nearest((data.userEmbedding as { nextTrack: number[] }).nextTrack, 10, "l2").map((n) => n.externalId);
    const served = new Set((data.similarTracks as { track: { id: string } }[]).map((n) => n.track.id));
    byUser += exact.filter((e) => served.has(e)).length / 10;
  }
  return { byTrack: byTrack / sample, byUser: byUser / sample };
}

async function main() {
  const rec = recorder("serve");
  const chosen = (process.env.BENCH_WORLDS ?? "demo,big").split(",") as (keyof typeof WORLDS)[];
  for (const world of chosen) {
    const size = WORLDS[world];
    const dir = path.join(os.tmpdir(), `rubato-bench-serve-${world}-${size.users}-${size.tracks}-${size.days}`);
    const { users, matrix } = await prepare(dir, size);
    const { child, url } = await startServer(dir);
    try {
      // Warm-up: the model and the track index load on first use.
      await post(url, `query($u: ID!) { similarTracks(userId: $u) { distance } }`, { u: users[0] });
      const r = await recall(url, matrix, users);
      rec.figure(`serve_${world}_recall10_track`, r.byTrack, 3);
      rec.figure(`serve_${world}_recall10_user`, r.byUser, 3);
      const operations = (process.env.BENCH_OPERATIONS ?? Object.keys(OPERATIONS).join(",")).split(",");
      for (const [name, make] of Object.entries(OPERATIONS).filter(([name]) => operations.includes(name))) {
        for (const clients of CLIENTS) {
          const m = await drive(url, clients, make(users, matrix.externalIds));
          const key = `serve_${world}_${name}_c${clients}`;
          rec.figure(`${key}_p50_ms`, m.p50, 1);
          rec.figure(`${key}_p99_ms`, m.p99, 1);
          rec.figure(`${key}_req_per_s`, m.rps);
          if (m.failed) rec.figure(`${key}_failed`, m.failed);
        }
      }
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  }
  rec.save();
}

// Run as a script (npm run bench:serve), not when bench:scale imports the client code above.
if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
