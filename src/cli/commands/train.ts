import type { Command } from "commander";
import { readCheckpointFile, trainRun } from "../../jobs/train";
import { formatRunReport, writeAtomically } from "../../train/run";
import { progressBar } from "../progress";
import { withStore } from "../store";

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} expects a positive integer, got "${v}"`);
  return n;
};
const nonNegInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} expects a non-negative integer, got "${v}"`);
  return n;
};

const threadCount = (v: string): number | "auto" => (v === "auto" ? v : int("threads")(v));
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface TrainFlags {
  epochs?: number;
  threads?: number | "auto";
  seed?: number;
  batchSize?: number;
  maxUsers?: number;
  testRows?: number;
  modelsDir?: string;
  checkpoint?: string;
  resume?: string;
  json?: boolean;
}

export function registerTrain(program: Command): void {
  program
    .command("train [spec]")
    .description(
      "train a model spec (a name in models/ or a YAML file) on the store's data, in this process, as a stored run (rubato runs lists it), and print test metrics next to Average, Recent and Popularity",
    )
    .option("--epochs <n>", "override training.epochs", int("epochs"))
    .option("--seed <n>", "override training.seed", nonNegInt("seed"))
    .option("--batch-size <n>", "override training.batch_size", int("batch-size"))
    .option("--threads <n|auto>", "override training.threads: train data-parallel on N threads (auto: every core)", threadCount)
    .option(
      "--max-users <n>",
      "train on the first N users only (a trial: the run is stored, but resume it with the same --max-users)",
      int("max-users"),
    )
    .option("--test-rows <n>", "evaluate at most N test points (evenly spaced)", int("test-rows"))
    .option("--models-dir <dir>", "where spec names and parents are looked up (default: the shipped models/)")
    .option("--checkpoint <file>", "also write the run's checkpoints (stored with the run after every epoch and on Ctrl-C) to this file")
    .option("--resume <run-id|file>", "continue a run (cancelled, failed or interrupted) from its stored checkpoint, or start from a checkpoint file")
    .option("--json", "print the report as JSON")
    .addHelpText(
      "after",
      "\nThe run is queued and trained here through the queue's own path, so it is listed by `rubato runs` with its curves," +
        "\nartifact and user embeddings, and can be served (`rubato runs activate`). Ctrl-C cancels it; it keeps its checkpoint." +
        "\n\nExamples:\n  rubato train fs-vae-quick\n  rubato train models/no-fast.yaml --epochs 3 --max-users 500" +
        "\n  rubato train fs-vae-quick --threads auto\n  rubato train --resume 398243be-1c2d-4e5f-8a9b-0123456789ab",
    )
    .action(async (spec: string | undefined, flags: TrainFlags) => {
      // Set once the store is closed: closing PGlite resets process.exitCode.
      process.exitCode = await withStore(async (store): Promise<number> => {
        const controller = new AbortController();
        const stop = () => controller.abort();
        process.once("SIGINT", stop);
        const bar = progressBar("train", "steps");
        const overrides: Record<string, number | string> = {};
        if (flags.epochs !== undefined) overrides.epochs = flags.epochs;
        if (flags.seed !== undefined) overrides.seed = flags.seed;
        if (flags.batchSize !== undefined) overrides.batch_size = flags.batchSize;
        if (flags.threads !== undefined) overrides.threads = flags.threads;
        const resumeRun = flags.resume && RUN_ID.test(flags.resume) ? flags.resume : undefined;
        if (resumeRun && (spec || Object.keys(overrides).length))
          throw new Error("--resume RUN_ID continues the run's own spec: give no spec and no --epochs, --seed, --batch-size or --threads");
        try {
          const result = await trainRun(store, spec ?? null, {
            modelsDir: flags.modelsDir,
            overrides: Object.keys(overrides).length ? { training: overrides } : undefined,
            resumeRun,
            resumeCheckpoint: flags.resume && !resumeRun ? readCheckpointFile(flags.resume) : undefined,
            maxUsers: flags.maxUsers,
            testRows: flags.testRows,
            onCheckpoint: flags.checkpoint ? (c) => writeAtomically(flags.checkpoint!, Buffer.from(c)) : undefined,
            signal: controller.signal,
            onStep: (p) => bar.update(p.step, p.totalSteps),
            onEpoch: (e) => {
              if (process.stderr.isTTY) return;
              const v = e.validation;
              console.error(
                `epoch ${e.epoch}/${e.epochs}: loss ${e.train.loss.toFixed(4)}` +
                  (v
                    ? `, validation ${v.loss.toFixed(4)}${v.metrics ? ` (L2 ${v.metrics.l2.toFixed(3)}, HR@10 ${v.metrics.hr10.toFixed(3)})` : ""}`
                    : "") +
                  `, beta ${e.beta.toPrecision(3)}, active units ${e.activeUnits}/${e.latentUnits}, ${Math.round(e.samplesPerSecond)} samples/s`,
              );
            },
            log: (m) => console.error(m),
          }).finally(() => bar.stop());
          const { report } = result;
          if (report) console.log(flags.json ? JSON.stringify({ status: result.status, ...report }, null, 2) : formatRunReport(report));
          if (result.status === "CANCELLED") {
            console.error(`cancelled; resume with rubato train --resume ${result.runId}`);
            return 130;
          }
          if (result.status !== "SUCCEEDED") {
            console.error(`run ${result.runId} ${result.status}${result.error ? `: ${result.error}` : ""}`);
            return 1;
          }
          return 0;
        } finally {
          process.removeListener("SIGINT", stop);
        }
      });
    });
}
