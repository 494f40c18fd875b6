/**
 * VAE-CF: "Variational Autoencoders for Collaborative Filtering" (Liang,
 * Krishnan, Hoffman and Jebara, WWW 2018; Mult-VAE), adapted as the FS-VAE
 * paper adapted its baselines: track embeddings are fixed, the target is the
 * next track's embedding and the objective is FS-VAE's beta-ELBO.
 * docs/model.md ("VAE-CF") has the equations and every adaptation.
 *
 *   bag             x_b = (sum_{j <= i} e_{track(j)}) / n_i        the user's plays 0..i with an embedding (n_i of them):
 *                                                                    Mult-VAE's x W with W = E over the L1-normalised play counts
 *                                                                    (src/features/bag.ts assembles it)
 *   input           x̃ = dropout(x_b / s, input_dropout)            (dropout in training only; s: features.embedding_scale)
 *   encoder         h = act(... act(x̃ W_1 + b_1) ...)              vae_cf.layers x vae_cf.units (Mult-VAE: tanh)
 *                   mu = h W_mu + b_mu,  log sigma = h W_sigma + b_sigma
 *   latent          z = mu + eps * sigma, eps ~ N(0, I)   (z = mu at inference; z = mu with latent.probabilistic: false, Mult-DAE)
 *   decoder         ỹ = act(... act(z V_1 + c_1) ...) V_o + c_o     the encoder's hidden layers mirrored, then linear to D
 *   prediction      y^ = s ỹ
 *   loss            L = reconstruction(y / s, ỹ) + beta_t * sum_j max(mean_batch KL_j, free_bits)   (loss.ts, as FS-VAE)
 *
 * Parameters are plain tf.Variables under stable keys in a fixed order (the
 * checkpoint and artifact layout); every function is pure over (model,
 * tensors) and runs inside tf.tidy.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ModelSpec } from "../spec/schema";
import { registerTfjsGradients } from "./kernels/gradients";
import { activation, createDense, dense, uniquePrefix, type DenseParams, type Noise, type SpecActivation } from "./layers";
import { gaussianKl, klWithFreeBits, reconstructionLoss, type ReconstructionKind } from "./loss";
import { streamSeed, STREAM } from "./random";
import type { Objective, ObjectiveOptions } from "./fsvae";

// ------------------------------------------------------------------ config

export interface VaeCfConfig {
  /** D: the bag's width (x_b) and the output's. */
  embeddingDim: number;
  /** Hidden layers of the encoder; the decoder has as many, mirrored. */
  layers: number;
  units: number;
  activation: SpecActivation;
  /** Dropout on x_b in training (Mult-VAE's input dropout). */
  inputDropout: number;
  latent: { size: number; probabilistic: boolean; initialSigma: number };
  loss: { reconstruction: ReconstructionKind; variance: number; beta: number; freeBits: number; klWarmupSteps: number };
  /** s: the unit of track embeddings inside the model (1: none). */
  embeddingScale: number;
}

/** The graph of a `type: vae-cf` spec for a catalogue of dimension D (catalogueRms: the unit with features.embedding_scale: rms). */
export function vaeCfConfig(spec: ModelSpec, embeddingDim: number, catalogueRms = 1): VaeCfConfig {
  if (spec.type !== "vae-cf") throw new Error(`spec "${spec.name}" is of type ${spec.type}, not vae-cf`);
  if (!(Number.isInteger(embeddingDim) && embeddingDim > 0))
    throw new Error(`embedding dimension must be a positive integer, got ${embeddingDim}`);
  const v = spec.vae_cf;
  const scale = spec.features.embedding_scale === "rms" && catalogueRms > 0 && Number.isFinite(catalogueRms) ? catalogueRms : 1;
  return {
    embeddingDim,
    layers: v.layers,
    units: v.units,
    activation: v.activation,
    inputDropout: v.input_dropout,
    latent: { size: spec.latent.size, probabilistic: spec.latent.probabilistic, initialSigma: spec.latent.initial_sigma },
    loss: {
      reconstruction: spec.loss.reconstruction,
      variance: spec.loss.variance ?? 1,
      beta: spec.latent.probabilistic ? spec.loss.beta : 0,
      freeBits: spec.latent.free_bits,
      klWarmupSteps: spec.latent.kl_warmup_steps,
    },
    embeddingScale: scale,
  };
}

