/**
 * FS-VAE: "Variational User Modeling with Slow and Fast Features"
 * (Fazelnia et al., WSDM 2022), as implemented here (docs/model.md).
 *
 *   x_s [b, w, d_s]  fast features: the last w plays      -> sequential encoder (stacked LSTM) -> mu_s, log sigma_s  [b, K]
 *                    (track embeddings divided by s, the catalogue's RMS coordinate, with features.embedding_scale: rms)
 *   x_n [b, d_n]     slow features: aggregates up to t    -> regular encoder (dense)          -> mu_n, log sigma_n  [b, K]
 *   z_s = mu_s + eps_s * sigma_s,  z_n = mu_n + eps_n * sigma_n,   eps ~ N(0, I)   (z = mu at inference)
 *   z   = g(z_s, z_n)             concat (2K) or sum (K)
 *   y^  = s * decoder(z)          the next track's embedding (s = 1 without embedding_scale)
 *         [+ sum_t a_t e_t]        with decoder.skip: learned weights a [w] of the window's track embeddings
 *   L   = reconstruction(y / s, y^ / s) + beta_t * [ KL(q(z_s | x_s) || N(0, I)) + KL(q(z_n | x_n) || N(0, I)) ]
 *
 * Variants: a branch can be off (no-fast, no-slow); `probabilistic: false`
 * makes z = mu deterministic with no KL (reconstruction only); the sequential
 * encoder can be a simple RNN (vanilla-rnn) or a masked mean over the steps
 * followed by dense layers (aggregate-sequence).
 *
 * Parameters are plain tf.Variables in a params object (params.ts, with the
 * config a spec compiles to); every function here is pure over (model,
 * tensors) and runs inside tf.tidy.
 */
import * as tf from "@tensorflow/tfjs-core";
import { recurrentForward, type ActivationName, type RecurrentParams } from "./lstm";
import { activation, dense, type DenseParams, type Noise, type SpecActivation } from "./layers";
import { gaussianKl, klWithFreeBits, reconstructionLoss } from "./loss";
import type { DenseStackConfig, FsVae, GaussianHeadParams } from "./params";

export {
  createFsVae,
  disposeFsVae,
  latentWidth,
  parameterCount,
  type DenseStackConfig,
  type FsVae,
  type FsVaeConfig,
  type FsVaeParams,
  type GaussianHeadParams,
} from "./params";

// ------------------------------------------------------------------ encoders

/** q(z | x) = N(mu, sigma^2) per example; logSigma is null for a deterministic latent. */
export interface Posterior {
  mu: tf.Tensor2D;
  logSigma: tf.Tensor2D | null;
}

/** The inputs of one batch. */
export interface FsVaeInput {
  /** Fast features [b, w, d_s]. */
  x_s?: tf.Tensor3D;
  /** [b, w]: 1 = a real play, 0 = left padding. */
  mask?: tf.Tensor2D;
  /** Slow features [b, d_n]. */
  x_n?: tf.Tensor2D;
}

function denseStackForward(x: tf.Tensor2D, layers: DenseParams[], c: DenseStackConfig, noise?: Noise): tf.Tensor2D {
  let h = x;
  for (const p of layers) {
    h = activation(dense(h, p), c.activation);
    if (noise) h = noise.dropout(h, c.dropout);
  }
  return h;
}

function gaussianHead(h: tf.Tensor2D, p: GaussianHeadParams): Posterior {
  return { mu: dense(h, p.mu), logSigma: p.logSigma ? dense(h, p.logSigma) : null };
}

/** Output activations lstm.ts applies itself; others (elu) we apply to its linear output. */
const RECURRENT_ACTIVATION: Partial<Record<SpecActivation, ActivationName>> = {
  leaky_relu: "leakyRelu",
  relu: "relu",
  tanh: "tanh",
  sigmoid: "sigmoid",
  linear: "linear",
};

