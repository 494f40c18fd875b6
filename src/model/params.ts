/**
 * The FS-VAE's configuration (what a spec compiles to) and its parameters:
 * plain tf.Variables with seeded Glorot-uniform init, each under a stable key
 * in a fixed order (the checkpoint and artifact layout). The computations
 * that use them are in fsvae.ts.
 */
import * as tf from "@tensorflow/tfjs-core";
import { createLstmParams, createRnnParams, type RecurrentParams } from "./lstm";
import { createDense, uniquePrefix, type DenseParams, type SpecActivation } from "./layers";
import type { ReconstructionKind } from "./loss";
import { streamSeed, STREAM } from "./random";

// ------------------------------------------------------------------ config

export interface DenseStackConfig {
  layers: number;
  units: number;
  activation: SpecActivation;
  dropout: number;
}

/** The graph a spec compiles to (src/model/compile.ts); widths are resolved. */
export interface FsVaeConfig {
  /** Sequential encoder over x_s; null when the fast branch is off. */
  encoderS:
    | (DenseStackConfig & {
        type: "lstm" | "rnn" | "mean";
        window: number;
        inputDim: number;
        /** Per column of a step of x_s, a factor applied before the encoder: 1 / embeddingScale on the track embedding's columns, 1 elsewhere (absent: no scaling). */
        inputScale?: number[];
        /** First column of the track embedding within a step (decoder.skip reads it; absent without a skip). */
        embeddingOffset?: number;
      })
    | null;
  /** Regular encoder over x_n; null when the slow branch is off. */
  encoderN: (DenseStackConfig & { inputDim: number }) | null;
  /** initialSigma: sigma of q(z | x) at initialisation (default 1; absent in older artifacts, whose weights are loaded anyway). */
  latent: { size: number; probabilistic: boolean; combine: "concat" | "sum"; initialSigma?: number };
  /** skip: the prediction adds sum_t a_t e_t over the window's track embeddings, a_t learned from 0 (absent in older artifacts: false). */
  decoder: DenseStackConfig & { outputDim: number; skip?: boolean };
  loss: { reconstruction: ReconstructionKind; variance: number; beta: number; freeBits: number; klWarmupSteps: number };
  /**
   * The unit of track embeddings inside the model (features.embedding_scale):
   * the decoder predicts y^ / s and the reconstruction is measured on y / s,
   * so beta and the learning rate mean the same whatever the catalogue's
   * scale. 1 (or absent, in older artifacts) leaves embeddings as they are.
   */
  embeddingScale?: number;
}

// ------------------------------------------------------------------ params

/** mu and log sigma of q(z | x); no log sigma when the latent is deterministic. */
export interface GaussianHeadParams {
  mu: DenseParams;
  logSigma: DenseParams | null;
}

export interface FsVaeParams {
  encoderS: { recurrent: RecurrentParams | null; dense: DenseParams[]; head: GaussianHeadParams } | null;
  encoderN: { dense: DenseParams[]; head: GaussianHeadParams } | null;
  /** skip: a [w], one weight per window position (oldest first). */
  decoder: { dense: DenseParams[]; out: DenseParams; logVariance: tf.Variable<tf.Rank.R1> | null; skip: tf.Variable<tf.Rank.R1> | null };
}

export interface FsVae {
  config: FsVaeConfig;
  params: FsVaeParams;
  /** Every variable under a stable key (e.g. "encoder_s/lstm/layer0/kernel"), in a fixed order: the checkpoint layout. */
  variables: { key: string; variable: tf.Variable }[];
}

/** Width of z: 2K for concat with both branches, else K. */
export function latentWidth(config: FsVaeConfig): number {
  const branches = Number(config.encoderS != null) + Number(config.encoderN != null);
  return config.latent.combine === "concat" ? config.latent.size * branches : config.latent.size;
}

/** Builds the parameters with seeded Glorot-uniform kernels (zero biases; LSTM forget-gate bias 1). */
export function createFsVae(config: FsVaeConfig, seed: number): FsVae {
  // tf.variable(initial) keeps `initial` alive as a separate tensor; the tidy releases those, never the variables.
  let model!: FsVae;
  tf.tidy(() => {
    model = buildFsVae(config, seed);
  });
  return model;
}