// ------------------------------------------------------------------ parameters

export interface VaeCfParams {
  encoder: DenseParams[];
  mu: DenseParams;
  /** Null for a deterministic latent (Mult-DAE). */
  logSigma: DenseParams | null;
  decoder: DenseParams[];
  out: DenseParams;
  /** log v_d of gaussian_learned, else null. */
  logVariance: tf.Variable<tf.Rank.R1> | null;
}

export interface VaeCf {
  config: VaeCfConfig;
  params: VaeCfParams;
  /** Every variable under a stable key, in a fixed order: the checkpoint layout. */
  variables: { key: string; variable: tf.Variable }[];
}

/** Seeded parameters: Glorot-uniform kernels, zero biases (log sigma's bias: log latent.initial_sigma), log v = 0. */
export function createVaeCf(config: VaeCfConfig, seed: number): VaeCf {
  registerTfjsGradients(); // parameters are for training; tfjs-core's CJS build has no gradients
  let model!: VaeCf;
  tf.tidy(() => {
    const prefix = uniquePrefix("vae_cf");
    const variables: VaeCf["variables"] = [];
    let k = 0;
    const layer = (inDim: number, units: number, key: string): DenseParams => {
      const p = createDense(inDim, units, streamSeed(seed, STREAM.init, k++), `${prefix}/${key}`);
      variables.push({ key: `${key}/kernel`, variable: p.kernel }, { key: `${key}/bias`, variable: p.bias });
      return p;
    };
    const { embeddingDim: D, units, layers } = config;
    const K = config.latent.size;
    const encoder = Array.from({ length: layers }, (_, l) => layer(l === 0 ? D : units, units, `encoder/dense${l}`));
    const mu = layer(units, K, "encoder/mu");
    let logSigma: DenseParams | null = null;
    if (config.latent.probabilistic) {
      logSigma = layer(units, K, "encoder/log_sigma");
      const sigma0 = config.latent.initialSigma;
      if (sigma0 !== 1) logSigma.bias.assign(tf.fill([K], Math.log(sigma0)));
    }
    const decoder = Array.from({ length: layers }, (_, l) => layer(l === 0 ? K : units, units, `decoder/dense${l}`));
    const out = layer(units, D, "decoder/out");
    let logVariance: tf.Variable<tf.Rank.R1> | null = null;
    if (config.loss.reconstruction === "gaussian_learned") {
      logVariance = tf.variable(tf.zeros([D]), true, `${prefix}/decoder/log_variance`);
      variables.push({ key: "decoder/log_variance", variable: logVariance });
    }
    model = { config, params: { encoder, mu, logSigma, decoder, out, logVariance }, variables };
  });
  return model;
}

export function disposeVaeCf(model: VaeCf): void {
  for (const { variable } of model.variables) variable.dispose();
}

/** Parameters per variable group, from the config alone (summaries, the memory estimate's check). */
export function vaeCfParameterCount(c: VaeCfConfig): number {
  const d = (i: number, o: number) => i * o + o;
  const K = c.latent.size;
  let n = 0;
  for (let l = 0; l < c.layers; l++) n += d(l === 0 ? c.embeddingDim : c.units, c.units) + d(l === 0 ? K : c.units, c.units);
  n += d(c.units, K) * (c.latent.probabilistic ? 2 : 1) + d(c.units, c.embeddingDim);
  if (c.loss.reconstruction === "gaussian_learned") n += c.embeddingDim;
  return n;
}

// ------------------------------------------------------------------ the model

/** q(z | x_b) = N(mu, sigma^2); logSigma null when deterministic. */
export interface VaeCfPosterior {
  mu: tf.Tensor2D;
  logSigma: tf.Tensor2D | null;
}

