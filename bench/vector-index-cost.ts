/**
 * What building pgvector's HNSW indexes cost import, demo-data and embed-tracks
 * on PGlite, before they stopped building them (issue 16): each step as it runs
 * now, then the index build it used to end with, timed in the same process.
 *
 *   node -r @swc-node/register bench/vector-index-cost.ts [--users 1000] [--tracks 30000] [--days 7]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadDemoWorld } from "../src/data/demo-data";
import { embedTracks } from "../src/data/track-embeddings";
import { ensureVectorIndex } from "../src/store/nearest";
import { openStore } from "../src/store/store";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await f();
  return [value, (performance.now() - t0) / 1000];
}

async function main() {
  const world = { users: arg("users", 1000), tracks: arg("tracks", 30_000), days: arg("days", 7), seed: 1 };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-vector-cost-"));
  const store = await openStore({ backend: "pglite", location: path.join(dir, "pgdata") });
  try {
    const [loaded, load] = await timed(() => loadDemoWorld(store, world));
    const [, loadIndex] = await timed(() => ensureVectorIndex(store));
    const [, embed] = await timed(() => embedTracks(store, { overwrite: true, checks: false }));
    const [, embedIndex] = await timed(() => ensureVectorIndex(store));
    const row = (step: string, now: number, index: number) =>
      `${step.padEnd(28)} ${now.toFixed(1).padStart(7)} s now, ${(now + index).toFixed(1).padStart(7)} s with the index build (${index.toFixed(1)} s, ${((index / (now + index)) * 100).toFixed(0)} %)`;
    console.log(`${world.users} users, ${world.tracks} tracks, ${world.days} days: ${loaded.events.inserted ?? "?"} plays; load average ${os.loadavg()[0].toFixed(1)}`);
    console.log(row("demo-data (import)", load, loadIndex));
    console.log(row("embed-tracks --overwrite", embed, embedIndex));
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
