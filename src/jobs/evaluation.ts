/**
 * The evaluation protocol behind the paper's Tables 1 and 2 (`rubato eval`):
 * one run per (model, seed), all with ONE data cut-off, so every run sees the
 * same plays and the same chronological split; the runs are queued like any
 * other, trained by an in-process worker (or any other worker of the store),
 * and their stored test metrics are collected for src/eval/tables.ts.
 *
 * Reuse: a run of the same resolved spec (hash), seed and cut-off that
 * SUCCEEDED, or is still QUEUED or RUNNING (an evaluation interrupted
 * earlier: it resumes from its checkpoint), stands for that (model, seed)
 * unless `fresh` is set. A FAILED or CANCELLED one is trained again.
 */
import fs from "node:fs";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { listShippedSpecs, type ModelSpec } from "../spec";
import { SHIPPED_MODELS_DIR } from "../spec/load";
import type { Store } from "../store/store";
import { getEmbeddingProvenance } from "../store/catalog";
import { BadUserInput, Conflict } from "../errors";
import type { Metrics } from "../eval/metrics";
import type { UncertaintyReport } from "../eval/uncertainty";
import {
  testRowsWarning,
  type BetaSchedule,
  type BetaSelection,
  type LatentKind,
  type ModelResults,
  type SeedResult,
} from "../eval/tables";
import { baselineWarnings, pairedComparison } from "../eval/compare";
import type { EvaluationOutcome } from "../eval/output";
import { embeddingLeakWarning } from "../eval/leakage";
import { modelFor } from "../model/registry";
import { enqueueRun } from "../store/run-queue";
import { hasEnded, reusableRun, runModelNames, runsAhead, runStates as storedRunStates, type RunStatus } from "../store/runs";
import { trainingData } from "../store/plays";
import { bestEpochReconstruction } from "../store/run-progress";
import { resolveRunSpec, SpecInvalid, storedSpec } from "./runs";
import { RunWorker } from "./worker";

export interface EvaluationOptions {
  /** Shipped spec names (models/NAME.yaml), names of models trained before, or spec files. */
  models: readonly string[];
  /** One run per seed and model. */
  seeds: readonly number[];
  /** Merged into every learned model's resolved spec, e.g. { training: { epochs: 1 } } (baselines have nothing to override). */
  overrides?: unknown;
  /** Runs trained at once by the in-process worker (default 1). */
  concurrency?: number;
  /** Train every run again instead of reusing runs of the same spec, seed and cut-off. */
  fresh?: boolean;
  /** The shared data cut-off (default: the newest play in the store). */
  cutoff?: Date;
  modelsDir?: string;
  /** How often run states are read from the store (default 1 s). */
  pollMs?: number;
  heartbeatMs?: number;
  /** Stops waiting: the worker lets go of its runs, which stay queued or resumable. */
  signal?: AbortSignal;
  onProgress?: (progress: EvaluationProgress) => void;
  /**
   * A paired comparison of every other model against this one (a name of
   * `models`, added to them when missing), seed by seed: the result's
   * `comparison`.
   */
  compare?: string;
  /** Each warning as it arises (they are also in the result). */
  onWarning?: (warning: string) => void;
  /** The worker's log lines. */
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /**
   * Mult-VAE's selection of beta (Liang et al. 2018 pick it on validation data): for this
   * model (one of `models`, learned and probabilistic, e.g. vae-cf), one run per value of
   * loss.beta and seed instead of its spec's own; per seed, the run with the lowest
   * validation reconstruction at its best epoch (comparable across betas, unlike the loss
   * that weights the KL by beta) stands for the model in the tables. The result's `betaSelection`.
   */
  betaGrid?: { model: string; betas: readonly number[] };
}

export interface PlannedRun {
  /** 1-based position in the evaluation. */
  index: number;
  model: string;
  seed: number;
  latent: LatentKind;
  specHash: string;
  runId: string;
  reused: boolean;
}

export interface ActiveRun {
  index: number;
  model: string;
  seed: number;
  runId: string;
  epoch: number | null;
  epochs: number | null;
  step: number | null;
  totalSteps: number | null;
  etaSeconds: number | null;
}

export interface EvaluationProgress {
  total: number;
  /** Runs that ended (reused successful runs included). */
  done: number;
  failed: number;
  /** Runs training right now, with their epoch, step and ETA. */
  active: ActiveRun[];
  /** The run that just ended, when this report is about one. */
  ended: { index: number; model: string; seed: number; runId: string; status: string; error: string | null } | null;
  /** Time to the end of the evaluation, from the fraction of training steps done so far (null before any). */
  etaSeconds: number | null;
}