/** The encoder: x_b [b, D] (raw, in the catalogue's units) to mu and log sigma [b, K]. With `noise`, input dropout. */
export function vaeCfEncode(model: VaeCf, x_b: tf.Tensor2D, noise?: Noise): VaeCfPosterior {
  const c = model.config;
  const p = model.params;
  return tf.tidy(() => {
    let h: tf.Tensor2D = c.embeddingScale === 1 ? x_b : tf.div(x_b, c.embeddingScale);
    if (noise) h = noise.dropout(h, c.inputDropout);
    for (const layer of p.encoder) h = activation(dense(h, layer), c.activation);
    return { mu: dense(h, p.mu), logSigma: p.logSigma ? dense(h, p.logSigma) : null } as unknown as tf.TensorContainer;
  }) as unknown as VaeCfPosterior;
}

/** The decoder: z [b, K] to y^ = s ỹ [b, D]. */
export function vaeCfDecode(model: VaeCf, z: tf.Tensor2D): tf.Tensor2D {
  const c = model.config;
  return tf.tidy(() => {
    let h = z;
    for (const layer of model.params.decoder) h = activation(dense(h, layer), c.activation);
    const f = dense(h, model.params.out);
    return c.embeddingScale === 1 ? f : tf.mul(f, c.embeddingScale);
  });
}

/** Encoder, reparameterisation (with `noise`) and decoder. */
export function vaeCfForward(model: VaeCf, x_b: tf.Tensor2D, noise?: Noise): { q: VaeCfPosterior; z: tf.Tensor2D; yHat: tf.Tensor2D } {
  return tf.tidy(() => {
    const q = vaeCfEncode(model, x_b, noise);
    const logSigma = q.logSigma;
    const z: tf.Tensor2D = noise && logSigma ? tf.add<tf.Tensor2D>(q.mu, tf.mul(noise.eps(q.mu.shape), tf.exp(logSigma))) : q.mu;
    return { q, z, yHat: vaeCfDecode(model, z) } as unknown as tf.TensorContainer;
  }) as unknown as { q: VaeCfPosterior; z: tf.Tensor2D; yHat: tf.Tensor2D };
}

/** The negative beta-ELBO of a batch, in units of s (FS-VAE's objective with one latent). */
export function vaeCfLoss(model: VaeCf, x_b: tf.Tensor2D, y: tf.Tensor2D, options: ObjectiveOptions): Objective {
  return tf.tidy(() => {
    const { q, yHat } = vaeCfForward(model, x_b, options.noise);
    const s = model.config.embeddingScale;
    const { reconstruction: kind, variance } = model.config.loss;
    const [yS, yHatS] = s === 1 ? [y, yHat] : [tf.div<tf.Tensor2D>(y, s), tf.div<tf.Tensor2D>(yHat, s)];
    const reconstruction = reconstructionLoss(yS, yHatS, kind, { variance, logVariance: model.params.logVariance });
    if (!q.logSigma) {
      return { loss: reconstruction, reconstruction, kl: tf.scalar(0), klPerDim: tf.zeros([0]), yHat } as unknown as tf.TensorContainer;
    }
    const { kl, perDim } = klWithFreeBits(gaussianKl(q.mu, q.logSigma), options.freeBits);
    const loss = options.beta === 0 ? reconstruction : tf.add(reconstruction, tf.mul(options.beta, kl));
    return { loss, reconstruction, kl, klPerDim: perDim, yHat } as unknown as tf.TensorContainer;
  }) as unknown as Objective;
}

/** The user's state: mu and sigma of q(z | x_b) (sigma null when deterministic), and the prediction at z = mu when asked. */
export function vaeCfEmbed(
  model: VaeCf,
  x_b: tf.Tensor2D,
  predict = false,
): { mu: tf.Tensor2D; sigma: tf.Tensor2D | null; predicted?: tf.Tensor2D } {
  return tf.tidy(() => {
    const q = vaeCfEncode(model, x_b);
    const out = { mu: q.mu, sigma: q.logSigma ? tf.exp(q.logSigma) : null, ...(predict ? { predicted: vaeCfDecode(model, q.mu) } : {}) };
    return out as unknown as tf.TensorContainer;
  }) as unknown as { mu: tf.Tensor2D; sigma: tf.Tensor2D | null; predicted?: tf.Tensor2D };
}
