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
} from "./tables";

export interface EvaluationOutputInput extends EvaluationTablesInput {
  comparison: PairedComparison[] | null;
  betaSelection: BetaSelection | null;
  seconds: number;
  reused: number;
  failed: number;
  warnings: readonly string[];
  modelWarnings: readonly string[];
}

export function evaluationOutput(result: EvaluationOutputInput, extra: Record<string, unknown> = {}) {
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