export interface EvaluationResult extends EvaluationOutcome {
  runs: PlannedRun[];
}

/** "3" means seeds 1, 2, 3; "7,11,13" means those seeds. */
export function parseSeeds(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim());
  const numbers = parts.map(Number);
  if (parts.some((p) => p === "") || numbers.some((n) => !Number.isInteger(n) || n < 0))
    throw new BadUserInput(`--seeds expects a count N (seeds 1..N) or a list of non-negative integers like 1,2,3; got "${text}"`);
  if (numbers.length === 1) {
    if (numbers[0] < 1) throw new BadUserInput(`--seeds expects a count of at least 1 (or a list like 0,1); got "${text}"`);
    return Array.from({ length: numbers[0] }, (_, i) => i + 1);
  }
  if (new Set(numbers).size !== numbers.length) throw new BadUserInput(`--seeds lists a seed twice: "${text}"`);
  return numbers;
}

interface ResolvedModel {
  model: string;
  latent: LatentKind;
  /** The resolved spec for each seed (overrides applied). */
  perSeed: { seed: number; name: string; yaml: string; hash: string }[];
}

const latentOf = (spec: ModelSpec): LatentKind => modelFor(spec.type).latent(spec);

/**
 * Resolves every model for every seed before anything is queued: an unknown
 * name (BadUserInput, listing the known ones) or an invalid spec (SpecInvalid)
 * stops the evaluation before anything is trained.
 */
export async function resolveEvaluationModels(
  store: Store,
  models: readonly string[],
  seeds: readonly number[],
  options: { overrides?: unknown; modelsDir?: string } = {},
): Promise<ResolvedModel[]> {
  const modelsDir = options.modelsDir ?? SHIPPED_MODELS_DIR;
  if (!models.length) throw new BadUserInput("no models to evaluate: name at least one, e.g. --models fs-vae-quick,average");
  if (!seeds.length) throw new BadUserInput("no seeds: give a count (--seeds 3) or a list (--seeds 1,2,3)");
  const names = [...new Set(models)];
  const sources = await Promise.all(names.map((name) => modelSource(store, name, modelsDir)));
  const unknown = names.filter((_, i) => sources[i] === null);
  if (unknown.length) {
    const stored = await runModelNames(store);
    const known = [...new Set([...listShippedSpecs(modelsDir).map((s) => s.name), ...stored])].sort();
    throw new BadUserInput(
      `unknown model${unknown.length > 1 ? "s" : ""} ${unknown.map((n) => JSON.stringify(n)).join(", ")}; ` +
        `expected a shipped spec, a model trained before, or a spec file; known models: ${known.join(", ")}`,
      { unknown, known },
    );
  }
  const bases = names.map((_, i) => {
    const base = resolveRunSpec(sources[i]!, modelsDir);
    if (!base.ok) throw new SpecInvalid(base.errors);
    return base.spec;
  });
  // A spec file is shown by its spec's name, unless another model would be shown by the same name: then by its path.
  const labels = names.map((name, i) => (isSpecFile(name) ? bases[i].name : name));
  return names.map((name, i) => {
    const model = labels.filter((label) => label === labels[i]).length === 1 ? labels[i] : name;
    const source = sources[i]!;
    const learned = modelFor(bases[i].type).learned;
    const perSeed = seeds.map((seed) => {
      const result = resolveRunSpec({ ...source, overrides: learned ? options.overrides : undefined, seed }, modelsDir);
      if (!result.ok) throw new SpecInvalid(result.errors);
      return { seed, name: result.spec.name, yaml: result.yaml, hash: result.hash };
    });
    return { model, latent: latentOf(bases[i]), perSeed };
  });
}

const isSpecFile = (name: string) => name.includes("/") || name.endsWith(".yaml");

/** Where a model name's spec comes from: a shipped file, a spec file, or the newest stored run of that name; null if none. */
async function modelSource(store: Store, name: string, modelsDir: string): Promise<{ model?: string; spec?: string } | null> {
  if (isSpecFile(name)) return fs.existsSync(name) ? { model: name } : null;
  if (fs.existsSync(path.join(modelsDir, `${name}.yaml`))) return { model: name };
  const stored = await storedSpec(store, name);
  return stored === null ? null : { spec: stored };
}

/** The newest play: the cut-off every run of the evaluation shares. */
async function dataCutoff(store: Store): Promise<Date> {
  const data = await trainingData(store);
  if (data.cutoff === null || data.tracks === 0)
    throw new Conflict(
      "no data to evaluate on: load tracks with embeddings and listening events first (rubato demo-data, or rubato import)",
    );
  return data.cutoff;
}

