/**
 * LatentCross: "Latent Cross: Making Use of Context in Recurrent Recommender
 * Systems" (Beutel et al., WSDM 2018), adapted as the FS-VAE paper did: the
 * items are the fixed track embeddings, a feed-forward head predicts the next
 * track's embedding in place of the softmax, and the loss is FS-VAE's
 * reconstruction (deterministic: KL 0). docs/model.md has the equations and
 * every adaptation.
 *
 *   context         ctx_k = [time_since_last, daypart, skipped]_k    the columns of step k of x_s the spec has
 *   input cross     c_in(k) = ctx_k W_in;     x̃_k = (1 + c_in(k)) ∘ e_k / s        (e_k: step k's track embedding)
 *   RNN             h = RNN(x̃_1..x̃_w)                                   (LSTM or simple RNN, stacked; masked)
 *   output cross    c_out = ctx_out W_out;    h̃ = (1 + c_out) ∘ h
 *                   ctx_out = [ctx_w, Δ]: the last play's context and, when the spec has it, x_n's
 *                   hours_since_last (the gap to the prediction time, the paper's context of the prediction)
 *   head            ỹ = dense_L(... dense_1(h̃)),   y^ = s ỹ                (the softmax replaced)
 *   loss            L = reconstruction(y / s, ỹ)                           (FS-VAE's; KL 0)
 *
 * The latent cross (1 + c) ∘ h is the paper's operator: c = 0 leaves the RNN
 * as it is, and c is the sum of the context features' embeddings (a linear
 * map of the concatenated context columns, no bias).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { LatentCrossSpecFields, ModelSpec } from "../spec/schema";
import { CONTEXT_SIGNALS, DAYPARTS, perPlayOffsets, perPlayWidth } from "../spec/vocabulary";
import { activation, createDense, dense, uniquePrefix, type DenseParams, type Noise } from "./layers";
import { reconstructionLoss, type ReconstructionKind } from "./loss";
import { createLstmParams, createRnnParams, recurrentForward, type ActivationName, type RecurrentParams } from "./lstm";
import { glorotUniform, streamSeed, STREAM } from "./random";
import type { FsVaeInput, Objective } from "./fsvae";

// ------------------------------------------------------------------ config

/** A latent-cross spec's fields and their defaults: the schema's `latent_cross` section (src/spec/schema.ts). */
export { LATENT_CROSS_DEFAULTS, type LatentCrossSpecFields } from "../spec/schema";

/** The context signals of a step, in this order where the spec has them (the vocabulary's list). */
export { CONTEXT_SIGNALS };

export interface LatentCrossConfig extends LatentCrossSpecFields {
  window: number;
  /** d_s: width of one step of x_s. */
  stepDim: number;
  /** d_n: width of x_n (0 with the slow branch off); only its hours_since_last column is read. */
  slowDim: number;
  /** D: the track embedding's width (the RNN's input and the output). */
  embeddingDim: number;
  /** First column of the track embedding within a step. */
  embeddingOffset: number;
  /** The context's columns within a step (CONTEXT_SIGNALS the spec has, in that order). */
  contextColumns: number[];
  /** Column of hours_since_last in x_n, added to the output context; null when the spec has none. */
  deltaColumn: number | null;
  loss: { reconstruction: Exclude<ReconstructionKind, "gaussian_learned">; variance: number };
  /** s: the unit of track embeddings inside the model (1: none). */
  embeddingScale: number;
}

