/**
 * The paper's tables from per-run test metrics (pure: plain data in, text out).
 *
 *   Table 1  FS-VAE vs baselines: fs-vae(-quick), jodie, latent-cross, vanilla-rnn,
 *            aggregate-sequence, average, recent, popularity, and every model the
 *            paper lists in neither table (recent, the mean of the fast window, is
 *            not the paper's).
 *   Table 2  FS-VAE vs its ablations: the FS-VAE rows again, then no-fast, no-slow,
 *            shuffle, non-probabilistic.
 *
 * Each row is one model: mean ± std over its successful runs (one per seed) of
 * L2 and cosine distance between predicted and true next-track embedding,
 * HR@10, NDCG@10 and MRR; the mean norm of the predictions against the mean
 * norm of the true next tracks' embeddings, so a prediction shrinking towards
 * zero shows; the active latent units and the beta schedule, so a collapsed
 * probabilistic model shows; and how many runs it took. The best
 * mean of each metric column is bold (lowest distance, highest ranking score).
 */
import { collapseWarning } from "../model/loss";
import {
  aggregateMetrics,
  formatMeanStd,
  meanStd,
  DIGITS,
  LOWER_IS_BETTER,
  METRIC_LABELS,
  METRIC_NAMES,
  type MeanStd,
  type MetricName,
  type Metrics,
} from "./metrics";
import type { UncertaintyReport } from "./uncertainty";

/** Models of the paper's Table 2 (ablations of FS-VAE). */
export const ABLATIONS = ["no-fast", "no-slow", "shuffle", "non-probabilistic"] as const;
/** Models of Table 1 that are not FS-VAE itself: the paper's baselines (vae-cf: Mult-VAE as the paper adapted it), and recent (the fast window's mean, not in the paper). */
export const BASELINE_MODELS = [
  "jodie",
  "latent-cross",
  "vae-cf",
  "vanilla-rnn",
  "aggregate-sequence",
  "average",
  "recent",
  "popularity",
] as const;

/** Every model of the paper's two tables, FS-VAE as the shipped quick configuration: what `rubato eval` runs by default. */
export const PAPER_MODELS = ["fs-vae-quick", ...BASELINE_MODELS, ...ABLATIONS] as const;

/** FS-VAE itself (the paper's configuration or a tuned one): the reference row of both tables. */
export const isFsVae = (model: string) => model === "fs-vae" || model.startsWith("fs-vae-");
export const isAblation = (model: string) => (ABLATIONS as readonly string[]).includes(model);

/** What a model's latent is: what the active-units and beta columns can say about it. */
export type LatentKind = "probabilistic" | "deterministic" | "none";

export interface BetaSchedule {
  beta: number;
  warmupSteps: number;
  freeBits: number;
}

/** One run (one seed) of a model, as stored. */
export interface SeedResult {
  seed: number;
  runId: string;
  status: string;
  /** Why it did not succeed. */
  error: string | null;
  /** Reused from an earlier evaluation instead of trained again. */
  reused: boolean;
  /** Test metrics of the model; null when the run produced none. */
  test: Metrics | null;
  /** Average, Recent and Popularity on the same test rows (every run stores them; Recent is null in runs stored before it existed). */
  average: Metrics | null;
  recent: Metrics | null;
  popularity: Metrics | null;
  /** Test rows the metrics are over. */
  testRows: number | null;
  /** What the posterior's width says (probabilistic models; null otherwise or in runs stored before it was measured). */
  uncertainty: UncertaintyReport | null;
  activeUnits: number | null;
  latentUnits: number | null;
  schedule: BetaSchedule | null;
  epochs: number | null;
  /** Training (and testing) time in the run's thread. */
  seconds: number | null;
  /** The run's whole time, from claimed to finished: data, training, test, user embeddings. */
  wallSeconds: number | null;
}

export interface ModelResults {
  model: string;
  latent: LatentKind;
  runs: SeedResult[];
}

export interface TableRow {
  model: string;
  /** Mean ± std over the successful runs; null when none succeeded. */
  metrics: Record<MetricName, MeanStd> | null;
  /** Mean ± std over the runs of the mean prediction norm and mean target norm; null when no run stored them. */
  norms: { prediction: MeanStd; target: MeanStd } | null;
  activeUnits: string;
  /** Fewer than a tenth of the latent units active in some run. */
  collapsed: boolean;
  schedule: string;
  succeeded: number;
  failed: number;
}

/** A run counts when it succeeded with test metrics. */
export const usable = (r: SeedResult): r is SeedResult & { test: Metrics } => r.status === "SUCCEEDED" && r.test !== null;

