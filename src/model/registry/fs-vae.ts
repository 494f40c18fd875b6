/**
 * FS-VAE and its ablations (no-fast, no-slow, non-probabilistic, vanilla-rnn,
 * aggregate-sequence, shuffle: all `type: fs-vae` specs) behind the model
 * interface. The model itself is ../fsvae.ts; this file only adapts it.
 */
import * as tf from "@tensorflow/tfjs-core";
import { loadModel, saveModel, type ModelArtifactData } from "../artifact";
import { fsVaeConfig } from "../compile";
import {
  betaElbo,
  createFsVae,
  decode,
  disposeFsVae,
  encodeFast,
  encodeSlow,
  forward,
  jointPosterior,
  type FsVae,
  type FsVaeConfig,
} from "../fsvae";
import { summarizeSpec } from "../summary";
import type { LearnedModule, Model, ModelInput, UserState } from "./types";

/** Latent units with a KL term: K per branch. */
function latentUnits(config: FsVaeConfig): number {
  if (!config.latent.probabilistic) return 0;
  return config.latent.size * (Number(config.encoderS != null) + Number(config.encoderN != null));
}

function need<T>(x: T | undefined, name: string): T {
  if (x === undefined) throw new Error(`FS-VAE input ${name} is missing`);
  return x;
}

/** The interface over one FsVae. */
export function wrapFsVae(m: FsVae): Model {
  const c = m.config;
  return {
    type: "fs-vae",
    config: c,
    variables: m.variables,
    inputs: {
      window: c.encoderS?.window ?? 0,
      fastStep: c.encoderS?.inputDim ?? 0,
      slowDim: c.encoderN?.inputDim ?? 0,
      bagDim: 0,
      outputDim: c.decoder.outputDim,
    },
    schedule: { beta: c.loss.beta, warmupSteps: c.loss.klWarmupSteps, freeBits: c.loss.freeBits },
    probabilistic: c.latent.probabilistic,
    latentUnits: latentUnits(c),
    loss: (input, y, options) => betaElbo(m, input, y, options),
    predict: (input) => tf.tidy(() => forward(m, input).yHat),
    embed: (input, options) => embedFsVae(m, input, options?.predict ?? false),
    save: (extra) => saveModel(m, extra),
    dispose: () => disposeFsVae(m),
  };
}

/** Both posteriors, their join (fsvae.jointPosterior) and, when asked, the decoder's output at z = mu: one pass. */
function embedFsVae(m: FsVae, input: ModelInput, predict: boolean): UserState {
  return tf.tidy(() => {
    const q_s = m.params.encoderS ? encodeFast(m, need(input.x_s, "x_s"), input.mask) : null;
    const q_n = m.params.encoderN ? encodeSlow(m, need(input.x_n, "x_n")) : null;
    const { mu, sigma, sigma_s, sigma_n } = jointPosterior(m, q_s, q_n);
    const parts: UserState["parts"] = {};
    if (q_s) parts.fast = { mu: q_s.mu, sigma: sigma_s };
    if (q_n) parts.slow = { mu: q_n.mu, sigma: sigma_n };
    const state: UserState = { mu, sigma, parts, ...(predict ? { predicted: decode(m, mu, input.x_s) } : {}) };
    return state as unknown as tf.TensorContainer;
  }) as unknown as UserState;
}

export const fsVaeModule: LearnedModule = {
  type: "fs-vae",
  learned: true,
  describe: "FS-VAE (Fazelnia et al., WSDM 2022) and its ablations",
  latent: (spec) => (spec.latent.probabilistic ? "probabilistic" : "deterministic"),
  summary: (spec, embeddingDim) => summarizeSpec(spec, embeddingDim),
  create: (spec, dims, seed = spec.training.seed) =>
    wrapFsVae(createFsVae(fsVaeConfig(spec, dims.embeddingDim, dims.catalogueRms), seed)),
  fromConfig: (config, seed) => wrapFsVae(createFsVae(config as FsVaeConfig, seed)),
  formats: ["rubato-fsvae/1"],
  load: (artifact) => wrapFsVae(loadModel(artifact as ModelArtifactData)),
};