function buildFsVae(config: FsVaeConfig, seed: number): FsVae {
  const prefix = uniquePrefix("fsvae");
  const variables: FsVae["variables"] = [];
  let layer = 0;
  const denseLayer = (inputDim: number, units: number, key: string): DenseParams => {
    const p = createDense(inputDim, units, streamSeed(seed, STREAM.init, layer++), `${prefix}/${key}`);
    variables.push({ key: `${key}/kernel`, variable: p.kernel }, { key: `${key}/bias`, variable: p.bias });
    return p;
  };
  const denseStack = (inputDim: number, c: DenseStackConfig, key: string): DenseParams[] =>
    Array.from({ length: c.layers }, (_, l) => denseLayer(l === 0 ? inputDim : c.units, c.units, `${key}/dense${l}`));
  // log sigma = W h + b starts near b: the bias sets the posterior's initial width.
  const logSigmaLayer = (inputDim: number, key: string): DenseParams => {
    const p = denseLayer(inputDim, config.latent.size, `${key}/log_sigma`);
    const initialSigma = config.latent.initialSigma ?? 1;
    if (initialSigma !== 1) tf.tidy(() => p.bias.assign(tf.fill([config.latent.size], Math.log(initialSigma))));
    return p;
  };
  const head = (inputDim: number, key: string): GaussianHeadParams => ({
    mu: denseLayer(inputDim, config.latent.size, `${key}/mu`),
    logSigma: config.latent.probabilistic ? logSigmaLayer(inputDim, key) : null,
  });

  let encoderS: FsVaeParams["encoderS"] = null;
  const s = config.encoderS;
  if (s) {
    if (s.type === "mean") {
      const stack = denseStack(s.inputDim, s, "encoder_s");
      encoderS = { recurrent: null, dense: stack, head: head(s.units, "encoder_s") };
    } else {
      const create = s.type === "lstm" ? createLstmParams : createRnnParams;
      const recurrent = create(s.inputDim, s.units, s.layers, streamSeed(seed, STREAM.init, layer++), {
        name: `${prefix}/encoder_s/${s.type}`,
      });
      recurrent.layers.forEach((l, i) => {
        variables.push(
          { key: `encoder_s/${s.type}/layer${i}/kernel`, variable: l.kernel },
          { key: `encoder_s/${s.type}/layer${i}/bias`, variable: l.bias },
        );
      });
      encoderS = { recurrent, dense: [], head: head(s.units, "encoder_s") };
    }
  }
  const n = config.encoderN;
  const encoderN = n ? { dense: denseStack(n.inputDim, n, "encoder_n"), head: head(n.units, "encoder_n") } : null;

  const d = config.decoder;
  const hidden = denseStack(latentWidth(config), d, "decoder");
  const out = denseLayer(d.layers > 0 ? d.units : latentWidth(config), d.outputDim, "decoder/out");
  let logVariance: tf.Variable<tf.Rank.R1> | null = null;
  if (config.loss.reconstruction === "gaussian_learned") {
    logVariance = tf.variable(tf.zeros([d.outputDim]), true, `${prefix}/decoder/log_variance`);
    variables.push({ key: "decoder/log_variance", variable: logVariance });
  }
  let skip: tf.Variable<tf.Rank.R1> | null = null;
  if (d.skip) {
    if (!s) throw new Error("decoder.skip needs the fast branch: it reads the window's track embeddings");
    skip = tf.variable(tf.zeros([s.window]), true, `${prefix}/decoder/skip`);
    variables.push({ key: "decoder/skip", variable: skip });
  }
  return { config, params: { encoderS, encoderN, decoder: { dense: hidden, out, logVariance, skip } }, variables };
}

export function disposeFsVae(model: Pick<FsVae, "variables">): void {
  for (const { variable } of model.variables) variable.dispose();
}

export function parameterCount(model: FsVae): number {
  return model.variables.reduce((n, { variable }) => n + variable.size, 0);
}
