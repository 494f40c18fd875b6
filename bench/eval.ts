/**
 * npm run bench:eval — how long the paper's tables take: builds the default
 * demo world (2,000 users, 5,000 tracks, 28 days, seed 1) in a fresh embedded
 * store, runs `rubato eval` over the 10 models of Tables 1 and 2 with 3 seeds,
 * and prints
 *   eval_wall_s N        the whole evaluation (not the world's loading)
 *   eval_runs N
 *   eval_run_s_<model> N mean seconds per run of each model (claimed to finished: data, training, test, embeddings)
 * then the Markdown tables.
 *
 * Hours on 2 cores at full size. Shrink it with BENCH_USERS, BENCH_TRACKS,
 * BENCH_DAYS, BENCH_SEEDS (a count), BENCH_MODELS (comma-separated),
 * BENCH_EPOCHS (overrides training.epochs of the learned models) and
 * BENCH_CONCURRENCY (runs at once, default 1), e.g.
 *   BENCH_USERS=300 BENCH_TRACKS=1000 BENCH_DAYS=14 BENCH_SEEDS=1 npm run bench:eval
 *
 * BENCH_STORE=DIR keeps the store in DIR instead of a temp dir (the world is loaded
 * only when DIR holds no plays), so a run stopped part-way (hours) continues where it
 * was: runs that succeeded are reused, runs left running resume from their
 * checkpoints. Per-run seconds are each run's own (stored with it); eval_wall_s is
 * recorded only when this invocation trained every run (none reused).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { evaluateModels, parseSeeds } from "../src/jobs/evaluation";
import { formatEvaluationMarkdown, PAPER_MODELS } from "../src/eval/tables";
import { loadDemoWorld } from "../src/data/demo-data";
import { openStore } from "../src/store/store";
import { getEventStats } from "../src/store/catalog";
import { recorder } from "./record";

const rec = recorder("eval");

const env = (name: string, dflt: number) => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} expects a positive integer, got "${process.env[name]}"`);
  return v;
};

async function main() {
  const world = { users: env("BENCH_USERS", 2000), tracks: env("BENCH_TRACKS", 5000), days: env("BENCH_DAYS", 28), seed: 1 };
  const seeds = parseSeeds(String(env("BENCH_SEEDS", 3)));
  const models = process.env.BENCH_MODELS ? process.env.BENCH_MODELS.split(",").map((m) => m.trim()) : [...PAPER_MODELS];
  const epochs = process.env.BENCH_EPOCHS ? env("BENCH_EPOCHS", 1) : undefined;
  const concurrency = env("BENCH_CONCURRENCY", 1);
  const kept = process.env.BENCH_STORE;
  const dir = kept ? path.resolve(kept) : fs.mkdtempSync(path.join(os.tmpdir(), "rubato-bench-eval-"));
  const store = await openStore({ backend: "pglite", location: path.join(dir, "pgdata") });
  try {
    if (kept && (await getEventStats(store.sql)).count > 0) console.error(`bench:eval: continuing in ${dir} (BENCH_STORE)`);
    else {
      console.error(`bench:eval: loading the demo world (${world.users} users, ${world.tracks} tracks, ${world.days} days)...`);
      await loadDemoWorld(store, world);
    }
    console.error(
      `bench:eval: ${models.length} models x ${seeds.length} seeds, concurrency ${concurrency}${epochs ? `, ${epochs} epochs` : ""}`,
    );
    const started = Date.now();
    const result = await evaluateModels(store, {
      models,
      seeds,
      concurrency,
      overrides: epochs ? { training: { epochs } } : undefined,
      onProgress: (p) => {
        if (p.ended)
          console.error(
            `  run ${p.ended.index}/${p.total} ${p.ended.model} seed ${p.ended.seed}: ${p.ended.status}` +
              `${p.ended.error ? ` (${p.ended.error})` : ""} at ${Math.round((Date.now() - started) / 1000)} s`,
          );
      },
    });
    if (result.reused === 0) rec.figure("eval_wall_s", (Date.now() - started) / 1000, 1);
    else rec.note(`${result.reused} of ${result.runs.length} runs reused from ${dir}: no eval_wall_s`);
    rec.figure("eval_runs", result.runs.length);
    for (const m of result.models) {
      const seconds = m.runs.flatMap((r) => (r.wallSeconds === null ? [] : [r.wallSeconds]));
      if (seconds.length) rec.figure(`eval_run_s_${m.model}`, seconds.reduce((a, b) => a + b, 0) / seconds.length, 1);
    }
    console.log(`\n${formatEvaluationMarkdown(result)}`);
    for (const w of result.modelWarnings) console.log(`warning: ${w}`);
    if (result.failed) process.exitCode = 1;
    else rec.save();
  } finally {
    await store.close();
    if (!kept) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