/** The stacked LSTM / RNN over x_s: the last step's output [b, units], with dropout on each layer's output in training. */
function recurrentEncoder(
  p: RecurrentParams,
  c: DenseStackConfig,
  x_s: tf.Tensor3D,
  mask: tf.Tensor2D | undefined,
  noise?: Noise,
): tf.Tensor2D {
  const own = RECURRENT_ACTIVATION[c.activation];
  if (own && (!noise || c.dropout === 0)) return recurrentForward(p, x_s, { mask, outputActivation: own }).last;
  // Layer by layer, so that dropout (same mask at every step) sits between layers.
  let seq = x_s;
  let last!: tf.Tensor2D;
  p.layers.forEach((layer, l) => {
    const view: RecurrentParams = { ...p, inputDim: l === 0 ? p.inputDim : p.units, layers: [layer] };
    const final = l === p.layers.length - 1;
    const out = recurrentForward(view, seq, { mask, returnSequences: !final, outputActivation: own ?? "linear" });
    if (final) {
      last = own ? out.last : activation(out.last, c.activation);
      if (noise) last = noise.dropout(last, c.dropout);
    } else {
      seq = own ? out.sequence! : activation(out.sequence!, c.activation);
      if (noise) seq = noise.dropout(seq, c.dropout, [seq.shape[0], 1, p.units]);
    }
  });
  return last;
}

/** Sequential encoder: q(z_s | x_s). The track embeddings in x_s are first divided by s (embeddingScale). */
export function encodeFast(model: FsVae, x_s: tf.Tensor3D, mask?: tf.Tensor2D, noise?: Noise): Posterior {
  const c = model.config.encoderS;
  const p = model.params.encoderS;
  if (!c || !p) throw new Error("this model has no fast branch");
  return tf.tidy(() => {
    if (c.inputScale) x_s = tf.mul(x_s, tf.tensor1d(c.inputScale));
    let h: tf.Tensor2D;
    if (p.recurrent) {
      h = recurrentEncoder(p.recurrent, c, x_s, mask, noise);
    } else {
      // Aggregate Sequence: the masked mean over the steps, then dense layers.
      const m = mask ?? tf.ones([x_s.shape[0], x_s.shape[1]]);
      const total = tf.sum(tf.mul(x_s, tf.expandDims(m, 2)), 1) as tf.Tensor2D;
      const mean = tf.div(total, tf.maximum(tf.sum(m, 1, true), 1)) as tf.Tensor2D;
      h = denseStackForward(mean, p.dense, c, noise);
    }
    return gaussianHead(h, p.head) as unknown as tf.TensorContainer;
  }) as unknown as Posterior;
}

/** Regular encoder: q(z_n | x_n). */
export function encodeSlow(model: FsVae, x_n: tf.Tensor2D, noise?: Noise): Posterior {
  const c = model.config.encoderN;
  const p = model.params.encoderN;
  if (!c || !p) throw new Error("this model has no slow branch");
  return tf.tidy(
    () => gaussianHead(denseStackForward(x_n, p.dense, c, noise), p.head) as unknown as tf.TensorContainer,
  ) as unknown as Posterior;
}

// ------------------------------------------------------------------ latent

/** z = mu + eps * sigma with eps ~ N(0, I) in training (noise given); z = mu otherwise or when deterministic. */
export function reparameterise(q: Posterior, noise?: Noise): tf.Tensor2D {
  if (!noise || !q.logSigma) return q.mu;
  const logSigma = q.logSigma;
  return tf.tidy(() => tf.add(q.mu, tf.mul(noise.eps(q.mu.shape), tf.exp(logSigma))));
}

/** z = g(z_s, z_n): concatenation (2K) or sum (K); a single branch passes through. */
export function combine(z_s: tf.Tensor2D | null, z_n: tf.Tensor2D | null, how: "concat" | "sum"): tf.Tensor2D {
  if (z_s && z_n) return how === "concat" ? tf.concat([z_s, z_n], 1) : tf.add(z_s, z_n);
  const z = z_s ?? z_n;
  if (!z) throw new Error("combine: no branch");
  return z;
}

