import fs from "node:fs";
import { Option, type Command } from "commander";
import cliProgress from "cli-progress";
import { evaluateModels, parseBetaGrid, parseSeeds, type EvaluationProgress } from "../../jobs/evaluation";
import { PAPER_MODELS } from "../../eval/tables";
import { evaluationOutput, type EvaluationOutcome } from "../../eval/output";
import { mergeEvaluations } from "../../eval/merge";
import { BadUserInput } from "../../errors";
import { withStore } from "../store";
import { log } from "../../log";

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} expects a positive integer, got "${v}"`);
  return n;
};

interface EvalFlags {
  models: string;
  seeds: string;
  epochs?: number;
  batchSize?: number;
  set?: string;
  concurrency: number;
  fresh?: boolean;
  json?: boolean;
  out?: string;
  markdown?: string;
  compare?: string;
  betaGrid?: string;
  merge?: string[];
}

/** The training options, which a merge (no training) cannot take. */
const TRAINING_FLAGS = ["models", "seeds", "epochs", "batchSize", "set", "concurrency", "fresh", "betaGrid"];

const time = (s: number | null) =>
  s === null ? "?" : s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 90 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`;

/** A single progress line on a terminal; one line per finished run otherwise. */
function progressReporter() {
  if (!process.stderr.isTTY) {
    return {
      update(p: EvaluationProgress) {
        if (p.ended)
          console.error(
            `run ${p.ended.index}/${p.total} ${p.ended.model} seed ${p.ended.seed}: ${p.ended.status}` +
              (p.ended.error ? ` (${p.ended.error})` : "") +
              ` [${p.done}/${p.total} done, ETA ${time(p.etaSeconds)}]`,
          );
      },
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: "eval [{bar}] {value}/{total} runs{failed} | {active} | ETA {remaining}", stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p: EvaluationProgress) {
      const active =
        p.active
          .map(
            (a) =>
              `run ${a.index} ${a.model} seed ${a.seed}` +
              (a.epoch !== null ? ` epoch ${a.epoch}/${a.epochs}` : "") +
              (a.step !== null ? ` step ${a.step}${a.totalSteps ? `/${a.totalSteps}` : ""}` : ""),
          )
          .join("; ") || "waiting";
      const payload = { active, failed: p.failed ? ` (${p.failed} failed)` : "", remaining: time(p.etaSeconds) };
      if (!started) bar.start(p.total, p.done, payload);
      else bar.update(p.done, payload);
      started = true;
    },
    stop: () => started && bar.stop(),
  };
}

