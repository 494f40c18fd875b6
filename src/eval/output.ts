/**
 * What `rubato eval` prints and writes, from an evaluation it ran or merged
 * (pure): the Markdown tables with what follows them, and the JSON that
 * `--out` writes and `--merge` reads back.
 */
import { formatComparisonMarkdown, type PairedComparison } from "./compare";
import {
  evaluationJson,
  formatBetaSelectionMarkdown,
  formatEvaluationMarkdown,
  type BetaSelection,
  type EvaluationTablesInput,
  type ModelResults,
} from "./tables";

/** An evaluation's results, trained (src/jobs/evaluation.ts) or merged from parts (./merge.ts). */
export interface EvaluationOutcome extends EvaluationTablesInput {
  dataCutoff: Date;
  seeds: number[];
  models: ModelResults[];
  failed: number;
  reused: number;
  seconds: number;
  /** About the evaluation itself (queue, test rows, leaked embeddings). */
  warnings: string[];
  /** Learned models that do not beat Average or Recent on mean test L2 or HR@10 (./compare.ts). */
  modelWarnings: string[];
  /** With `compare`: every other model against it, seed by seed. */
  comparison: PairedComparison[] | null;
  /** With a beta grid: the beta chosen for each seed. */
  betaSelection: BetaSelection | null;
}

export function evaluationOutput(result: EvaluationOutcome, extra: Record<string, unknown> = {}) {
  const markdown = [
    formatEvaluationMarkdown(result),
    ...(result.comparison ? [formatComparisonMarkdown(result.comparison)] : []),
    ...(result.betaSelection ? [formatBetaSelectionMarkdown(result.betaSelection)] : []),
  ].join("\n\n");
  const json = {
    ...evaluationJson(result),
    comparison: result.comparison,
    betaSelection: result.betaSelection,
    seconds: result.seconds,
    reused: result.reused,
    failed: result.failed,
    warnings: [...result.warnings, ...result.modelWarnings],
    ...extra,
  };
  return { markdown, json };
}
