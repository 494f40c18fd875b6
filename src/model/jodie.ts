/**
 * JODIE: "Predicting Dynamic Embedding Trajectory in Temporal Interaction
 * Networks" (Kumar, Zhang and Leskovec, KDD 2019), adapted as the FS-VAE
 * paper did: track embeddings are fixed (no item RNN), the target is the next
 * track's embedding. docs/model.md has the equations and every adaptation.
 *
 *   user update     u_0 = 0;  u_k = normalize(tanh([x_k, u_{k-1}] W_u + b_u))     over the real plays of x_s
 *                   x_k = [e_k / s, time_since_last, skip, ...]: a step of x_s (the track embedding divided by s)
 *   projection      û(t + Δ) = (1 + w) ∘ u(t),   w = Δ W_p   (W_p [1, units] ~ N(0, projectionStd²), no bias)
 *                   Δ = x_n's hours_since_last: the gap from the last play to the prediction time
 *   static user     ū = act(x_n' W_s + b_s)      x_n' = the other slow features (JODIE: a one-hot user id)
 *   prediction      ỹ = [û(t + Δ), ū, e_last / s] W_o + b_o,   y^ = s ỹ   (e_last: the last played track, JODIE's i(t + Δ⁻))
 *   loss            L = mean over the batch of ||y / s - ỹ||²     (JODIE's L2; deterministic: KL 0)
 *
 * Parameters are plain tf.Variables under stable keys in a fixed order (the
 * checkpoint layout); every function is pure over (model, tensors) and runs
 * inside tf.tidy.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { JodieSpecFields, ModelSpec } from "../spec/schema";
import { DAYPARTS, perPlayOffsets, perPlayWidth } from "../spec/vocabulary";
import { activation, createDense, dense, uniquePrefix, type DenseParams } from "./layers";
import { reconstructionLoss } from "./loss";
import { createRnnParams, type RecurrentLayerParams } from "./lstm";
import { normals, streamSeed, STREAM } from "./random";
import type { FsVaeInput, Objective } from "./fsvae";

// ------------------------------------------------------------------ config

/** A jodie spec's fields and their defaults: the schema's `jodie` section (src/spec/schema.ts). */
export { JODIE_DEFAULTS, type JodieSpecFields } from "../spec/schema";

/** The graph: widths and where JODIE's inputs sit in x_s and x_n. */
export interface JodieConfig extends JodieSpecFields {
  window: number;
  /** d_s: width of one step of x_s. */
  stepDim: number;
  /** d_n: width of x_n. */
  slowDim: number;
  /** D: the track embedding's width (the output). */
  embeddingDim: number;
  /** First column of the track embedding within a step of x_s. */
  embeddingOffset: number;
  /** Column of time_since_last within a step (the RNN reads the whole step; recorded for the checks). */
  timeSinceLastOffset: number;
  /** Column of hours_since_last (Δ) in x_n. */
  deltaColumn: number;
  /** The other columns of x_n: the static user vector's input. */
  staticColumns: number[];
  /** s: the unit of track embeddings inside the model (1: none). */
  embeddingScale: number;
}

/**
 * The config from a spec's features and JODIE's fields. Throws when the
 * features lack what JODIE reads: track_embedding and time_since_last per
 * play, hours_since_last among the aggregates.
 */
export function jodieConfig(
  features: Pick<ModelSpec["features"], "fast" | "slow">,
  fields: JodieSpecFields,
  embeddingDim: number,
  embeddingScale = 1,
): JodieConfig {
  const { fast, slow } = features;
  if (!fast.enabled || !slow.enabled) throw new Error("jodie needs both the fast and the slow features");
  const at = perPlayOffsets(fast.per_play, embeddingDim);
  if (at.track_embedding === undefined) throw new Error("jodie needs track_embedding in features.fast.per_play");
  if (at.time_since_last === undefined) throw new Error("jodie needs time_since_last in features.fast.per_play");
  const deltaColumn = slow.aggregates.indexOf("hours_since_last");
  if (deltaColumn < 0) throw new Error("jodie needs hours_since_last in features.slow.aggregates");
  const stepDim = fast.per_play.reduce((n, s) => n + perPlayWidth(s, embeddingDim), 0);
  const slowDim = slow.aggregates.length + (slow.daypart_shares ? DAYPARTS.length : 0);
  return {
    ...fields,
    window: fast.window,
    stepDim,
    slowDim,
    embeddingDim,
    embeddingOffset: at.track_embedding,
    timeSinceLastOffset: at.time_since_last,
    deltaColumn,
    staticColumns: Array.from({ length: slowDim }, (_, k) => k).filter((k) => k !== deltaColumn),
    embeddingScale,
  };
}

