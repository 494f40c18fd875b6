export {
  evaluatePredictions,
  ranks,
  aggregateMetrics,
  formatMeanStd,
  meanStd,
  METRIC_NAMES,
  METRIC_LABELS,
  LOWER_IS_BETTER,
  type Metrics,
  type MetricName,
  type MeanStd,
} from "./metrics";
export { baselinePredictions, popularityVector, BASELINES, type BaselineKind, type BaselineOptions } from "./baselines";
export {
  changesAfter,
  movementAnalysis,
  movementTable,
  summarize,
  withoutValues,
  type EmbeddingSequence,
  type MovementAnalysis,
  type MovementRow,
} from "./movement";
export {
  paperTables,
  tableRow,
  markdownTable,
  formatEvaluationMarkdown,
  evaluationJson,
  PAPER_MODELS,
  ABLATIONS,
  BASELINE_MODELS,
  type ModelResults,
  type SeedResult,
  type TableRow,
} from "./tables";
export { embeddingLeakWarning, type EmbeddingsLearntFrom } from "./leakage";
export {
  pairedComparison,
  pairedMetric,
  formatComparisonMarkdown,
  baselineWarnings,
  MUST_BEAT,
  type PairedComparison,
  type PairedMetric,
} from "./compare";