// ------------------------------------------------------------------ decoder

/** The unit s of track embeddings inside the model (1: none). */
export const embeddingScale = (model: FsVae): number => model.config.embeddingScale ?? 1;

/**
 * Decoder: y^ = s * f(z), the predicted next-track embedding [b, dim] (f
 * predicts in units of s). With decoder.skip, plus sum_t a_t e_t over the
 * track embeddings e_t of the window x_s (a linear path from the last plays
 * to the prediction that the network would otherwise have to learn).
 */
export function decode(model: FsVae, z: tf.Tensor2D, x_s?: tf.Tensor3D, noise?: Noise): tf.Tensor2D {
  const { dense: hidden, out, skip } = model.params.decoder;
  const s = embeddingScale(model);
  return tf.tidy((): tf.Tensor2D => {
    const f = dense(denseStackForward(z, hidden, model.config.decoder, noise), out);
    const yHat: tf.Tensor2D = s === 1 ? f : tf.mul(f, s);
    if (!skip) return yHat;
    const [b, w] = need(x_s, "x_s").shape;
    const e = tf.slice(x_s!, [0, 0, model.config.encoderS!.embeddingOffset ?? 0], [b, w, model.config.decoder.outputDim]);
    return tf.add(yHat, tf.sum(tf.mul(e, tf.reshape(skip, [1, w, 1])), 1)) as tf.Tensor2D;
  });
}

export interface ForwardResult {
  q_s: Posterior | null;
  q_n: Posterior | null;
  z: tf.Tensor2D;
  yHat: tf.Tensor2D;
}

/** Encoders, reparameterisation, g and the decoder. With `noise` (training) z is sampled and dropout is on. */
export function forward(model: FsVae, input: FsVaeInput, noise?: Noise): ForwardResult {
  return tf.tidy(() => {
    const q_s = model.params.encoderS ? encodeFast(model, need(input.x_s, "x_s"), input.mask, noise) : null;
    const q_n = model.params.encoderN ? encodeSlow(model, need(input.x_n, "x_n"), noise) : null;
    const z_s = q_s ? reparameterise(q_s, noise) : null;
    const z_n = q_n ? reparameterise(q_n, noise) : null;
    const z = combine(z_s, z_n, model.config.latent.combine);
    return { q_s, q_n, z, yHat: decode(model, z, input.x_s, noise) } as unknown as tf.TensorContainer;
  }) as unknown as ForwardResult;
}

/** The posterior's standard deviations per branch and of z = g(z_s, z_n) (all null when deterministic). */
export interface JointPosterior {
  mu: tf.Tensor2D;
  sigma: tf.Tensor2D | null;
  sigma_s: tf.Tensor2D | null;
  sigma_n: tf.Tensor2D | null;
}

/**
 * The posterior of z = g(z_s, z_n) at inference: concat joins both; sum adds
 * the means and the variances (z_s and z_n are independent given x). Call
 * inside tf.tidy.
 */
export function jointPosterior(model: FsVae, q_s: Posterior | null, q_n: Posterior | null): JointPosterior {
  const how = model.config.latent.combine;
  const mu = combine(q_s?.mu ?? null, q_n?.mu ?? null, how);
  if (!model.config.latent.probabilistic) return { mu, sigma: null, sigma_s: null, sigma_n: null };
  const sigma_s = q_s ? tf.exp(q_s.logSigma!) : null;
  const sigma_n = q_n ? tf.exp(q_n.logSigma!) : null;
  const sigma =
    how === "sum" && sigma_s && sigma_n
      ? (tf.sqrt(tf.add(tf.square(sigma_s), tf.square(sigma_n))) as tf.Tensor2D)
      : combine(sigma_s, sigma_n, how);
  return { mu, sigma, sigma_s, sigma_n };
}

