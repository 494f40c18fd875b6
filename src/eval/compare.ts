/**
 * Comparisons between the models of an evaluation (pure: plain data in, plain
 * data or text out).
 *
 *   pairedComparison  every other model against one reference model, seed by
 *                     seed: the difference (model - reference) of each metric
 *                     on each seed both ran, its mean ± sample sd, and on how
 *                     many seeds it has the sign of the mean ("lower on 5 of 6
 *                     seeds"). Pairing by seed removes what the seeds share
 *                     (the data, the split), so a small steady gap shows.
 *   baselineWarnings  every learned model whose mean test L2 or HR@10 does
 *                     not beat Average and Recent, the two baselines a model
 *                     that learned anything must beat, with the figures.
 */
import { DIGITS, LOWER_IS_BETTER, METRIC_LABELS, METRIC_NAMES, meanStd, type MetricName, type Metrics } from "./metrics";
import { usable, type ModelResults } from "./tables";

export interface PairedMetric {
  metric: MetricName;
  /** model - reference on each paired seed, in the order of `seeds`. */
  differences: number[];
  mean: number;
  /** Sample standard deviation (n - 1) of the differences; null with fewer than 2 seeds. */
  sd: number | null;
  /** Seeds on which the model is lower, higher, equal. */
  lower: number;
  higher: number;
  equal: number;
  /** The sign of the mean difference and how many seeds share it: "lower on 5 of 6 seeds" (a zero mean: both counts). */
  agreement: string;
  /** Whether the mean difference favours the model (a lower distance, a higher ranking score); null when it is 0. */
  better: boolean | null;
}

export interface PairedComparison {
  model: string;
  reference: string;
  /** Seeds on which both the model and the reference have test metrics, ascending. */
  seeds: number[];
  /** Seeds of either that are left out because a run failed or is missing. */
  leftOut: number[];
  /** One entry per metric (METRIC_NAMES order); empty when no seed pairs. */
  metrics: PairedMetric[];
}

/** Every model of `models` except the reference, compared with it seed by seed. */
export function pairedComparison(reference: ModelResults, models: readonly ModelResults[]): PairedComparison[] {
  const bySeed = (m: ModelResults) => new Map(m.runs.filter(usable).map((r) => [r.seed, r.test] as const));
  const ref = bySeed(reference);
  return models
    .filter((m) => m !== reference && m.model !== reference.model)
    .map((m) => {
      const own = bySeed(m);
      const all = [...new Set([...reference.runs, ...m.runs].map((r) => r.seed))].sort((a, b) => a - b);
      const seeds = all.filter((s) => own.has(s) && ref.has(s));
      return {
        model: m.model,
        reference: reference.model,
        seeds,
        leftOut: all.filter((s) => !seeds.includes(s)),
        metrics: seeds.length
          ? METRIC_NAMES.map((name) =>
              pairedMetric(
                name,
                seeds.map((s) => own.get(s)![name] - ref.get(s)![name]),
              ),
            )
          : [],
      };
    });
}

/** The statistics of one metric's per-seed differences. */
export function pairedMetric(metric: MetricName, differences: number[]): PairedMetric {
  const n = differences.length;
  const { mean, std } = meanStd(differences);
  const sd = n > 1 ? std : null;
  const lower = differences.filter((d) => d < 0).length;
  const higher = differences.filter((d) => d > 0).length;
  const equal = n - lower - higher;
  const seeds = `${n} seed${n === 1 ? "" : "s"}`;
  const agreement =
    mean < 0
      ? `lower on ${lower} of ${seeds}`
      : mean > 0
        ? `higher on ${higher} of ${seeds}`
        : equal === n
          ? `equal on ${n} of ${seeds}`
          : `lower on ${lower}, higher on ${higher} of ${seeds}`;
  const better = mean === 0 ? null : mean < 0 === LOWER_IS_BETTER[metric];
  return { metric, differences, mean, sd, lower, higher, equal, agreement, better };
}

const signed = (v: number, digits: number) => `${v > 0 ? "+" : v < 0 ? "-" : ""}${Math.abs(v).toFixed(digits)}`;