// ------------------------------------------------------------------ parameters

export interface JodieParams {
  /** The user RNN: kernel [d_s + units, units] (rows: x, then u), bias [units]. */
  userRnn: RecurrentLayerParams;
  /** W_p [1, units]. */
  projection: tf.Variable<tf.Rank.R2>;
  /** Null without static units or other slow features. */
  static: DenseParams | null;
  prediction: DenseParams;
}

export interface Jodie {
  config: JodieConfig;
  params: JodieParams;
  /** Every variable under a stable key, in a fixed order: the checkpoint layout. */
  variables: { key: string; variable: tf.Variable }[];
}

/** Width of the static user vector ū (0 when there is none). */
export const staticWidth = (c: JodieConfig): number => (c.static_units > 0 && c.staticColumns.length > 0 ? c.static_units : 0);

/** Seeded parameters: Glorot-uniform kernels, zero biases, W_p ~ N(0, projection_std²). */
export function createJodie(config: JodieConfig, seed: number): Jodie {
  let model!: Jodie;
  tf.tidy(() => {
    const prefix = uniquePrefix("jodie");
    const seedOf = (k: number) => streamSeed(seed, STREAM.init, k);
    const [userRnn] = createRnnParams(config.stepDim, config.units, 1, seedOf(0), { name: `${prefix}/user_rnn` }).layers;
    const w = Float32Array.from(normals(config.units, seedOf(1)), (x) => x * config.projection_std);
    const projection = tf.variable(tf.tensor2d(w, [1, config.units]), true, `${prefix}/projection/kernel`);
    const ns = staticWidth(config);
    const stat = ns ? createDense(config.staticColumns.length, ns, seedOf(2), `${prefix}/static`) : null;
    const prediction = createDense(config.units + ns + config.embeddingDim, config.embeddingDim, seedOf(3), `${prefix}/prediction`);
    const variables: Jodie["variables"] = [
      { key: "user_rnn/kernel", variable: userRnn.kernel },
      { key: "user_rnn/bias", variable: userRnn.bias },
      { key: "projection/kernel", variable: projection },
    ];
    if (stat) variables.push({ key: "static/kernel", variable: stat.kernel }, { key: "static/bias", variable: stat.bias });
    variables.push({ key: "prediction/kernel", variable: prediction.kernel }, { key: "prediction/bias", variable: prediction.bias });
    model = { config, params: { userRnn, projection, static: stat, prediction }, variables };
  });
  return model;
}

export function disposeJodie(model: Jodie): void {
  for (const { variable } of model.variables) variable.dispose();
}

// ------------------------------------------------------------------ the model

/** x_s with the track embedding's columns divided by s. */
function scaled(c: JodieConfig, x_s: tf.Tensor3D): tf.Tensor3D {
  if (c.embeddingScale === 1) return x_s;
  const factor = new Float32Array(c.stepDim).fill(1);
  factor.fill(1 / c.embeddingScale, c.embeddingOffset, c.embeddingOffset + c.embeddingDim);
  return tf.mul(x_s, tf.tensor1d(factor));
}

/** Rows scaled to unit L2 norm (JODIE normalises the user embedding after each update). */
function normalize(u: tf.Tensor2D): tf.Tensor2D {
  return tf.div(u, tf.sqrt(tf.add(tf.sum(tf.square(u), 1, true), 1e-12)));
}

/**
 * JODIE's user update over the window: u_k = normalize(tanh([x_k, u_{k-1}] W_u + b_u)),
 * from u_0 = 0; a padded step (mask 0) keeps the state. Returns u(t) [b, units], the state after the last play.
 */
export function jodieUpdate(model: Jodie, x_s: tf.Tensor3D, mask?: tf.Tensor2D): tf.Tensor2D {
  const c = model.config;
  const { kernel, bias } = model.params.userRnn;
  return tf.tidy(() => {
    const [b, w, d] = x_s.shape;
    const wx = tf.slice(kernel, [0, 0], [d, c.units]);
    const wu = tf.slice(kernel, [d, 0], [c.units, c.units]);
    const proj = tf.reshape(tf.fused.matMul({ a: tf.reshape(scaled(c, x_s), [b * w, d]), b: wx, bias }), [b, w, c.units]);
    const steps = w === 1 ? [tf.reshape(proj, [b, c.units]) as tf.Tensor2D] : (tf.unstack(proj, 1) as tf.Tensor2D[]);
    const masks = mask ? (w === 1 ? [mask] : (tf.split(mask, w, 1) as tf.Tensor2D[])) : null;
    let u: tf.Tensor2D = tf.zeros([b, c.units]);
    for (let k = 0; k < w; k++) {
      const z: tf.Tensor2D = k === 0 ? steps[0] : tf.add(steps[k], tf.matMul(u, wu));
      const next = normalize(tf.tanh(z));
      u = masks ? tf.add(u, tf.mul(masks[k], tf.sub(next, u))) : next;
    }
    return u;
  });
}