/** The user embedding: mu and sigma of z = g(z_s, z_n) (sigma null when deterministic). */
export function embed(model: FsVae, input: FsVaeInput): { mu: tf.Tensor2D; sigma: tf.Tensor2D | null } {
  return tf.tidy(() => {
    const q_s = model.params.encoderS ? encodeFast(model, need(input.x_s, "x_s"), input.mask) : null;
    const q_n = model.params.encoderN ? encodeSlow(model, need(input.x_n, "x_n")) : null;
    const { mu, sigma } = jointPosterior(model, q_s, q_n);
    return { mu, sigma } as unknown as tf.TensorContainer;
  }) as unknown as { mu: tf.Tensor2D; sigma: tf.Tensor2D | null };
}

function need<T>(x: T | undefined, name: string): T {
  if (x === undefined) throw new Error(`FS-VAE input ${name} is missing`);
  return x;
}

// ------------------------------------------------------------------ beta-ELBO

export interface ObjectiveOptions {
  /** beta_t for this step (betaAt(step, ...) in training; loss.beta for validation). */
  beta: number;
  /** Free bits per unit (latent.free_bits in training; 0 for an honest validation KL). */
  freeBits: number;
  /** Training noise: sampled z and dropout. Omit for z = mu, no dropout. */
  noise?: Noise;
}

export interface Objective {
  /** reconstruction + beta * kl. */
  loss: tf.Scalar;
  reconstruction: tf.Scalar;
  /** KL(q(z_s | x_s) || p) + KL(q(z_n | x_n) || p), free bits applied. */
  kl: tf.Scalar;
  /** Batch-mean KL per latent unit, [z_s units then z_n units] (empty for a deterministic latent). */
  klPerDim: tf.Tensor1D;
  yHat: tf.Tensor2D;
}

/** The negative beta-ELBO of a batch: reconstruction + beta * KL, averaged over the batch. */
export function betaElbo(model: FsVae, input: FsVaeInput, y: tf.Tensor2D, options: ObjectiveOptions): Objective {
  return tf.tidy(() => {
    const { q_s, q_n, yHat } = forward(model, input, options.noise);
    const { reconstruction: kind, variance } = model.config.loss;
    // Measured in units of s: y / s against f(z) = y^ / s.
    const s = embeddingScale(model);
    const [yS, yHatS] = s === 1 ? [y, yHat] : [tf.div<tf.Tensor2D>(y, s), tf.div<tf.Tensor2D>(yHat, s)];
    const reconstruction = reconstructionLoss(yS, yHatS, kind, { variance, logVariance: model.params.decoder.logVariance });
    if (!model.config.latent.probabilistic) {
      return { loss: reconstruction, reconstruction, kl: tf.scalar(0), klPerDim: tf.zeros([0]), yHat } as unknown as tf.TensorContainer;
    }
    // KL(q(z_s | x_s) || N(0, I)) and KL(q(z_n | x_n) || N(0, I)), each with free bits.
    const kl_s = q_s ? klWithFreeBits(gaussianKl(q_s.mu, q_s.logSigma!), options.freeBits) : null;
    const kl_n = q_n ? klWithFreeBits(gaussianKl(q_n.mu, q_n.logSigma!), options.freeBits) : null;
    const kl = kl_s && kl_n ? tf.add(kl_s.kl, kl_n.kl) : (kl_s ?? kl_n)!.kl;
    const klPerDim = kl_s && kl_n ? tf.concat([kl_s.perDim, kl_n.perDim]) : (kl_s ?? kl_n)!.perDim;
    const loss = options.beta === 0 ? reconstruction : tf.add(reconstruction, tf.mul(options.beta, kl));
    return { loss, reconstruction, kl, klPerDim, yHat } as unknown as tf.TensorContainer;
  }) as unknown as Objective;
}
