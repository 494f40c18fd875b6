/**
 * Training or evaluating a spec on a dataset, the one way both the queue's
 * training thread (src/jobs/thread) and runTraining do it: a learned type
 * (the registry says which) trains with trainModel, a non-learned baseline is
 * only evaluated; either way the test metrics sit next to Average, Recent and
 * Popularity. `rubato train` enqueues a run and executes it in-process
 * (src/jobs/train.ts), so its report comes from here too (formatRunReport).
 */
import { readFileSync, writeFileSync, renameSync } from "node:fs";
import type { Store } from "../store/store";
import type { Catalogue } from "../features/history";
import type { Dataset } from "../features/dataset";
import type { Metrics } from "../eval/metrics";
import type { UncertaintyReport } from "../eval/uncertainty";
import { loadSpec, applyOverrides, formatSpecError, type SpecResult } from "../spec";
import type { ModelSpec } from "../spec/schema";
import { BASELINES } from "../eval/baselines";
import { modelFor, type Model } from "../model/registry";
import { loadTrainingData } from "./data";
import { evaluateBaselines, MAX_TEST_ROWS, type BaselineMetrics } from "./evaluate";
import { sampleRows } from "./batches";
import { trainModel, type EpochProgress, type StepProgress, type TrainOptions, type TrainStatus } from "./trainer";

/** What a run trained (or evaluated): plain data, sent from the training thread and stored with the run. */
export interface TrainSummary {
  status: TrainStatus;
  epochs: number;
  steps: number;
  seconds: number;
  best: { epoch: number; validationLoss: number } | null;
  history: EpochProgress[];
  latent: { activeUnits: number; latentUnits: number; klPerDim: number[] };
  schedule: { beta: number; warmupSteps: number; freeBits: number };
  warnings: string[];
  /** The tfjs backend (null for a non-learned baseline), and its threads where it has them. */
  backend: string | null;
  backendThreads?: number | null;
  /** The model's test metrics and the non-learned baselines' (average, recent, popularity) on the same rows. */
  test:
    | ({ rows: number; model: Metrics; activeUnits?: number; latentUnits?: number; uncertainty?: UncertaintyReport | null } & BaselineMetrics)
    | null;
}

export interface Trained {
  summary: TrainSummary;
  /** The trained model (null for a baseline); the caller disposes it. */
  model: Model | null;
  /** The final state (empty for a baseline). */
  checkpoint: Buffer;
}

export type TrainOrEvaluateOptions = Pick<
  TrainOptions,
  "signal" | "resume" | "testRows" | "checkpointEverySteps" | "onStep" | "onEpoch" | "onCheckpoint" | "logger"
>;

/** Trains a learned spec, or evaluates a non-learned one, on a dataset built for it. */
export async function trainOrEvaluate(
  spec: ModelSpec,
  dataset: Dataset,
  catalogue: Catalogue,
  options: TrainOrEvaluateOptions = {},
): Promise<Trained> {
  if (!modelFor(spec.type).learned) return { summary: evaluateBaseline(spec, dataset, catalogue, options.testRows), model: null, checkpoint: Buffer.alloc(0) };
  const result = await trainModel(spec, dataset, { ...options, catalogue });
  const ev = result.evaluation;
  return {
    model: result.model,
    checkpoint: result.checkpoint,
    summary: {
      status: result.status,
      epochs: result.epochs,
      steps: result.steps,
      seconds: result.seconds,
      best: result.best,
      history: result.history,
      latent: result.latent,
      schedule: result.schedule,
      warnings: result.warnings,
      backend: result.backend?.name ?? null,
      backendThreads: result.backend?.threads ?? null,
      test: ev
        ? {
            rows: ev.rows,
            model: ev.model,
            ...ev.baselines,
            activeUnits: ev.objective.activeUnits,
            latentUnits: ev.objective.latentUnits,
            uncertainty: ev.uncertainty,
          }
        : null,
    },
  };
}