/** Queues one run per (model, seed), or reuses a matching one; returns them in order. */
async function planRuns(store: Store, resolved: ResolvedModel[], cutoff: Date, fresh: boolean): Promise<PlannedRun[]> {
  const planned: PlannedRun[] = [];
  for (const m of resolved) {
    for (const s of m.perSeed) {
      const existing = fresh ? null : await reusableRun(store, s.hash, s.seed, cutoff);
      const runId =
        existing ??
        (await enqueueRun(store.sql, { modelName: s.name, specYaml: s.yaml, specHash: s.hash, seed: s.seed, dataCutoff: cutoff }));
      planned.push({
        index: planned.length + 1,
        model: m.model,
        seed: s.seed,
        latent: m.latent,
        specHash: s.hash,
        runId,
        reused: existing !== null,
      });
    }
  }
  return planned;
}

interface RunState {
  id: string;
  status: RunStatus;
  error: string | null;
  progress: { epoch?: number; epochs?: number; step?: number; totalSteps?: number; etaSeconds?: number | null } | null;
  metrics: StoredMetrics | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** The metrics JSON a successful run stores (src/jobs/execute.ts). */
interface StoredMetrics {
  epochs?: number;
  seconds?: number;
  activeUnits?: number;
  latentUnits?: number;
  schedule?: BetaSchedule;
  /** recent: absent in runs stored before it was measured alongside. */
  test?: {
    rows: number;
    model: Metrics;
    average: Metrics;
    recent?: Metrics;
    popularity: Metrics;
    /** Absent in runs stored before it was measured, null for a model without sigma. */
    uncertainty?: UncertaintyReport | null;
  } | null;
}

async function runStates(store: Store, ids: readonly string[]): Promise<Map<string, RunState>> {
  const rows = (await storedRunStates(store, ids)) as RunState[];
  return new Map(rows.map((r) => [r.id, r]));
}

/** Waits ms, or less when the signal aborts. */
const sleep = (ms: number, signal?: AbortSignal): Promise<void> => delay(ms, undefined, { signal }).catch(() => undefined);

/**
 * Runs the evaluation: resolves the models, fixes the cut-off, queues (or
 * reuses) one run per (model, seed), trains them with an in-process worker
 * and collects every run's stored test metrics. Failed runs are part of the
 * result (`failed`), not an exception.
 */
export async function evaluateModels(store: Store, options: EvaluationOptions): Promise<EvaluationResult> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const seeds = [...options.seeds];
  const names = [
    ...new Set(options.compare && !options.models.includes(options.compare) ? [...options.models, options.compare] : options.models),
  ];
  const resolved = await resolveEvaluationModels(store, names, seeds, options);
  const grid = options.betaGrid ? await resolveBetaGrid(store, options.betaGrid, resolved, seeds, options) : null;
  const cutoff = options.cutoff ?? (await dataCutoff(store));
  const planned = grid ? [...resolved.filter((m) => m.model !== grid.model), ...grid.candidates.map((c) => c.resolved)] : resolved;
  const plan = await planRuns(store, planned, cutoff, options.fresh ?? false);
  const warnings: string[] = [];

  const ids = plan.map((p) => p.runId);
  let states = await runStates(store, ids);
  const pending = new Set(ids.filter((id) => !hasEnded(states.get(id)!.status)));
  const learned = plan.filter((p) => p.latent !== "none" && pending.has(p.runId));
  let worker: RunWorker | null = null;
  if (pending.size) {
    // With the embedded store, RUNNING runs were left by a dead process: the worker re-queues and trains them too.
    const ahead = await runsAhead(store, [...pending], store.backend === "pglite");
    if (ahead) warnings.push(`${ahead} other run(s) are ahead in the queue: the worker trains them before these`);
    worker = new RunWorker(store, {
      concurrency: options.concurrency ?? 1,
      exclusive: store.backend === "pglite",
      pollMs: Math.min(1000, options.pollMs ?? 1000),
      heartbeatMs: options.heartbeatMs,
      log: (message, fields) => log(message, fields),
    });
    await worker.start();
  }
  for (const w of warnings) options.onWarning?.(w);

