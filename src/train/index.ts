export { trainModel, type TrainOptions, type TrainResult, type TrainStatus, type StepProgress, type EpochProgress } from "./trainer";
export { trainStep, type StepStats } from "./step";
export { Optimizer, type OptimizerKind, type OptimizerState } from "./optimizers";
export { serializeCheckpoint, deserializeCheckpoint, CHECKPOINT_VERSION, type Checkpoint, type LoopState } from "./checkpoint";
export {
  evaluateObjective,
  evaluateSplit,
  evaluateBaselines,
  predict,
  type Evaluation,
  type ObjectiveReport,
  type EvaluateOptions,
} from "./evaluate";
export { BatchBuilder, epochOrder, sampleRows, checkDatasetFits, type Batch } from "./batches";
export { loadTrainingData, type TrainingData, type TrainingDataOptions } from "./data";
export { runTraining, formatRunReport, type RunOptions, type RunReport } from "./run";
