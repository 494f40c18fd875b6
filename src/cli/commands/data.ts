import type { Command } from "commander";
import { DEFAULT_WORLD_SIZE } from "../../demo/world";
import { loadDemoWorld } from "../../data/demo-data";
import { migrate } from "../../store/migrate";
import { searchMethod } from "../../serving";
import { storeStats } from "../../store/stats";
import { progressBar } from "../progress";
import { withStore } from "../store";
import { printReport } from "./import";

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} expects a positive integer, got "${v}"`);
  return n;
};

export function registerData(program: Command): void {
  program
    .command("demo-data")
    .description("generate the synthetic music world (deterministic for a seed) and load it into the store")
    .option("--users <n>", "listeners", int("users"), DEFAULT_WORLD_SIZE.users)
    .option("--tracks <n>", "catalogue tracks", int("tracks"), DEFAULT_WORLD_SIZE.tracks)
    .option("--days <n>", "days of listening", int("days"), DEFAULT_WORLD_SIZE.days)
    .option("--seed <n>", "random seed", int("seed"), 1)
    .action((opts: { users: number; tracks: number; days: number; seed: number }) =>
      withStore(async (store) => {
        const bar = progressBar("", "rows");
        const report = await loadDemoWorld(store, opts, (_phase, p) => bar.update(p.rows, Math.max(p.total, p.rows))).finally(() =>
          bar.stop(),
        );
        printReport(report.tracks, "tracks");
        printReport(report.events, "events");
      }),
    );

  program
    .command("migrate")
    .description("apply pending database migrations (also done automatically on start-up)")
    .action(() =>
      withStore(async (store) => {
        const applied = await migrate(store);
        console.log(applied.length ? `applied: ${applied.join(", ")}` : "database is up to date");
      }),
    );

  program
    .command("status")
    .description("show the database backend and what it holds")
    .option("--json", "print JSON")
    .action((opts: { json?: boolean }) =>
      withStore(async (store) => {
        const s = await storeStats(store);
        if (opts.json) return console.log(JSON.stringify(s, null, 2));
        console.log(
          [
            `database   ${s.backend} (${s.location})`,
            `search     ${searchLine(s.tracksWithEmbedding)}`,
            `users      ${s.users}`,
            `tracks     ${s.tracks} (${s.tracksWithEmbedding} with a ${s.embeddingDim ?? "?"}-d embedding)`,
            `events     ${s.events}${s.firstPlay ? ` from ${s.firstPlay.toISOString()} to ${s.lastPlay!.toISOString()}` : ""}`,
          ].join("\n"),
        );
      }),
    );
}

/** What serving's similarTracks does with a catalogue of this size (rubato serve's defaults). */
function searchLine(tracks: number): string {
  const { method, exactBelow } = searchMethod(tracks);
  return method === "exact"
    ? `in-process, exhaustive (exact) below ${exactBelow.toLocaleString("en")} tracks`
    : `in-process IVF index (approximate, recall@10 calibrated to 0.98; exhaustive below ${exactBelow.toLocaleString("en")} tracks)`;
}
