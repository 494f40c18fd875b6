/**
 * Everything a report shows, gathered from the store as plain JSON: the runs
 * (spec name, seed, status, metrics, beta schedule, active latent units,
 * curves), the metrics table across runs, the movement analysis of the first
 * successful learned run, and the listening data's slow-feature correlations
 * and plays and skips by part of day. The renderer (render.ts) only reads this.
 */
import { aggregateMetrics, type MeanStd, type MetricName, type Metrics } from "../eval/metrics";
import { summarize, withoutValues } from "../eval/movement";
import { getRun, runCurves, type RunView } from "../jobs/runs";
import { runMovement, type RunMovement, type RunMovementOptions } from "../jobs/movement";
import { collapseWarning } from "../model/loss";
import { modelFor } from "../model/registry";
import { parseSpec } from "../spec";
import { storeStats } from "../store/stats";
import type { Store } from "../store/store";
import { listeningProfile, type ListeningProfile } from "./listening";

export interface StepPoint {
  step: number;
  epoch: number;
  loss: number;
  reconstruction: number;
  kl: number;
  beta: number;
  activeUnits: number;
}

export interface EpochPoint {
  epoch: number;
  step: number;
  trainLoss: number;
  validationLoss: number | null;
  beta: number;
  activeUnits: number;
}

export interface TestMetrics {
  rows: number;
  model: Metrics;
  average: Metrics;
  /** Absent in runs stored before the Recent baseline was measured alongside. */
  recent?: Metrics;
  popularity: Metrics;
}

export interface ReportRun {
  id: string;
  modelName: string;
  /** The spec's type: fs-vae (learned) or a non-learned baseline. */
  type: string;
  seed: number;
  status: string;
  error: string | null;
  dataCutoff: string | null;
  finishedAt: string | null;
  /** Whether the latent is Gaussian (a KL term); null for a non-learned baseline. */
  probabilistic: boolean | null;
  /** The beta schedule: beta, linear warm-up steps, free bits per unit (nats). */
  schedule: { beta: number; warmupSteps: number; freeBits: number } | null;
  activeUnits: number | null;
  latentUnits: number | null;
  /** The posterior-collapse warning when too few units are active. */
  collapse: string | null;
  epochs: number | null;
  steps: number | null;
  seconds: number | null;
  test: TestMetrics | null;
  curves: { steps: StepPoint[]; epochs: EpochPoint[] };
}

export interface MetricsRow {
  /** A model name, or "Average" / "Recent" / "Popularity" for the baselines measured alongside. */
  model: string;
  baseline: boolean;
  runs: number;
  metrics: Record<MetricName, MeanStd>;
  /** Over the runs that report latent units. */
  activeUnits: MeanStd | null;
  latentUnits: number | null;
}

export type ReportMovement = RunMovement | { skipped: string };

export interface ReportData {
  generatedAt: string;
  store: { backend: string; users: number; tracks: number; events: number; firstPlay: string | null; lastPlay: string | null };
  runs: ReportRun[];
  metricsTable: MetricsRow[];
  movement: ReportMovement;
  listening: ListeningProfile;
}

export interface ReportOptions {
  /** For the movement analysis (default: 200 users, steps 1 and 7). */
  movement?: RunMovementOptions;
  /** Fixed for reproducible output in tests (default: now). */
  now?: Date;
}

type Json = Record<string, unknown>;
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

export async function gatherReport(store: Store, runIds: readonly string[], options: ReportOptions = {}): Promise<ReportData> {
  if (!runIds.length) throw new Error("report: give at least one run id (rubato runs lists them)");
  const views = [];
  for (const id of runIds) views.push(await getRun(store, id)); // NotFound names a wrong id
  const runs: ReportRun[] = [];
  for (const view of views) runs.push(reportRun(view, await runCurves(store, view.id)));

  const learned = views.find((v) => v.status === "SUCCEEDED" && v.hasArtifact);
  const movement: ReportMovement = learned
    ? withoutRawValues(await runMovement(store, learned.id, options.movement))
    : { skipped: "no SUCCEEDED run of a learned model among the runs given" };

  const cutoffs = views.flatMap((v) => (v.dataCutoff ? [v.dataCutoff.getTime()] : []));
  const asOf = cutoffs.length ? new Date(Math.max(...cutoffs)) : null;
  const stats = await storeStats(store);
  return {
    generatedAt: (options.now ?? new Date()).toISOString(),
    store: {
      backend: stats.backend,
      users: stats.users,
      tracks: stats.tracks,
      events: stats.events,
      firstPlay: stats.firstPlay ? new Date(stats.firstPlay).toISOString() : null,
      lastPlay: stats.lastPlay ? new Date(stats.lastPlay).toISOString() : null,
    },
    runs,
    metricsTable: metricsTable(runs),
    movement,
    listening: await listeningProfile(store, asOf),
  };
}

function withoutRawValues(m: RunMovement): RunMovement {
  return { ...m, analysis: withoutValues(m.analysis) };
}