/** The comparison as Markdown: a table per model (rows: metrics, columns: seeds), then what was left out. */
export function formatComparisonMarkdown(comparisons: readonly PairedComparison[]): string {
  if (!comparisons.length) return "";
  const reference = comparisons[0].reference;
  const out = [`Paired comparison against ${reference}: model − ${reference} on each seed both ran (same data cut-off and test rows)`];
  for (const c of comparisons) {
    out.push("");
    if (!c.metrics.length) {
      out.push(`${c.model}: no seed on which both ${c.model} and ${reference} have test metrics`);
      continue;
    }
    const header = ["metric", ...c.seeds.map((s) => `seed ${s}`), "mean ± sd", "seeds"];
    out.push(`**${c.model}** − ${reference}`, "");
    out.push(`| ${header.join(" | ")} |`, `| --- | ${[...c.seeds, 0].map(() => "---:").join(" | ")} | --- |`);
    for (const m of c.metrics) {
      const d = DIGITS[m.metric];
      const mean = `${signed(m.mean, d)} ± ${m.sd === null ? "-" : m.sd.toFixed(d)}`;
      const verdict = m.better === null ? "" : m.better ? " (better)" : " (worse)";
      out.push(`| ${[METRIC_LABELS[m.metric], ...m.differences.map((v) => signed(v, d)), mean, m.agreement + verdict].join(" | ")} |`);
    }
    if (c.leftOut.length)
      out.push(
        "",
        `Left out: seed${c.leftOut.length === 1 ? "" : "s"} ${c.leftOut.join(", ")} (a run of ${c.model} or ${reference} failed or is missing).`,
      );
  }
  return out.join("\n");
}

/** The two baselines every learned model must beat, and the metrics checked. */
export const MUST_BEAT = ["average", "recent"] as const;
const CHECKED: readonly MetricName[] = ["l2", "hr10"];

/**
 * One warning per learned model and baseline (Average, Recent) it does not
 * beat on mean test L2 or HR@10 (a tie does not beat), naming the metrics and
 * both means. The baseline's figures are the ones each run stored on its own
 * test rows; for runs stored before a baseline was measured alongside, the
 * baseline model's own row of the evaluation stands in, and without one the
 * check is skipped with a warning that says so.
 */
export function baselineWarnings(models: readonly ModelResults[]): string[] {
  const warnings: string[] = [];
  for (const m of models) {
    if (m.latent === "none") continue;
    const ok = m.runs.filter(usable);
    if (!ok.length) continue;
    const seeds = `${ok.length} seed${ok.length === 1 ? "" : "s"}`;
    for (const base of MUST_BEAT) {
      const stored = ok.map((r) => r[base]);
      let baseline: Metrics[];
      let where: string;
      if (stored.every((b): b is Metrics => b !== null)) {
        baseline = stored;
        where = `test means over ${seeds}, on the same rows`;
      } else {
        const row =
          models
            .find((x) => x.model === base)
            ?.runs.filter(usable)
            .map((r) => r.test) ?? [];
        if (!row.length) {
          warnings.push(
            `${m.model}: not checked against ${base}: its runs were stored before ${base} was measured alongside them; ` +
              `add ${base} to --models or retrain them with --fresh`,
          );
          continue;
        }
        baseline = row;
        where = `test means over ${seeds}; ${base} from its own runs`;
      }
      const failing = CHECKED.flatMap((name) => {
        const own = meanStd(ok.map((r) => r.test[name])).mean;
        const theirs = meanStd(baseline.map((b) => b[name])).mean;
        const beats = LOWER_IS_BETTER[name] ? own < theirs : own > theirs;
        return beats ? [] : [`${METRIC_LABELS[name]} ${pair(own, theirs, DIGITS[name])}`];
      });
      if (failing.length) warnings.push(`${m.model} does not beat ${base}: ${failing.join(", ")} (${where})`);
    }
  }
  return warnings;
}

/** "0.810 vs 0.430", with more digits when the two would print the same. */
function pair(a: number, b: number, digits: number): string {
  let d = digits;
  while (d < 8 && a !== b && a.toFixed(d) === b.toFixed(d)) d++;
  return `${a.toFixed(d)} vs ${b.toFixed(d)}`;
}
