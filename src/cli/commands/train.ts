import type { Command } from "commander";
import { formatRunReport, runTraining } from "../../train/run";
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
    .command("train <spec>")
    .description(
      "train a model spec (a name in models/ or a YAML file) on the store's data and print test metrics next to Average, Recent and Popularity",
    )
    .option("--epochs <n>", "override training.epochs", int("epochs"))
    .option("--seed <n>", "override training.seed", nonNegInt("seed"))
    .option("--batch-size <n>", "override training.batch_size", int("batch-size"))
    .option("--threads <n|auto>", "override training.threads: train data-parallel on N threads (auto: every core)", threadCount)
    .option("--max-users <n>", "train on the first N users only", int("max-users"))
    .option("--test-rows <n>", "evaluate at most N test points (evenly spaced)", int("test-rows"))
    .option("--models-dir <dir>", "where spec names and parents are looked up (default: the shipped models/)")
    .option("--checkpoint <file>", "write a resumable checkpoint after every epoch and on Ctrl-C")
    .option("--resume <file>", "continue from a checkpoint of the same spec and data")
    .option("--json", "print the report as JSON")
    .addHelpText("after", "\nExamples:\n  rubato train fs-vae-quick\n  rubato train models/no-fast.yaml --epochs 3 --max-users 500\n  rubato train fs-vae-quick --threads auto")
    .action((spec: string, flags: TrainFlags) =>
      withStore(async (store) => {
        const controller = new AbortController();
        const stop = () => controller.abort();
        process.once("SIGINT", stop);
        const bar = progressBar("train", "steps");
        try {
          const report = await runTraining(store, spec, {
            ...flags,
            checkpointPath: flags.checkpoint,
            resumePath: flags.resume,
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
            logger: (m) => console.error(m),
          }).finally(() => bar.stop());
          console.log(flags.json ? JSON.stringify(report, null, 2) : formatRunReport(report));
          if (report.training?.status === "cancelled") {
            console.error(flags.checkpoint ? `cancelled; resume with --resume ${flags.checkpoint}` : "cancelled");
            process.exitCode = 130;
          }
        } finally {
          process.removeListener("SIGINT", stop);
        }
      }),
    );
}