export function tableRow(m: ModelResults): TableRow {
  const ok = m.runs.filter(usable);
  const units = ok.filter((r) => r.latentUnits).map((r) => [r.activeUnits ?? 0, r.latentUnits!] as const);
  let activeUnits = "-";
  if (m.latent === "probabilistic" && units.length) {
    const active = units.map(([a]) => a);
    const [lo, hi] = [Math.min(...active), Math.max(...active)];
    activeUnits = `${lo === hi ? lo : `${lo}-${hi}`} / ${Math.max(...units.map(([, t]) => t))}`;
  }
  const normed = ok.filter((r) => r.test.predictionNorm !== undefined && r.test.targetNorm !== undefined);
  return {
    model: m.model,
    metrics: ok.length ? aggregateMetrics(ok.map((r) => r.test)) : null,
    norms: normed.length
      ? { prediction: meanStd(normed.map((r) => r.test.predictionNorm!)), target: meanStd(normed.map((r) => r.test.targetNorm!)) }
      : null,
    activeUnits,
    collapsed: units.some(([a, t]) => collapseWarning(a, t) !== null),
    schedule: formatSchedule(m.latent, ok.length ? ok.map((r) => r.schedule) : [m.runs.find((r) => r.schedule)?.schedule ?? null]),
    succeeded: ok.length,
    failed: m.runs.length - ok.length,
  };
}

/**
 * The runs' beta schedule: "β 0.01, warm-up 500 steps, free bits 0.05" | "β 0.5, constant" |
 * "deterministic (no KL)" | "-"; betas that differ by run (picked per seed by --beta-grid) are all named.
 */
export function formatSchedule(latent: LatentKind, schedules: readonly (BetaSchedule | null)[]): string {
  if (latent === "none") return "-";
  if (latent === "deterministic") return "deterministic (no KL)";
  const known = schedules.filter((x): x is BetaSchedule => x !== null);
  const s = known[0];
  if (!s) return "?";
  const betas = [...new Set(known.map((x) => x.beta))];
  const beta = betas.length === 1 ? `β ${s.beta}` : `β ${known.map((x) => x.beta).join(" / ")} by seed`;
  const parts = [beta, s.warmupSteps > 0 ? `warm-up ${s.warmupSteps.toLocaleString("en-US")} steps` : "constant"];
  if (s.freeBits > 0) parts.push(`free bits ${s.freeBits}`);
  return parts.join(", ");
}

/** Splits models into the paper's two tables (in the order given); an empty table has no rows. */
export function paperTables(models: readonly ModelResults[]): { table1: ModelResults[]; table2: ModelResults[] } {
  const ablations = models.filter((m) => isAblation(m.model));
  return {
    table1: models.filter((m) => !isAblation(m.model)),
    table2: ablations.length ? [...models.filter((m) => isFsVae(m.model)), ...ablations] : [],
  };
}

/** The best mean of each metric over the rows that have metrics (ties: all of them). */
export function bestPerColumn(rows: readonly TableRow[]): Record<MetricName, number | null> {
  const best = {} as Record<MetricName, number | null>;
  for (const name of METRIC_NAMES) {
    const means = rows.flatMap((r) => (r.metrics && Number.isFinite(r.metrics[name].mean) ? [r.metrics[name].mean] : []));
    best[name] = means.length ? (LOWER_IS_BETTER[name] ? Math.min(...means) : Math.max(...means)) : null;
  }
  return best;
}

/** "0.412 / 4.233": the mean prediction norm against the mean target norm, over the runs. */
export function formatNorms(norms: TableRow["norms"]): string {
  return norms ? `${norms.prediction.mean.toFixed(3)} / ${norms.target.mean.toFixed(3)}` : "-";
}

/** One table as Markdown; the best mean per metric column in bold. */
export function markdownTable(rows: readonly TableRow[]): string {
  const best = bestPerColumn(rows);
  // Compared as printed, so two means that print the same are both bold.
  const printed = (name: MetricName, v: number) => v.toFixed(DIGITS[name]);
  const header = [
    "model",
    ...METRIC_NAMES.map((n) => `${METRIC_LABELS[n]} (mean ± std)`),
    "norm: prediction / target",
    "active units",
    "beta schedule",
    "runs",
  ];
  const lines = [`| ${header.join(" | ")} |`, `| --- | ${METRIC_NAMES.map(() => "---:").join(" | ")} | ---: | ---: | --- | ---: |`];
  for (const r of rows) {
    const cells = METRIC_NAMES.map((name) => {
      if (!r.metrics) return "-";
      const m = r.metrics[name];
      const text = formatMeanStd(m, DIGITS[name]);
      return best[name] !== null && printed(name, m.mean) === printed(name, best[name]!) ? `**${text}**` : text;
    });
    const runs = r.failed ? `${r.succeeded} of ${r.succeeded + r.failed} (**${r.failed} failed**)` : `${r.succeeded}`;
    const units = r.collapsed ? `${r.activeUnits} (collapsed)` : r.activeUnits;
    lines.push(`| ${[r.model, ...cells, formatNorms(r.norms), units, r.schedule, runs].join(" | ")} |`);
  }
  return lines.join("\n");
}

export interface EvaluationTablesInput {
  models: readonly ModelResults[];
  seeds: readonly number[];
  dataCutoff: Date;
}