/** A non-learned baseline: nothing to train, only its test metrics (it is one of the baselines measured next to every run). */
function evaluateBaseline(spec: ModelSpec, dataset: Dataset, catalogue: Catalogue, testRows?: number): TrainSummary {
  const rows = sampleRows(dataset.rows.test, testRows ?? MAX_TEST_ROWS);
  const started = Date.now();
  const baselines = rows.length ? evaluateBaselines(dataset, catalogue, rows, spec.features.fast.window) : null;
  const own = baselines ? (baselines as Record<string, Metrics>)[spec.type] : undefined;
  if (baselines && !own) throw new Error(`no evaluation for the non-learned type ${spec.type}`);
  return {
    status: "completed",
    epochs: 0,
    steps: 0,
    seconds: (Date.now() - started) / 1000,
    best: null,
    history: [],
    latent: { activeUnits: 0, latentUnits: 0, klPerDim: [] },
    schedule: { beta: 0, warmupSteps: 0, freeBits: 0 },
    warnings: [],
    backend: null,
    test: baselines ? { rows: rows.length, model: own!, ...baselines } : null,
  };
}

export interface RunOptions {
  /** Where spec names and parents are looked up (default: models/, or the file's directory for a path). */
  modelsDir?: string;
  epochs?: number;
  seed?: number;
  batchSize?: number;
  /** Override training.threads. */
  threads?: number | "auto";
  /** Only the first N users of the store. */
  maxUsers?: number;
  /** Evaluate at most this many test rows (evenly spaced); ranking cost grows with rows x catalogue. */
  testRows?: number;
  /** Write a resumable checkpoint here after every epoch (and on cancellation). */
  checkpointPath?: string;
  /** Resume from this checkpoint file. */
  resumePath?: string;
  signal?: AbortSignal;
  onStep?: (p: StepProgress) => void;
  onEpoch?: (p: EpochProgress) => void;
  /** Warnings and the backend line. */
  logger?: (message: string) => void;
}

export interface RunReport {
  /** The stored run (rubato train); absent for runTraining, which stores nothing. */
  runId?: string;
  spec: ModelSpec;
  specHash: string;
  warnings: string[];
  data: { users: number; tracks: number; dim: number; rows: { train: number; validation: number; test: number } };
  /** Null for a non-learned baseline spec. */
  training: Omit<TrainSummary, "test"> | null;
  /** Test metrics of the spec's model (or baseline) and of the non-learned baselines, on the same rows. */
  test: TrainSummary["test"];
}

/** The report of a run from its summary and its data. */
export function runReport(
  spec: ModelSpec,
  specHash: string,
  warnings: string[],
  data: RunReport["data"],
  { test, ...training }: TrainSummary,
): RunReport {
  return {
    spec,
    specHash,
    warnings: [...warnings, ...training.warnings],
    data,
    training: modelFor(spec.type).learned ? training : null,
    test,
  };
}

function resolveSpec(nameOrPath: string, options: RunOptions): { spec: ModelSpec; hash: string; warnings: string[] } {
  let result: SpecResult = loadSpec(nameOrPath, { modelsDir: options.modelsDir });
  const overrides: Record<string, number | string> = {};
  if (options.epochs !== undefined) overrides.epochs = options.epochs;
  if (options.seed !== undefined) overrides.seed = options.seed;
  if (options.batchSize !== undefined) overrides.batch_size = options.batchSize;
  if (options.threads !== undefined) overrides.threads = options.threads;
  if (result.ok && Object.keys(overrides).length) result = applyOverrides(result.spec, { training: overrides });
  if (!result.ok) throw new Error(`invalid spec:\n${result.errors.map(formatSpecError).join("\n")}`);
  return { spec: result.spec, hash: result.hash, warnings: result.warnings.map(formatSpecError) };
}

/**
 * Trains (or evaluates) a spec on the store's data and reports test metrics,
 * storing nothing: for tests and scripts. `rubato train` stores a run instead
 * (src/jobs/train.ts); both go through trainOrEvaluate.
 */
export async function runTraining(store: Store, nameOrPath: string, options: RunOptions = {}): Promise<RunReport> {
  const { spec, hash, warnings } = resolveSpec(nameOrPath, options);
  const { dataset, catalogue } = await loadTrainingData(store, spec, { maxUsers: options.maxUsers });
  const data = dataSummary(dataset, catalogue);
  const trained = await trainOrEvaluate(spec, dataset, catalogue, {
    signal: options.signal,
    onStep: options.onStep,
    onEpoch: options.onEpoch,
    resume: options.resumePath ? readFileSync(options.resumePath) : undefined,
    testRows: options.testRows,
    logger: options.logger,
    onCheckpoint: options.checkpointPath ? (buf) => writeAtomically(options.checkpointPath!, buf) : undefined,
  });
  trained.model?.dispose();
  return runReport(spec, hash, warnings, data, trained.summary);
}