/** The config from a spec's features and loss and LatentCross's fields; throws when the features lack a context or the embedding. */
export function latentCrossConfig(
  features: Pick<ModelSpec["features"], "fast" | "slow">,
  fields: LatentCrossSpecFields,
  loss: { reconstruction: ReconstructionKind; variance: number },
  embeddingDim: number,
  embeddingScale = 1,
): LatentCrossConfig {
  const { fast, slow } = features;
  if (!fast.enabled) throw new Error("latent-cross needs the fast features");
  const at = perPlayOffsets(fast.per_play, embeddingDim);
  if (at.track_embedding === undefined) throw new Error("latent-cross needs track_embedding in features.fast.per_play");
  const contextColumns = CONTEXT_SIGNALS.flatMap((s) =>
    at[s] === undefined ? [] : Array.from({ length: perPlayWidth(s, embeddingDim) }, (_, k) => at[s]! + k),
  );
  if (contextColumns.length === 0) throw new Error(`latent-cross needs a context in features.fast.per_play: ${CONTEXT_SIGNALS.join(", ")}`);
  if (loss.reconstruction === "gaussian_learned") throw new Error("latent-cross: gaussian_learned is not supported");
  const delta = slow.enabled ? slow.aggregates.indexOf("hours_since_last") : -1;
  return {
    ...fields,
    window: fast.window,
    stepDim: fast.per_play.reduce((n, s) => n + perPlayWidth(s, embeddingDim), 0),
    slowDim: slow.enabled ? slow.aggregates.length + (slow.daypart_shares ? DAYPARTS.length : 0) : 0,
    embeddingDim,
    embeddingOffset: at.track_embedding,
    contextColumns,
    deltaColumn: delta < 0 ? null : delta,
    loss: { reconstruction: loss.reconstruction, variance: loss.variance },
    embeddingScale,
  };
}

/** Width of the output context ctx_out: the step's context columns, and Δ when the spec has hours_since_last. */
export const contextOutWidth = (c: LatentCrossConfig): number => c.contextColumns.length + (c.deltaColumn === null ? 0 : 1);

// ------------------------------------------------------------------ parameters

export interface LatentCrossParams {
  rnn: RecurrentParams;
  /** W_in [context, D] and W_out [context (+ 1 with Δ), units]: the context embeddings. */
  contextIn: tf.Variable<tf.Rank.R2>;
  contextOut: tf.Variable<tf.Rank.R2>;
  head: DenseParams[];
  out: DenseParams;
}

export interface LatentCross {
  config: LatentCrossConfig;
  params: LatentCrossParams;
  /** Every variable under a stable key, in a fixed order: the checkpoint layout. */
  variables: { key: string; variable: tf.Variable }[];
}

/** Seeded parameters: Glorot-uniform kernels (the recurrent ones as lstm.ts draws them), zero biases. */
export function createLatentCross(config: LatentCrossConfig, seed: number): LatentCross {
  let model!: LatentCross;
  tf.tidy(() => {
    const prefix = uniquePrefix("latent_cross");
    let k = 0;
    const seedOf = () => streamSeed(seed, STREAM.init, k++);
    const create = config.cell === "lstm" ? createLstmParams : createRnnParams;
    const rnn = create(config.embeddingDim, config.units, config.layers, seedOf(), { name: `${prefix}/${config.cell}` });
    const context = (rows: number, cols: number, name: string) =>
      tf.variable(tf.tensor2d(glorotUniform(rows, cols, seedOf()), [rows, cols]), true, `${prefix}/${name}/kernel`);
    const contextIn = context(config.contextColumns.length, config.embeddingDim, "context_in");
    const contextOut = context(contextOutWidth(config), config.units, "context_out");
    const head = Array.from({ length: config.head.layers }, (_, l) =>
      createDense(l === 0 ? config.units : config.head.units, config.head.units, seedOf(), `${prefix}/head/dense${l}`),
    );
    const out = createDense(config.head.layers ? config.head.units : config.units, config.embeddingDim, seedOf(), `${prefix}/head/out`);
    const variables: LatentCross["variables"] = rnn.layers.flatMap((l, i) => [
      { key: `${config.cell}/layer${i}/kernel`, variable: l.kernel },
      { key: `${config.cell}/layer${i}/bias`, variable: l.bias },
    ]);
    variables.push({ key: "context_in/kernel", variable: contextIn }, { key: "context_out/kernel", variable: contextOut });
    head.forEach((p, l) => variables.push({ key: `head/dense${l}/kernel`, variable: p.kernel }, { key: `head/dense${l}/bias`, variable: p.bias }));
    variables.push({ key: "head/out/kernel", variable: out.kernel }, { key: "head/out/bias", variable: out.bias });
    model = { config, params: { rnn, contextIn, contextOut, head, out }, variables };
  });
  return model;
}

export function disposeLatentCross(model: LatentCross): void {
  for (const { variable } of model.variables) variable.dispose();
}

// ------------------------------------------------------------------ the model

