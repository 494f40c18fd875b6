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
