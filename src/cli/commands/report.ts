import type { Command } from "commander";
import { movementTable, withoutValues } from "../../eval/movement";
import { runMovement, type RunMovement } from "../../jobs/movement";
import { writeReport } from "../../report";
import { withStore } from "../store";

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} expects a positive integer, got "${v}"`);
  return n;
};

const stepList = (v: string) => {
  const steps = v.split(",").map((s) => Number(s.trim()));
  if (!steps.length || steps.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`--steps expects positive integers separated by commas, e.g. 1,7; got "${v}"`);
  return steps;
};

export function formatMovement(m: RunMovement): string {
  const f = (v: number, d: number) => (Number.isFinite(v) ? v.toFixed(d) : "-");
  const width = Math.max(6, ...m.analysis.methods.map((name) => name.length));
  const lines = [
    `run ${m.runId} (${m.modelName}, seed ${m.seed}), data up to ${m.dataCutoff ?? "the last play"}: ` +
      `${m.users} users with held-out steps (of ${m.candidates} read), ${m.steps} embeddings per method, ${m.seconds.toFixed(1)} s`,
    "",
    `${"steps".padStart(5)}  ${"method".padEnd(width)} ${"pairs".padStart(6)}  ${"L2 mean".padStart(8)} ${"median".padStart(8)} ${"p90".padStart(8)}  ` +
      `${"cos mean".padStart(8)} ${"median".padStart(8)} ${"p90".padStart(8)}`,
  ];
  for (const r of movementTable(m.analysis))
    lines.push(
      `${String(r.lag).padStart(5)}  ${r.method.padEnd(width)} ${String(r.n).padStart(6)}  ${f(r.l2.mean, 3).padStart(8)} ${f(r.l2.median, 3).padStart(8)} ` +
        `${f(r.l2.p90, 3).padStart(8)}  ${f(r.cosine.mean, 4).padStart(8)} ${f(r.cosine.median, 4).padStart(8)} ${f(r.cosine.p90, 4).padStart(8)}`,
    );
  return lines.join("\n");
}

export function registerReport(program: Command): void {
  program
    .command("movement <runId>")
    .description(
      "how far user embeddings move after 1 and 7 plays in the held-out period: the run's model (mu) against the Average baseline",
    )
    .option("--steps <list>", "step counts, separated by commas", stepList, [1, 7])
    .option(
      "--users <n>",
      "users in the sample (deterministic: ordered by a hash of the run's seed and the user)",
      positiveInt("users"),
      200,
    )
    .option("--bins <n>", "histogram bins (--json)", positiveInt("bins"), 30)
    .option("--json", "print the analysis as JSON (with every change measured)")
    .addHelpText("after", "\nExamples:\n  rubato movement 398243be-...\n  rubato movement 398243be-... --steps 1,3,7 --users 500 --json")
    .action((runId: string, opts: { steps: number[]; users: number; bins: number; json?: boolean }) =>
      withStore(async (store) => {
        const m = await runMovement(store, runId, { lags: opts.steps, users: opts.users, bins: opts.bins });
        console.log(opts.json ? JSON.stringify(m) : formatMovement({ ...m, analysis: withoutValues(m.analysis) }));
      }),
    );

  program
    .command("report <runIds...>")
    .description(
      "write a self-contained HTML report of runs (curves, metrics, beta schedule and active units, embedding movement, listening data) to DIR/index.html",
    )
    .requiredOption("--out <dir>", "directory to write index.html into (created if missing)")
    .option("--users <n>", "users in the movement analysis", positiveInt("users"), 200)
    .option("--steps <list>", "step counts of the movement analysis", stepList, [1, 7])
    .addHelpText(
      "after",
      "\nExamples:\n  rubato report 398243be-... d0c82973-... --out report/\n  open report/index.html   # no network needed",
    )
    .action((runIds: string[], opts: { out: string; users: number; steps: number[] }) =>
      withStore(async (store) => {
        const { file, charts, bytes } = await writeReport(store, runIds, opts.out, { movement: { users: opts.users, lags: opts.steps } });
        console.error(`${charts} charts, ${(bytes / 1024).toFixed(0)} KiB`);
        console.log(file);
      }),
    );
}
