/** Messages between a job's main side (database, heartbeats) and its training thread (tfjs). */
import type { Dataset } from "../../features/dataset";
import type { Catalogue } from "../../features/history";
import type { ArtifactData } from "../../model/registry";
import type { ModelSpec } from "../../spec/schema";
import type { EpochProgress, StepProgress } from "../../train/trainer";
import type { TrainSummary } from "../../train/run";

export type { TrainSummary };

export interface TrainRequest {
  /** The run's spec, resolved once by the run (executeRun). */
  spec: ModelSpec;
  dataset: Dataset;
  catalogue: Catalogue;
  resume: Buffer | null;
  /** Test rows to evaluate (all when absent). */
  testRows?: number;
  checkpointEverySteps?: number;
}

export type ToThread =
  | { type: "train"; request: TrainRequest }
  | { type: "cancel" }
  | { type: "embed"; id: number; n: number; fast: Float32Array; mask: Float32Array; slow: Float32Array; bag: Float32Array }
  | { type: "exit" };

export type FromThread =
  | { type: "step"; progress: StepProgress }
  | { type: "epoch"; progress: EpochProgress }
  | { type: "checkpoint"; checkpoint: Uint8Array; epoch: number; step: number }
  | { type: "trained"; summary: TrainSummary; artifact: ArtifactData | null; checkpoint: Uint8Array }
  | { type: "embedded"; id: number; mu: Float32Array; sigma: Float32Array | null }
  | { type: "log"; message: string }
  | { type: "error"; message: string; stack?: string };
