/**
 * npm run bench:jobs — does training stall the API? Loads the demo world into a
 * fresh embedded store, starts the server with its in-process worker, queues
 * fs-vae-quick and, once it trains, drives GET /health from a second process
 * (4 concurrent clients, 20 s). Prints p50/p99 latency idle and during training:
 *   health_p99_ms_idle N
 *   health_p99_ms_during_training N
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer } from "../src/api/server";
import { cancel, startRun } from "../src/jobs/runs";
import { RunWorker } from "../src/jobs/worker";
import { loadDemoWorld } from "../src/data/demo-data";
import { openStore } from "../src/store/store";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);

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

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-bench-jobs-"));
  const store = await openStore({ backend: "pglite", location: path.join(dir, "pgdata") });
  try {
    console.error("bench:jobs: loading the demo world (2,000 users, 5,000 tracks, 28 days)...");
    await loadDemoWorld(store, { users: 2000, tracks: 5000, days: 28, seed: 1 });
    const worker = new RunWorker(store, { exclusive: true });
    const server = await startServer(store, { port: 0, policy: { apiKey: "bench", openQueries: true }, worker });
    const url = `${server.url}/health`;

    const idle = await drive(url, Math.min(10, SECONDS));
    let training = false;
    worker.events.subscribe((e) => {
      if (e.kind === "step") training = true;
    });
    await worker.start();
    const run = await startRun(store, { model: "fs-vae-quick" });
    while (!training) await new Promise((r) => setTimeout(r, 100));
    console.error(`bench:jobs: run ${run.id} is training; measuring /health for ${SECONDS} s`);
    const during = await drive(url, SECONDS);
    const stillTraining = training;

    for (const [label, values] of [
      ["idle", idle],
      ["during_training", during],
    ] as const) {
      console.log(`health_p50_ms_${label} ${percentile(values, 50).toFixed(1)}`);
      console.log(`health_p99_ms_${label} ${percentile(values, 99).toFixed(1)}`);
      console.error(`  ${label}: ${values.length} requests, max ${Math.max(...values).toFixed(1)} ms`);
    }
    if (!stillTraining) console.error("  warning: the run stopped training before the measurement ended");
    await cancel(store, run.id);
    await worker.stop();
    await new Promise((r) => setTimeout(r, 3000));
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
