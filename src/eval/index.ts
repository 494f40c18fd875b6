export {
  evaluatePredictions,
  ranks,
  aggregateMetrics,
  formatMeanStd,
  METRIC_NAMES,
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
