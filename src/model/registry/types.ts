/**
 * The model interface: what the trainer, the queue, evaluation, serving, the
 * report and `rubato validate` may know about a model. One module per spec
 * `type` implements it (this folder; index.ts registers them), in the spirit
 * of RecBole's SequentialRecommender: build parameters from a resolved spec
 * and the data's dimensions, a training loss with named parts, the next
 * track's embedding, a user's state, save and load.
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { ModelSpec, ModelType } from "../../spec/schema";
import type { Noise } from "../layers";
import type { ModelSummary } from "../summary";

/** One batch's inputs; a model reads those it needs (inputs says which). */
export interface ModelInput {
  /** Fast features [b, w, d_s]. */
  x_s?: tf.Tensor3D;
  /** [b, w]: 1 = a real play, 0 = left padding. */
  mask?: tf.Tensor2D;
  /** Slow features [b, d_n]. */
  x_n?: tf.Tensor2D;
  /** The bag of plays up to t [b, D]: the mean embedding of the user's plays 0..i with an embedding (src/features/bag.ts). */
  x_b?: tf.Tensor2D;
}

/** What a model reads and writes: 0 for an input it does not read. */
export interface InputShape {
  window: number;
  fastStep: number;
  slowDim: number;
  /** Width of x_b, the bag of plays (the catalogue's dimension); 0 or absent: not read, not built. */
  bagDim?: number;
  /** The predicted embedding's width (the catalogue's dimension). */
  outputDim: number;
}

/** The data's dimensions a model is built for. */
export interface DataDims {
  embeddingDim: number;
  /** The catalogue's root-mean-square coordinate (features.embedding_scale: rms). */
  catalogueRms?: number;
}

export interface LossOptions {
  /** beta_t for this step (the full beta for validation). */
  beta: number;
  /** Free bits per latent unit (0 for an honest validation KL). */
  freeBits: number;
  /** Training noise: sampled latents and dropout. Omit for inference. */
  noise?: Noise;
}

/** The training objective of a batch, with its named parts (averaged over the batch). */
export interface LossParts {
  /** reconstruction + beta * kl. */
  loss: tf.Scalar;
  reconstruction: tf.Scalar;
  /** 0 for a deterministic model. */
  kl: tf.Scalar;
  /** Batch-mean KL per latent unit (empty when deterministic). */
  klPerDim: tf.Tensor1D;
  /** The predicted next-track embedding [b, dim]. */
  yHat: tf.Tensor2D;
}

export interface Gaussian {
  mu: tf.Tensor2D;
  /** Null when deterministic. */
  sigma: tf.Tensor2D | null;
}

/** A user's state: mu (and sigma when probabilistic), with named parts where the model has them (FS-VAE: fast, slow). */
export interface UserState extends Gaussian {
  parts: Partial<Record<"fast" | "slow", Gaussian>>;
  /** The prediction at the state's mean, when asked for (embed(input, { predict: true })). */
  predicted?: tf.Tensor2D;
}

/** The KL schedule (zeros for a model without a KL term). */
export interface Schedule {
  beta: number;
  warmupSteps: number;
  freeBits: number;
}

/** A model's stored form: a JSON topology and its weights as one float32 buffer (artifact.ts). */
export interface ArtifactData {
  topology: {
    format: string;
    /** The spec type; absent in FS-VAE artifacts written before the registry ("rubato-fsvae/1" means fs-vae). */
    type?: string;
    config: unknown;
    variables: { key: string; shape: number[] }[];
    extra: Record<string, unknown>;
  };
  weights: Buffer;
}

/** A model with parameters, built by its module. Every tensor method runs inside tf.tidy. */
export interface Model {
  readonly type: ModelType;
  /** The compiled configuration: plain JSON, enough to rebuild the model (fromConfig). */
  readonly config: unknown;
  /** Every trainable variable under a stable key, in a fixed order: the checkpoint and artifact layout. */
  readonly variables: { key: string; variable: tf.Variable }[];
  readonly inputs: InputShape;
  readonly schedule: Schedule;
  readonly probabilistic: boolean;
  /** Latent units that carry a KL term (0 when deterministic). */
  readonly latentUnits: number;
  loss(input: ModelInput, y: tf.Tensor2D, options: LossOptions): LossParts;
  /** The next track's embedding at inference [b, dim]. */
  predict(input: ModelInput): tf.Tensor2D;
  embed(input: ModelInput, options?: { predict?: boolean }): UserState;
  /** extra: what serving needs besides the weights (feature scaling). */
  save(extra?: Record<string, unknown>): ArtifactData;
  dispose(): void;
}

export type LatentKind = "probabilistic" | "deterministic" | "none";

interface Common {
  type: ModelType;
  /** One line for listings. */
  describe: string;
  latent(spec: ModelSpec): LatentKind;
  /** The model reads x_b, the bag of plays up to t (InputShape.bagDim): embedding jobs must compute it. Absent: false. */
  readsBag?: boolean;
  /** The compiled graph, sized for a catalogue dimension; null when the model has none. */
  summary(spec: ModelSpec, embeddingDim: number): ModelSummary | null;
}

export interface LearnedModule extends Common {
  learned: true;
  /** Fresh parameters from a resolved spec and the data's dimensions (seed: training.seed unless given). */
  create(spec: ModelSpec, dims: DataDims, seed?: number): Model;
  /** The same model from its configuration (a data-parallel replica). */
  fromConfig(config: unknown, seed: number): Model;
  /** Artifact formats this module reads. */
  formats: readonly string[];
  load(artifact: ArtifactData): Model;
}

/**
 * A non-learned baseline: no parameters, nothing to train or save; its
 * predictions for dataset rows are computed by the evaluation
 * (src/eval/baselines.ts, which needs the user's whole history or the
 * training split, not a batch).
 */
export interface BaselineModule extends Common {
  learned: false;
}

export type ModelModule = LearnedModule | BaselineModule;