export function registerEval(program: Command): void {
  program
    .command("eval")
    .description(
      "train and test every model for every seed on one shared data cut-off and print the paper's Table 1 (baselines) and Table 2 (ablations)",
    )
    .option("--models <list>", "comma-separated model names (shipped specs, models trained before, or spec files)", PAPER_MODELS.join(","))
    .option("--seeds <n|list>", "N for seeds 1..N, or a list like 7,11,13", "3")
    .option("--epochs <n>", "override training.epochs of the learned models", positive("epochs"))
    .option("--batch-size <n>", "override training.batch_size of the learned models", positive("batch-size"))
    .option("--set <json>", 'more overrides for the learned models as JSON, e.g. \'{"training":{"learning_rate":0.001}}\'')
    .option("--concurrency <n>", "runs trained at once by this process", positive("concurrency"), 1)
    .option("--fresh", "train every run again instead of reusing runs of the same spec, seed and cut-off")
    .option(
      "--compare <model>",
      "also compare every other model with this one seed by seed (added to --models if missing): per-seed differences, mean ± sd, sign agreement",
    )
    .option(
      "--beta-grid <model=b1,b2,...>",
      "Mult-VAE's selection of beta, e.g. vae-cf=0.2,0.1,0.05,0.01: one run of that model per beta and seed; per seed the one with the lowest validation reconstruction stands for it (the chosen betas print after the tables; `betaSelection` in the JSON)",
    )
    .addOption(
      new Option(
        "--merge <files...>",
        "train nothing: build the tables from the JSON of earlier evaluations (--out) of the same data and seeds, e.g. the paper's two tables evaluated in two sittings",
      ).conflicts(TRAINING_FLAGS),
    )
    .option("--json", "print JSON (every run id and per-seed figure) instead of Markdown")
    .option("--out <file.json>", "also write the JSON to this file")
    .option("--markdown <file.md>", "also write the Markdown tables to this file")
    .addHelpText(
      "after",
      "\nEach (model, seed) is a run like any other (rubato runs): queued with the same data cut-off, trained by this\n" +
        "process, its test metrics stored. Successful runs of the same spec, seed and cut-off are reused unless --fresh;\n" +
        "an interrupted evaluation continues where it stopped when run again. Exits 1 when a run failed (the tables still print).\n" +
        "\nReading the tables:\n" +
        "  Baselines: average (mean of all the user's plays so far), recent (mean of the last features.fast.window = 5\n" +
        "  plays: the fast features without learning) and popularity. Every learned run also stores Average's, Recent's\n" +
        "  and Popularity's metrics on its own test rows.\n" +
        "  'norm: prediction / target' is the mean length of the predicted embeddings against that of the true next\n" +
        "  tracks': a prediction much shorter than its targets is shrinking (towards zero, or the mean of all tracks).\n" +
        "  After the tables, a warning (stderr, and `warnings` in the JSON) names every learned model whose mean test\n" +
        "  L2 or HR@10 does not beat both average and recent, with the figures, e.g.\n" +
        "    warning: fs-vae-quick does not beat recent: L2 4.524 vs 3.513, HR@10 0.060 vs 0.535 (test means over 2 seeds, on the same rows)\n" +
        "  --compare MODEL adds a paired comparison (Markdown after the tables; `comparison` in the JSON): for every other\n" +
        "  model, model - MODEL on each seed for each metric, the mean ± sd of those differences, and on how many seeds\n" +
        '  they share its sign ("lower on 5 of 6 seeds (better)"). Seeds where either run failed are left out.\n' +
        "\nExamples:\n" +
        `  rubato eval --models ${PAPER_MODELS.join(",")} --seeds 3\n` +
        "  rubato eval --models fs-vae-quick,average,no-fast --seeds 2 --epochs 1 --markdown tables.md --out tables.json\n" +
        "  rubato eval --models fs-vae-quick,non-probabilistic,average,recent --seeds 6 --compare recent\n" +
        "\nIn parts (hours each on a small machine; the same store, or stores loaded with the same data):\n" +
        "  rubato eval --models fs-vae-quick,jodie,latent-cross,vae-cf,vanilla-rnn,aggregate-sequence,average,recent,popularity --out table1.json\n" +
        "  rubato eval --models no-fast,no-slow,shuffle,non-probabilistic --out table2.json\n" +
        "  rubato eval --merge table1.json table2.json --markdown tables.md\n" +
        "The parts must share the data cut-off and the seeds; a model in two parts must have the same runs there.",
    )
    .action((flags: EvalFlags) => {
      if (flags.merge) return mergeParts(flags, flags.merge);
      // Options are checked before the store opens.
      const seeds = parseSeeds(flags.seeds);
      const betaGrid = flags.betaGrid === undefined ? undefined : parseBetaGrid(flags.betaGrid);
      let overrides: Record<string, unknown> = {};
      if (flags.set) {
        try {
          overrides = JSON.parse(flags.set) as Record<string, unknown>;
        } catch (err) {
          throw new Error(`--set expects JSON, e.g. '{"training":{"epochs":3}}': ${(err as Error).message}`, { cause: err });
        }
      }
      const training = { ...((overrides.training as object) ?? {}) } as Record<string, unknown>;
      if (flags.epochs !== undefined) training.epochs = flags.epochs;
      if (flags.batchSize !== undefined) training.batch_size = flags.batchSize;
      if (Object.keys(training).length) overrides = { ...overrides, training };
      return withStore(async (store) => {
        const controller = new AbortController();
        const stop = () => controller.abort();
        process.once("SIGINT", stop);
        const progress = progressReporter();
        try {
          const result = await evaluateModels(store, {
            models: flags.models
              .split(",")
              .map((m) => m.trim())
              .filter(Boolean),
            seeds,
            overrides: Object.keys(overrides).length ? overrides : undefined,
            concurrency: flags.concurrency,
            fresh: flags.fresh,
            compare: flags.compare?.trim() || undefined,
            betaGrid,
            signal: controller.signal,
            onProgress: (p) => progress.update(p),
            onWarning: (w) => console.error(`warning: ${w}`),
            // Each run's stages and their seconds (dataset built, trained, user embeddings stored):
            // debug, so they do not break the progress bar (RUBATO_LOG_LEVEL=debug shows them).
            log: (message, fields) => log.debug(fields ?? {}, message),
          }).finally(() => progress.stop());
          write(flags, result);
          for (const w of result.modelWarnings) console.error(`warning: ${w}`);
          console.error(
            `${result.runs.length} runs (${result.reused} reused, ${result.failed} failed) in ${time(result.seconds)}` +
              `; data up to ${result.dataCutoff.toISOString()}`,
          );
          if (result.failed) process.exitCode = 1;
        } finally {
          process.removeListener("SIGINT", stop);
        }
      });
    });
}

/** Prints the tables (or the JSON) and writes --out and --markdown. */
function write(flags: EvalFlags, result: EvaluationOutcome, extra: Record<string, unknown> = {}): void {
  const { markdown, json } = evaluationOutput(result, extra);
  if (flags.out) fs.writeFileSync(flags.out, `${JSON.stringify(json, null, 2)}\n`);
  if (flags.markdown) fs.writeFileSync(flags.markdown, `${markdown}\n`);
  console.log(flags.json ? JSON.stringify(json, null, 2) : markdown);
}

/** --merge: the tables of earlier evaluations' JSON files, as one evaluation. */
function mergeParts(flags: EvalFlags, files: string[]): void {
  const parts = files.map((file) => {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      throw new BadUserInput(`--merge: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      return { source: file, json: JSON.parse(text) as unknown };
    } catch (err) {
      throw new BadUserInput(`--merge: ${file} is not JSON (${(err as Error).message}); expected a file written by rubato eval --out`);
    }
  });
  const result = mergeEvaluations(parts, { compare: flags.compare?.trim() || undefined });
  write(flags, result, { mergedFrom: result.parts });
  for (const w of [...result.warnings, ...result.modelWarnings]) console.error(`warning: ${w}`);
  const runs = result.models.reduce((n, m) => n + m.runs.length, 0);
  console.error(
    `${runs} runs of ${result.models.length} models merged from ${parts.length} files (${result.failed} failed)` +
      `; data up to ${result.dataCutoff.toISOString()}`,
  );
  if (result.failed) process.exitCode = 1;
}