/** One run as the report shows it, from its stored row and curves. */
export function reportRun(view: RunView, curves: { kind: string; epoch: number; step: number; values: unknown }[]): ReportRun {
  const parsed = parseSpec(view.specYaml, { file: `<run ${view.id} spec>` });
  const spec = parsed.ok ? parsed.spec : null;
  const type = spec?.type ?? "unknown";
  const learned = spec ? modelFor(spec.type).learned : false;
  const probabilistic = spec ? modelFor(spec.type).latent(spec) === "probabilistic" : false;
  const m = (view.metrics ?? {}) as Json;
  // Runs store their schedule; for older ones it is the spec's (no KL term for a deterministic model).
  const schedule =
    (m.schedule as ReportRun["schedule"] | undefined) ??
    (spec && learned
      ? probabilistic
        ? { beta: spec.loss.beta, warmupSteps: spec.latent.kl_warmup_steps, freeBits: spec.latent.free_bits }
        : { beta: 0, warmupSteps: 0, freeBits: 0 }
      : null);
  const test = (m.test as TestMetrics | null | undefined) ?? null;
  const activeUnits = num((test as Json | null)?.activeUnits) ?? num(m.activeUnits);
  const latentUnits = num((test as Json | null)?.latentUnits) ?? num(m.latentUnits);
  return {
    id: view.id,
    modelName: view.modelName,
    type,
    seed: view.seed,
    status: view.status,
    error: view.error,
    dataCutoff: view.dataCutoff ? view.dataCutoff.toISOString() : null,
    finishedAt: view.finishedAt ? view.finishedAt.toISOString() : null,
    probabilistic: learned ? probabilistic : null,
    schedule: learned ? schedule : null,
    activeUnits: learned ? activeUnits : null,
    latentUnits: learned ? latentUnits : null,
    collapse: learned && activeUnits !== null && latentUnits ? collapseWarning(activeUnits, latentUnits) : null,
    epochs: num(m.epochs),
    steps: num(m.steps),
    seconds: num(m.seconds),
    test:
      test && test.model
        ? {
            rows: test.rows,
            model: test.model,
            average: test.average,
            ...(test.recent ? { recent: test.recent } : {}),
            popularity: test.popularity,
          }
        : null,
    curves: curvePoints(curves),
  };
}

function curvePoints(curves: { kind: string; epoch: number; step: number; values: unknown }[]): ReportRun["curves"] {
  const steps: StepPoint[] = [];
  const epochs: EpochPoint[] = [];
  for (const c of curves) {
    const v = (c.values ?? {}) as Json;
    if (c.kind === "step")
      steps.push({
        step: c.step,
        epoch: c.epoch,
        loss: num(v.loss) ?? NaN,
        reconstruction: num(v.reconstruction) ?? NaN,
        kl: num(v.kl) ?? NaN,
        beta: num(v.beta) ?? NaN,
        activeUnits: num(v.activeUnits) ?? NaN,
      });
    else if (c.kind === "epoch")
      epochs.push({
        epoch: c.epoch,
        step: c.step,
        trainLoss: num((v.train as Json | undefined)?.loss) ?? NaN,
        validationLoss: num((v.validation as Json | null | undefined)?.loss),
        beta: num(v.beta) ?? NaN,
        activeUnits: num(v.activeUnits) ?? NaN,
      });
  }
  return { steps, epochs };
}

/** Test metrics per model name (mean ± std when several runs share it), then the baselines measured alongside, over all those runs (that stored them). */
export function metricsTable(runs: readonly ReportRun[]): MetricsRow[] {
  const tested = runs.filter((r) => r.status === "SUCCEEDED" && r.test);
  const byModel = new Map<string, ReportRun[]>();
  for (const r of tested) byModel.set(r.modelName, [...(byModel.get(r.modelName) ?? []), r]);
  const rows: MetricsRow[] = [...byModel].map(([model, group]) => {
    const units = group.filter((r) => r.activeUnits !== null && r.latentUnits);
    return {
      model,
      baseline: false,
      runs: group.length,
      metrics: aggregateMetrics(group.map((r) => r.test!.model)),
      activeUnits: units.length ? meanStd(units.map((r) => r.activeUnits!)) : null,
      latentUnits: units.length ? units[0].latentUnits : null,
    };
  });
  for (const [model, key] of [
    ["Average", "average"],
    ["Recent", "recent"],
    ["Popularity", "popularity"],
  ] as const) {
    // Recent only over the runs that stored it (runs from before it existed did not).
    const measured = tested.flatMap((r) => (r.test![key] ? [r.test![key]] : []));
    if (measured.length)
      rows.push({
        model,
        baseline: true,
        runs: measured.length,
        metrics: aggregateMetrics(measured),
        activeUnits: null,
        latentUnits: null,
      });
  }
  return rows;
}

function meanStd(values: number[]): MeanStd {
  const { mean, std, n } = summarize(values);
  return { mean, std, runs: n };
}