/** The paper's operator: (1 + c) ∘ h. */
export function latentCross(h: tf.Tensor, c: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.add(1, c), h));
}

const RECURRENT_ACTIVATION: Record<LatentCrossSpecFields["activation"], ActivationName> = {
  leaky_relu: "leakyRelu",
  relu: "relu",
  tanh: "tanh",
  sigmoid: "sigmoid",
  linear: "linear",
};

/** The crossed RNN state h̃ = (1 + c_out) ∘ RNN((1 + c_in) ∘ e / s) [b, units]: the user's state. */
export function latentCrossState(model: LatentCross, input: FsVaeInput): tf.Tensor2D {
  const c = model.config;
  const p = model.params;
  const x_s = input.x_s;
  if (!x_s) throw new Error("latent-cross needs x_s");
  return tf.tidy(() => {
    const [b, w] = x_s.shape;
    let e: tf.Tensor3D = tf.slice(x_s, [0, 0, c.embeddingOffset], [b, w, c.embeddingDim]);
    if (c.embeddingScale !== 1) e = tf.div(e, c.embeddingScale);
    const ctx = tf.gather(x_s, c.contextColumns, 2) as tf.Tensor3D;
    const cIn = tf.reshape(tf.matMul(tf.reshape(ctx, [b * w, c.contextColumns.length]), p.contextIn), [b, w, c.embeddingDim]);
    const h = recurrentForward(p.rnn, latentCross(e, cIn) as tf.Tensor3D, {
      mask: input.mask,
      outputActivation: RECURRENT_ACTIVATION[c.activation],
    }).last;
    const last: tf.Tensor2D = tf.reshape(tf.slice(ctx, [0, w - 1, 0], [b, 1, c.contextColumns.length]), [b, c.contextColumns.length]);
    let ctxOut = last;
    if (c.deltaColumn !== null) {
      if (!input.x_n) throw new Error("latent-cross needs x_n for hours_since_last");
      ctxOut = tf.concat([last, tf.slice(input.x_n, [0, c.deltaColumn], [b, 1])], 1);
    }
    return latentCross(h, tf.matMul(ctxOut, p.contextOut)) as tf.Tensor2D;
  });
}

/** State, then the feed-forward head: y^ = s ỹ [b, D]. With `noise` (training), dropout after the state and each hidden layer. */
export function latentCrossForward(model: LatentCross, input: FsVaeInput, noise?: Noise): { state: tf.Tensor2D; yHat: tf.Tensor2D } {
  const c = model.config;
  return tf.tidy(() => {
    const state = latentCrossState(model, input);
    let h = noise ? noise.dropout(state, c.dropout) : state;
    for (const layer of model.params.head) {
      h = activation(dense(h, layer), c.activation);
      if (noise) h = noise.dropout(h, c.dropout);
    }
    const f = dense(h, model.params.out);
    return { state, yHat: c.embeddingScale === 1 ? f : tf.mul(f, c.embeddingScale) } as unknown as tf.TensorContainer;
  }) as unknown as { state: tf.Tensor2D; yHat: tf.Tensor2D };
}

/** FS-VAE's reconstruction in units of s, shaped like its objective (deterministic: kl 0, no klPerDim). */
export function latentCrossLoss(model: LatentCross, input: FsVaeInput, y: tf.Tensor2D, options: { noise?: Noise } = {}): Objective {
  return tf.tidy(() => {
    const { yHat } = latentCrossForward(model, input, options.noise);
    const s = model.config.embeddingScale;
    const { reconstruction: kind, variance } = model.config.loss;
    const reconstruction =
      s === 1 ? reconstructionLoss(y, yHat, kind, { variance }) : reconstructionLoss(tf.div(y, s), tf.div(yHat, s), kind, { variance });
    return { loss: reconstruction, reconstruction, kl: tf.scalar(0), klPerDim: tf.zeros([0]), yHat } as unknown as tf.TensorContainer;
  }) as unknown as Objective;
}

/** The user's state: mu = h̃, the crossed RNN output (deterministic: sigma null). */
export function latentCrossEmbed(model: LatentCross, input: FsVaeInput): { mu: tf.Tensor2D; sigma: null } {
  return { mu: latentCrossState(model, input), sigma: null };
}