/** JODIE's projection operator: û(t + Δ) = (1 + Δ W_p) ∘ u(t), with Δ [b, 1]. The identity at Δ = 0. */
export function jodieProject(model: Jodie, u: tf.Tensor2D, delta: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.mul(u, tf.add(1, tf.matMul(delta, model.params.projection))));
}

/** Δ: x_n's hours_since_last column, [b, 1]. */
export function jodieDelta(model: Jodie, x_n: tf.Tensor2D): tf.Tensor2D {
  return tf.slice(x_n, [0, model.config.deltaColumn], [x_n.shape[0], 1]);
}

/** The static user vector ū = act(x_n' W_s + b_s) over the slow features other than Δ; null when there is none. */
export function jodieStatic(model: Jodie, x_n: tf.Tensor2D): tf.Tensor2D | null {
  const p = model.params.static;
  if (!p) return null;
  return tf.tidy(() => activation(dense(tf.gather(x_n, model.config.staticColumns, 1), p), model.config.static_activation));
}

export interface JodieForward {
  /** û(t + Δ) [b, units]. */
  projected: tf.Tensor2D;
  /** ū [b, static units], or null. */
  static: tf.Tensor2D | null;
  /** y^ = s ỹ [b, D]. */
  yHat: tf.Tensor2D;
}

/** Update, projection, static vector and JODIE's prediction layer ỹ = [û, ū, e_last / s] W_o + b_o, y^ = s ỹ. */
export function jodieForward(model: Jodie, input: FsVaeInput): JodieForward {
  const c = model.config;
  const { x_s, mask, x_n } = need(input);
  return tf.tidy(() => {
    const projected = jodieProject(model, jodieUpdate(model, x_s, mask), jodieDelta(model, x_n));
    const stat = jodieStatic(model, x_n);
    const [b, w] = x_s.shape;
    // The last step is the last real play (windows are left-padded): JODIE's i(t + Δ⁻).
    const last: tf.Tensor2D = tf.reshape(tf.slice(scaled(c, x_s), [0, w - 1, c.embeddingOffset], [b, 1, c.embeddingDim]), [b, c.embeddingDim]);
    const f = dense(tf.concat(stat ? [projected, stat, last] : [projected, last], 1), model.params.prediction);
    const yHat = c.embeddingScale === 1 ? f : tf.mul(f, c.embeddingScale);
    return { projected, static: stat, yHat } as unknown as tf.TensorContainer;
  }) as unknown as JodieForward;
}

/** JODIE's L2 loss, shaped like FS-VAE's objective: loss = reconstruction = mean ||y / s - y^ / s||², kl 0. */
export function jodieLoss(model: Jodie, input: FsVaeInput, y: tf.Tensor2D): Objective {
  return tf.tidy(() => {
    const { yHat } = jodieForward(model, input);
    const s = model.config.embeddingScale;
    const reconstruction = s === 1 ? reconstructionLoss(y, yHat, "mse") : reconstructionLoss(tf.div(y, s), tf.div(yHat, s), "mse");
    return { loss: reconstruction, reconstruction, kl: tf.scalar(0), klPerDim: tf.zeros([0]), yHat } as unknown as tf.TensorContainer;
  }) as unknown as Objective;
}

/** The user's state at prediction time: mu = [û(t + Δ), ū] (deterministic: sigma null). */
export function jodieEmbed(model: Jodie, input: FsVaeInput): { mu: tf.Tensor2D; sigma: null } {
  const mu = tf.tidy(() => {
    const { projected, static: stat } = jodieForward(model, input);
    return stat ? tf.concat([projected, stat], 1) : projected;
  });
  return { mu, sigma: null };
}

function need(input: FsVaeInput): { x_s: tf.Tensor3D; mask?: tf.Tensor2D; x_n: tf.Tensor2D } {
  if (!input.x_s || !input.x_n) throw new Error("jodie needs x_s and x_n");
  return { x_s: input.x_s, mask: input.mask, x_n: input.x_n };
}