  // A running run's share of its steps done (0 before its first step report).
  const totals = new Map<string, number>();
  const stepShare = (s: RunState) => {
    const total = s.progress?.totalSteps ?? totals.get(s.id);
    return s.progress?.step && total ? Math.min(1, s.progress.step / total) : 0;
  };
  const report = (ended: EvaluationProgress["ended"]) => {
    if (!options.onProgress) return;
    const active: ActiveRun[] = [];
    let fraction = 0;
    for (const p of plan) {
      const s = states.get(p.runId)!;
      if (s.status === "RUNNING") {
        const g = s.progress ?? {};
        if (g.totalSteps) totals.set(p.runId, g.totalSteps);
        active.push({
          index: p.index,
          model: p.model,
          seed: p.seed,
          runId: p.runId,
          epoch: g.epoch ?? null,
          epochs: g.epochs ?? null,
          step: g.step ?? null,
          // (epoch reports carry no step total: keep the last one seen)
          totalSteps: g.totalSteps ?? totals.get(p.runId) ?? null,
          etaSeconds: g.etaSeconds ?? null,
        });
      }
      if (learned.includes(p)) fraction += hasEnded(s.status) ? 1 : stepShare(s);
    }
    fraction = learned.length ? fraction / learned.length : 0;
    const elapsed = (Date.now() - started) / 1000;
    const done = plan.filter((p) => hasEnded(states.get(p.runId)!.status));
    options.onProgress({
      total: plan.length,
      done: done.length,
      failed: done.filter((p) => states.get(p.runId)!.status !== "SUCCEEDED").length,
      active,
      ended,
      etaSeconds: fraction > 0 && fraction < 1 ? Math.round((elapsed * (1 - fraction)) / fraction) : pending.size ? null : 0,
    });
  };

  try {
    report(null);
    while (pending.size && !options.signal?.aborted) {
      await sleep(options.pollMs ?? 1000, options.signal);
      states = await runStates(store, ids);
      for (const p of plan) {
        const s = states.get(p.runId)!;
        if (pending.has(p.runId) && hasEnded(s.status)) {
          pending.delete(p.runId);
          report({ index: p.index, model: p.model, seed: p.seed, runId: p.runId, status: s.status, error: s.error });
        }
      }
      report(null);
    }
  } finally {
    await worker?.stop();
  }
  if (options.signal?.aborted)
    throw new Conflict(
      `evaluation interrupted with ${pending.size} of ${plan.length} runs unfinished; ` +
        `run the same command again to continue them (their runs stay queued or resume from their checkpoints)`,
      { runs: [...pending] },
    );

  const betaSelection = grid ? await selectBetas(store, grid, plan, states) : null;
  const models: ModelResults[] = resolved.map((m) => {
    const chosen = betaSelection && m.model === betaSelection.model ? betaSelection : null;
    const runs = chosen
      ? chosen.seeds.map((s) => {
          // The chosen candidate's run, or (none succeeded) the first one, failed, so the tables show the failure.
          const c = s.candidates.find((x) => x.beta === s.chosen) ?? s.candidates[0];
          return seedResult({ ...plan.find((p) => p.runId === c.runId)!, model: m.model }, states.get(c.runId)!);
        })
      : plan.filter((p) => p.model === m.model).map((p) => seedResult(p, states.get(p.runId)!));
    return { model: m.model, latent: m.latent, runs };
  });
  const rows = testRowsWarning(models);
  if (rows) {
    warnings.push(rows);
    options.onWarning?.(rows);
  }
  const testStart = testPeriodStart(models);
  const leak = testStart ? embeddingLeakWarning(await getEmbeddingProvenance(store), testStart) : null;
  if (leak) {
    warnings.push(leak);
    options.onWarning?.(leak);
  }
  // resolveEvaluationModels keeps the order of the (deduplicated) names.
  const reference = options.compare ? models[names.indexOf(options.compare)] : null;
  return {
    dataCutoff: cutoff,
    seeds,
    models,
    runs: plan,
    failed: models.reduce((n, m) => n + m.runs.filter((r) => r.status !== "SUCCEEDED" || !r.test).length, 0),
    reused: plan.filter((p) => p.reused).length,
    seconds: (Date.now() - started) / 1000,
    warnings,
    modelWarnings: baselineWarnings(models),
    comparison: reference ? pairedComparison(reference, models) : null,
    betaSelection,
  };
}

/** "vae-cf=0.2,0.1,0.01": the model and its betas (the --beta-grid flag). */
export function parseBetaGrid(text: string): { model: string; betas: number[] } {
  const at = text.lastIndexOf("=");
  const model = at > 0 ? text.slice(0, at).trim() : "";
  const parts =
    at > 0
      ? text
          .slice(at + 1)
          .split(",")
          .map((p) => p.trim())
      : [];
  const betas = parts.map(Number);
  if (
    !model ||
    !parts.length ||
    parts.some((p) => p === "") ||
    betas.some((b) => !Number.isFinite(b) || b < 0) ||
    new Set(betas).size !== betas.length
  )
    throw new BadUserInput(
      `--beta-grid expects MODEL=B1,B2,... with distinct non-negative numbers, e.g. vae-cf=0.2,0.1,0.05,0.01; got "${text}"`,
    );
  return { model, betas };
}

