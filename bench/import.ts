/**
 * npm run bench:import — events/s for importing 1,000,000 generated plays from a CSV
 * file (parse, validate, COPY, upsert users, dedupe) into PGlite and into PostgreSQL.
 * The server run needs DATABASE_URL (CI's .ci/postgres.sh prints one); it is skipped without.
 * Options: --events N (default 1,000,000), --tracks N (default 5,000), --users N (default 10,000),
 * --only pglite|server (one backend), --batch N (rows per COPY batch; default the loader's),
 * --thread yes|no (parse in a worker thread; default the loader's choice by file size). The stderr line also gives this process's CPU time,
 * which tells how much of the wall time the Node side (parsing, validation, COPY text) took.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { openStore, type Store } from "../src/store/store";
import { importTracksFile } from "../src/store/import/tracks";
import { importEventsFile } from "../src/store/import/events";
import { recorder } from "./record";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const EVENTS = arg("events", 1_000_000);
const TRACKS = arg("tracks", 5_000);
const USERS = arg("users", 10_000);
const BATCH = arg("batch", 0) || undefined;
const THREAD = process.argv.includes("--thread") ? process.argv[process.argv.indexOf("--thread") + 1] === "yes" : undefined;
const ONLY = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : null;
const DIM = 80;
const rec = recorder("import");

function writeFiles(dir: string) {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const tracks = ["id,genre,embedding"];
  for (let t = 0; t < TRACKS; t++) {
    tracks.push(`t${t},g${t % 16},"${Array.from({ length: DIM }, () => (rand() * 2 - 1).toFixed(4)).join(" ")}"`);
  }
  fs.writeFileSync(path.join(dir, "tracks.csv"), tracks.join("\n") + "\n");
  const out = fs.openSync(path.join(dir, "events.csv"), "w");
  fs.writeSync(out, "user,track,played_at,skipped,liked,added_to_playlist,restarted,ms_played\n");
  const start = Date.parse("2026-10-01T00:00:00Z");
  let buf = "";
  for (let i = 0; i < EVENTS; i++) {
    const user = i % USERS;
    const time = new Date(start + Math.floor(i / USERS) * 180_000 + user * 1000).toISOString();
    buf += `u${user},t${Math.floor(rand() * TRACKS)},${time},${rand() < 0.2 ? 1 : 0},${rand() < 0.05 ? 1 : 0},${rand() < 0.02 ? 1 : 0},${rand() < 0.03 ? 1 : 0},${Math.floor(rand() * 240000)}\n`;
    if (buf.length > 1 << 20) {
      fs.writeSync(out, buf);
      buf = "";
    }
  }
  fs.writeSync(out, buf);
  fs.closeSync(out);
}

async function run(label: string, store: Store, dir: string) {
  try {
    await importTracksFile(store, path.join(dir, "tracks.csv"), "csv");
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    const report = await importEventsFile(store, path.join(dir, "events.csv"), "csv", { batchSize: BATCH, parseInThread: THREAD });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const { user, system } = process.cpuUsage(cpu);
    if (report.inserted !== EVENTS) throw new Error(`${label}: inserted ${report.inserted} of ${EVENTS}`);
    rec.figure(`import_events_per_s_${label}`, EVENTS / seconds);
    console.error(`  ${label}: ${EVENTS} events in ${seconds.toFixed(1)} s (Node CPU ${((user + system) / 1e6).toFixed(1)} s), peak RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`);
  } finally {
    await store.close();
  }
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-bench-import-"));
  writeFiles(dir);
  console.error(`bench:import: ${EVENTS} events, ${USERS} users, ${TRACKS} tracks (${DIM}-d), CSV ${(fs.statSync(path.join(dir, "events.csv")).size / 2 ** 20).toFixed(0)} MiB`);
  if (ONLY !== "server") await run("pglite", await openStore({ backend: "pglite", location: path.join(dir, "pgdata") }), dir);
  const url = process.env.DATABASE_URL;
  if (ONLY === "pglite") {
    // only the embedded store was asked for
  } else if (url) {
    const name = `rubato_bench_${crypto.randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const dbUrl = new URL(url);
    dbUrl.pathname = `/${name}`;
    try {
      await run("server", await openStore({ backend: "postgres", location: dbUrl.toString() }), dir);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  } else {
    console.error("  server: skipped (set DATABASE_URL, e.g. eval \"$(.ci/postgres.sh start)\")");
  }
  fs.rmSync(dir, { recursive: true, force: true });
  rec.save();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
