/**
 * npm run bench:jobs — does training stall the API? Loads the demo world into a
 * fresh embedded store, starts the server with its in-process worker, queues
 * fs-vae-quick and, once it trains, drives GET /health from a second process
 * (4 concurrent clients, 20 s). Prints p50/p99 latency idle and during training:
 *   health_p99_ms_idle N
 *   health_p99_ms_during_training N
 *   health_p99_ms_during_training_N_threads N
 *
 *   npm run bench:jobs -- [--threads N|auto]   (default auto: the cores)
 *
 * The last is a second run, training.threads N (data-parallel: helpers on the other
 * cores), the case where the server's own thread has the least CPU to itself; it is
 * skipped when N is 1.
 *
 * A checkpoint's write blocks the embedded store's thread (PGlite runs in it), so it also
 * times writing and reading a 5 MB checkpoint (fs-vae-quick's size on this world) with
 * PGlite's own bytea codec and with Rubato's (src/store/bytea.ts), side by side:
 *   checkpoint_write_ms_pglite_codec N   checkpoint_write_ms N   checkpoint_write_speedup N
 *   checkpoint_read_ms_pglite_codec N    checkpoint_read_ms N    checkpoint_read_speedup N
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer } from "../src/api/server";
import { cancel, startRun } from "../src/jobs/runs";
import { RunWorker } from "../src/jobs/worker";
import { loadDemoWorld } from "../src/data/demo-data";
import { openStore, type Store } from "../src/store/store";
import { resolveThreads } from "../src/train/parallel";
import { PGlite } from "@electric-sql/pglite";
import { byteaCodecs } from "../src/store/bytea";
import { recorder } from "./record";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const argv = process.argv.slice(2);
const threadsArg = argv.includes("--threads") ? argv[argv.indexOf("--threads") + 1] : "auto";
if (!/^(auto|[1-9]\d*)$/.test(threadsArg)) throw new Error(`--threads expects auto or a positive integer, got ${threadsArg}`);
const THREADS = resolveThreads(threadsArg === "auto" ? "auto" : Number(threadsArg));
const rec = recorder("jobs", argv);

// The load generator, run as a separate process so its own work does not count against the server.
const CLIENT = `
const url = process.argv[1], seconds = Number(process.argv[2]), clients = 4;
const latencies = [];
const end = Date.now() + seconds * 1000;
async function loop() {
  while (Date.now() < end) {
    const t = process.hrtime.bigint();
    const res = await fetch(url);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error("status " + res.status);
    latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
    await new Promise((r) => setTimeout(r, 40));
  }
}
Promise.all(Array.from({ length: clients }, loop)).then(() => console.log(JSON.stringify(latencies)));
`;

function drive(url: string, seconds: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn("node", ["-e", CLIENT, url, String(seconds)]);
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => process.stderr.write(d));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`load generator exited ${code}`))));
  });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Starts fs-vae-quick at `threads`, waits for its first step, drives /health for SECONDS, cancels it. */
async function duringTraining(store: Store, worker: RunWorker, url: string, threads: number | "auto"): Promise<number[]> {
  const run = await startRun(store, { model: "fs-vae-quick", overrides: { training: { threads } } });
  let stepping = false;
  let stopped: string | null = null;
  const subscription = worker.events.subscribe((e) => {
    if (e.runId !== run.id) return;
    if (e.kind === "step") stepping = true;
    if (e.kind === "status" && e.status !== "RUNNING") stopped = e.status;
  });
  try {
    while (!stepping) {
      if (stopped) throw new Error(`run ${run.id} ended (${stopped}) before its first step`);
      await new Promise((r) => setTimeout(r, 100));
    }
    console.error(`bench:jobs: run ${run.id} (training.threads ${threads}) is training; measuring /health for ${SECONDS} s`);
    const latencies = await drive(url, SECONDS);
    if (stopped) throw new Error(`run ${run.id} ended (${stopped}) while /health was measured: not a measurement during training`);
    return latencies;
  } finally {
    subscription();
    await cancel(store, run.id).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 3000));
  }
}

/** Median ms to write and to read a 5 MB bytea in an in-memory PGlite, with the given codecs (none: PGlite's own). */
async function checkpointMs(codecs: typeof byteaCodecs | undefined): Promise<{ write: number; read: number }> {
  const db = await PGlite.create({ ...codecs });
  const checkpoint = Buffer.alloc(5 * 1024 * 1024);
  for (let i = 0; i < checkpoint.length; i++) checkpoint[i] = (i * 2654435761) >>> 24; // not compressible
  const writes: number[] = [];
  const reads: number[] = [];
  try {
    await db.exec("CREATE TABLE run (id int PRIMARY KEY, checkpoint bytea); INSERT INTO run VALUES (1, NULL)");
    for (let i = 0; i < 3; i++) {
      let t = performance.now();
      await db.query("UPDATE run SET checkpoint = $1 WHERE id = 1", [checkpoint]);
      writes.push(performance.now() - t);
      t = performance.now();
      const { rows } = await db.query<{ checkpoint: Uint8Array }>("SELECT checkpoint FROM run WHERE id = 1");
      reads.push(performance.now() - t);
      if (!Buffer.from(rows[0].checkpoint).equals(checkpoint)) throw new Error("the checkpoint read back differs from the one written");
    }
  } finally {
    await db.close();
  }
  return { write: percentile(writes, 50), read: percentile(reads, 50) };
}

async function checkpointFigures() {
  const theirs = await checkpointMs(undefined);
  const ours = await checkpointMs(byteaCodecs);
  for (const op of ["write", "read"] as const) {
    rec.figure(`checkpoint_${op}_ms_pglite_codec`, theirs[op], 0);
    rec.figure(`checkpoint_${op}_ms`, ours[op], 0);
    rec.figure(`checkpoint_${op}_speedup`, theirs[op] / ours[op], 1);
  }
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-bench-jobs-"));
  const store = await openStore({ backend: "pglite", location: path.join(dir, "pgdata") });
  try {
    console.error("bench:jobs: loading the demo world (2,000 users, 5,000 tracks, 28 days)...");
    await loadDemoWorld(store, { users: 2000, tracks: 5000, days: 28, seed: 1 });
    const worker = new RunWorker(store, { exclusive: true });
    const server = await startServer(store, { port: 0, policy: { apiKey: "bench", openQueries: true }, worker });
    const url = `${server.url}/health`;
    const measured: [string, number[]][] = [["idle", await drive(url, Math.min(10, SECONDS))]];
    await worker.start();
    measured.push(["during_training", await duringTraining(store, worker, url, 1)]);
    if (THREADS > 1) {
      rec.note(`during_training_${THREADS}_threads: fs-vae-quick with training.threads ${THREADS} (data-parallel)`);
      measured.push([`during_training_${THREADS}_threads`, await duringTraining(store, worker, url, THREADS)]);
    }
    for (const [label, values] of measured) {
      rec.figure(`health_p50_ms_${label}`, percentile(values, 50), 1);
      rec.figure(`health_p99_ms_${label}`, percentile(values, 99), 1);
      console.error(`  ${label}: ${values.length} requests, max ${Math.max(...values).toFixed(1)} ms`);
    }
    console.error("bench:jobs: writing and reading a 5 MB checkpoint, PGlite's bytea codec and Rubato's...");
    await checkpointFigures();
    rec.save();
    await worker.stop();
    await server.close();
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