interface ResolvedGrid {
  model: string;
  betas: number[];
  /** One model per beta, labelled "MODEL beta=B" in the plan. */
  candidates: { beta: number; resolved: ResolvedModel }[];
}

/** The grid's model resolved once per beta (loss.beta merged into the overrides); throws on a grid that cannot apply. */
async function resolveBetaGrid(
  store: Store,
  grid: NonNullable<EvaluationOptions["betaGrid"]>,
  resolved: ResolvedModel[],
  seeds: readonly number[],
  options: EvaluationOptions,
): Promise<ResolvedGrid> {
  const target = resolved.find((m) => m.model === grid.model);
  if (!target) throw new BadUserInput(`--beta-grid names ${JSON.stringify(grid.model)}, which is not among the models evaluated`);
  if (target.latent !== "probabilistic")
    throw new BadUserInput(`--beta-grid: ${grid.model} has no KL term for beta to weight (its latent is ${target.latent})`);
  const betas = [...grid.betas];
  if (!betas.length || betas.some((b) => !Number.isFinite(b) || b < 0) || new Set(betas).size !== betas.length)
    throw new BadUserInput(`--beta-grid expects distinct non-negative numbers, got ${betas.join(", ") || "none"}`);
  const base = (options.overrides ?? {}) as Record<string, unknown>;
  const candidates = await Promise.all(
    betas.map(async (beta) => {
      const overrides = { ...base, loss: { ...((base.loss as object | undefined) ?? {}), beta } };
      const [m] = await resolveEvaluationModels(store, [grid.model], seeds, { ...options, overrides });
      return { beta, resolved: { ...m, model: `${grid.model} beta=${beta}` } };
    }),
  );
  return { model: grid.model, betas, candidates };
}

/** Per seed, the candidate with the lowest validation reconstruction at its best epoch (ties: the first beta listed). */
async function selectBetas(store: Store, grid: ResolvedGrid, plan: PlannedRun[], states: Map<string, RunState>): Promise<BetaSelection> {
  const runOf = (beta: number, seed: number) => plan.find((p) => p.model === `${grid.model} beta=${beta}` && p.seed === seed)!;
  const ids = grid.betas.flatMap((b) => grid.candidates[0].resolved.perSeed.map((s) => runOf(b, s.seed).runId));
  const reconstruction = await bestEpochReconstruction(store, ids);
  return {
    model: grid.model,
    betas: grid.betas,
    seeds: grid.candidates[0].resolved.perSeed.map(({ seed }) => {
      const candidates = grid.betas.map((beta) => {
        const runId = runOf(beta, seed).runId;
        const status = states.get(runId)!.status;
        return { beta, runId, status, validationReconstruction: status === "SUCCEEDED" ? (reconstruction.get(runId) ?? null) : null };
      });
      let chosen: number | null = null;
      let best = Infinity;
      for (const c of candidates)
        if (c.validationReconstruction !== null && c.validationReconstruction < best) {
          best = c.validationReconstruction;
          chosen = c.beta;
        }
      return { seed, chosen, candidates };
    }),
  };
}

/** The earliest test point of any run (the test split is per user, so its start differs by user); null when no run stored one. */
function testPeriodStart(models: ModelResults[]): Date | null {
  const from = Math.min(...models.flatMap((m) => m.runs.flatMap((r) => (r.test?.from === undefined ? [] : [r.test.from]))));
  return Number.isFinite(from) ? new Date(from) : null;
}

function seedResult(p: PlannedRun, s: RunState): SeedResult {
  const m = s.metrics;
  const test = m?.test ?? null;
  return {
    seed: p.seed,
    runId: p.runId,
    status: s.status,
    error: s.error ?? (s.status === "SUCCEEDED" && !test ? "no test rows to evaluate (training.split.test is 0 or too small)" : null),
    reused: p.reused,
    test: test?.model ?? null,
    average: test?.average ?? null,
    recent: test?.recent ?? null,
    popularity: test?.popularity ?? null,
    testRows: test?.rows ?? null,
    uncertainty: test?.uncertainty ?? null,
    activeUnits: m?.latentUnits ? (m.activeUnits ?? null) : null,
    latentUnits: m?.latentUnits || null,
    schedule: m?.schedule ?? null,
    epochs: m?.epochs ?? null,
    seconds: m?.seconds ?? null,
    wallSeconds: s.startedAt && s.finishedAt ? (s.finishedAt.getTime() - s.startedAt.getTime()) / 1000 : null,
  };
}