/** Both tables with titles, and every failed run with its error, as Markdown. */
export function formatEvaluationMarkdown(input: EvaluationTablesInput): string {
  const { table1, table2 } = paperTables(input.models);
  const over = `mean ± std over ${input.seeds.length} seed${input.seeds.length === 1 ? "" : "s"} (${input.seeds.join(", ")}); test split, data up to ${input.dataCutoff.toISOString()}`;
  const out: string[] = [];
  if (table1.length) out.push(`Table 1. FS-VAE vs baselines, ${over}`, "", markdownTable(table1.map(tableRow)));
  if (table2.length)
    out.push(...(out.length ? [""] : []), `Table 2. FS-VAE vs ablations, ${over}`, "", markdownTable(table2.map(tableRow)));
  const uncertainty = uncertaintyTable(input.models);
  if (uncertainty)
    out.push(
      "",
      `What sigma says, ${over}: Spearman's rho of a test point's mean posterior sigma with its L2 error and with its history length (plays so far); the mean L2 of the fifth of points with the lowest and with the highest sigma`,
      "",
      uncertainty,
    );
  const failures = input.models.flatMap((m) => m.runs.filter((r) => !usable(r)).map((r) => ({ model: m.model, ...r })));
  if (failures.length) {
    out.push("", `Failed runs (${failures.length}):`, "");
    for (const f of failures)
      out.push(
        `- ${f.model} seed ${f.seed}, run ${f.runId}: ${f.status}${f.error ? `: ${f.error}` : f.test ? "" : " without test metrics"}`,
      );
  }
  return out.join("\n");
}

/** Everything as JSON-ready data: per model its table row and every run with its per-seed figures. */
export function evaluationJson(input: EvaluationTablesInput) {
  const { table1, table2 } = paperTables(input.models);
  return {
    dataCutoff: input.dataCutoff.toISOString(),
    seeds: [...input.seeds],
    tables: { table1: table1.map((m) => m.model), table2: table2.map((m) => m.model) },
    models: input.models.map((m) => ({ ...tableRow(m), latent: m.latent, runs: m.runs })),
  };
}

/** A warning when the runs were tested on different numbers of rows (they should share one test split); null when they agree. */
export function testRowsWarning(models: readonly ModelResults[]): string | null {
  const rows = new Set(models.flatMap((m) => m.runs.flatMap((r) => (r.testRows === null ? [] : [r.testRows]))));
  return rows.size > 1
    ? `the runs were tested on different numbers of rows (${[...rows].join(", ")}): check the models' training.split`
    : null;
}

/** Per model whose runs measured it: the uncertainty report's figures, mean ± std over the runs; null when no model has any. */
export function uncertaintyTable(models: readonly ModelResults[]): string | null {
  const lines: string[] = [];
  for (const m of models) {
    const reports = m.runs.filter(usable).flatMap((r) => (r.uncertainty ? [r.uncertainty] : []));
    if (!reports.length) continue;
    const cell = (f: (u: UncertaintyReport) => number) => formatMeanStd(meanStd(reports.map(f)), 3);
    const lowest = (u: UncertaintyReport) => u.bySigma[0].l2;
    const highest = (u: UncertaintyReport) => u.bySigma[u.bySigma.length - 1].l2;
    lines.push(
      `| ${m.model} | ${cell((u) => u.sigmaVsError)} | ${cell((u) => u.sigmaVsHistory)} | ${cell((u) => u.errorVsHistory)} | ${cell(lowest)} | ${cell(highest)} | ${reports.length} |`,
    );
  }
  if (!lines.length) return null;
  return [
    "| model | rho(sigma, L2) | rho(sigma, history) | rho(L2, history) | L2, lowest-sigma fifth | L2, highest-sigma fifth | runs |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...lines,
  ].join("\n");
}

/** What a beta grid chose, per seed: every candidate's validation reconstruction at its best epoch. */
export interface BetaSelection {
  model: string;
  betas: number[];
  seeds: {
    seed: number;
    /** The beta with the lowest validation reconstruction; null when no candidate succeeded. */
    chosen: number | null;
    candidates: { beta: number; runId: string; status: string; validationReconstruction: number | null }[];
  }[];
}

/** The beta chosen per seed, with every candidate's figure, as Markdown (after the tables). */
export function formatBetaSelectionMarkdown(s: BetaSelection): string {
  const fmt = (v: number | null) => (v === null ? "n/a" : v.toFixed(4));
  const lines = [
    `Beta of ${s.model}, chosen per seed among ${s.betas.join(", ")} by the validation reconstruction at each run's best epoch (lower is better):`,
    "",
  ];
  for (const seed of s.seeds)
    lines.push(
      `- seed ${seed.seed}: ${seed.chosen === null ? "none succeeded" : `beta ${seed.chosen}`} (` +
        seed.candidates.map((c) => `${c.beta}: ${c.status === "SUCCEEDED" ? fmt(c.validationReconstruction) : c.status}`).join(", ") +
        ")",
    );
  return lines.join("\n");
}