/** The dataset's sizes as the report shows them. */
export function dataSummary(dataset: Dataset, catalogue: Catalogue): RunReport["data"] {
  return {
    users: dataset.counts.users,
    tracks: catalogue.externalIds.length,
    dim: dataset.dim,
    rows: { train: dataset.rows.train.length, validation: dataset.rows.validation.length, test: dataset.rows.test.length },
  };
}

export function writeAtomically(file: string, buf: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, buf);
  renameSync(tmp, file);
}

const fmt = (v: number, digits = 3) => (Number.isFinite(v) ? v.toFixed(digits) : "-");
const int = (v: number) => v.toLocaleString("en-US");

/** The report as the CLI prints it. */
export function formatRunReport(r: RunReport): string {
  const lines: string[] = [];
  const { rows } = r.data;
  lines.push(
    `${r.spec.name} (spec ${r.specHash.slice(0, 12)}): ${int(r.data.users)} users, ${int(rows.train + rows.validation + rows.test)} prediction points ` +
      `(train ${int(rows.train)} / validation ${int(rows.validation)} / test ${int(rows.test)}), ${int(r.data.tracks)} tracks of dimension ${r.data.dim}`,
  );
  const t = r.training;
  if (t) {
    if (t.backend)
      lines.push(`backend     ${t.backend}${t.backendThreads ? ` (${t.backendThreads} thread${t.backendThreads > 1 ? "s" : ""})` : ""}`);
    const how = t.status === "early_stopped" ? "stopped early" : t.status;
    const last = t.history[t.history.length - 1];
    lines.push(
      `training    ${how} after ${t.epochs} epoch${t.epochs === 1 ? "" : "s"} (${int(t.steps)} steps) in ${t.seconds.toFixed(1)} s` +
        (last ? `, ${int(Math.round(last.samplesPerSecond))} samples/s` : "") +
        (t.best ? `; best validation loss ${fmt(t.best.validationLoss, 4)} at epoch ${t.best.epoch}` : ""),
    );
    const s = t.schedule;
    if (modelFor(r.spec.type).latent(r.spec) === "probabilistic") {
      const reached = s.warmupSteps > 0 ? Math.min(1, Math.max(0, t.steps - 1) / s.warmupSteps) * s.beta : s.beta;
      lines.push(
        `beta        ${s.beta}` +
          (s.warmupSteps > 0
            ? `, linear warm-up from 0 over ${int(s.warmupSteps)} steps (beta_t = ${fmt(reached, 5)} at the last step)`
            : ", constant") +
          (s.freeBits > 0 ? `; free bits ${s.freeBits} nats per unit` : ""),
      );
      const onTest = r.test?.activeUnits !== undefined;
      const active = onTest ? r.test!.activeUnits! : t.latent.activeUnits;
      lines.push(
        `latent      ${active} of ${t.latent.latentUnits} units active (mean KL > 0.01 nats on the ${onTest ? "test" : "validation"} split)`,
      );
    } else lines.push("latent      deterministic (no KL term)");
  } else lines.push(`baseline    ${r.spec.type} (nothing to train)`);

  if (r.runId) lines.push(`run         ${r.runId} (rubato runs show ${r.runId})`);
  if (r.test) {
    const header = [`test (${int(r.test.rows)} points)`, "L2", "cosine", "HR@10", "NDCG@10", "MRR"];
    const row = (name: string, m: Metrics) => [name, fmt(m.l2), fmt(m.cosine), fmt(m.hr10), fmt(m.ndcg10), fmt(m.mrr, 4)];
    const table = [header, row(r.spec.name, r.test.model)];
    for (const kind of BASELINES) if (r.spec.type !== kind) table.push(row(kind, r.test[kind]));
    const widths = header.map((_, i) => Math.max(...table.map((x) => x[i].length)));
    lines.push("");
    for (const x of table) lines.push(x.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  "));
  } else lines.push("test        no test rows to evaluate");
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join("\n");
}
