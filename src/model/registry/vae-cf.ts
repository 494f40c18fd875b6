/**
 * VAE-CF (Mult-VAE, Liang et al., WWW 2018; `type: vae-cf` specs) behind the
 * model interface. The model itself is ../vae-cf.ts; this file only adapts it:
 * its one input is x_b, the bag of plays (InputShape.bagDim), and it stores
 * itself as "rubato-vae-cf/1" in artifact.ts's layout.
 */
import * as tf from "@tensorflow/tfjs-core";
import { packArtifact, unpackArtifact } from "../artifact";
import type { ModelSpec } from "../../spec/schema";
import type { ModelSummary } from "../summary";
import {
  createVaeCf,
  disposeVaeCf,
  vaeCfConfig,
  vaeCfEmbed,
  vaeCfForward,
  vaeCfLoss,
  vaeCfParameterCount,
  type VaeCf,
  type VaeCfConfig,
} from "../vae-cf";
import type { LearnedModule, Model, ModelInput, UserState } from "./types";

export const VAE_CF_FORMAT = "rubato-vae-cf/1";

function bag(input: ModelInput): tf.Tensor2D {
  if (!input.x_b) throw new Error("VAE-CF input x_b (the bag of plays) is missing");
  return input.x_b;
}

/** The interface over one VaeCf. */
export function wrapVaeCf(m: VaeCf): Model {
  const c = m.config;
  return {
    type: "vae-cf",
    config: c,
    variables: m.variables,
    inputs: { window: 0, fastStep: 0, slowDim: 0, bagDim: c.embeddingDim, outputDim: c.embeddingDim },
    schedule: { beta: c.loss.beta, warmupSteps: c.loss.klWarmupSteps, freeBits: c.loss.freeBits },
    probabilistic: c.latent.probabilistic,
    latentUnits: c.latent.probabilistic ? c.latent.size : 0,
    loss: (input, y, options) => vaeCfLoss(m, bag(input), y, options),
    predict: (input) => tf.tidy(() => vaeCfForward(m, bag(input)).yHat),
    embed: (input, options) => {
      const { mu, sigma, predicted } = vaeCfEmbed(m, bag(input), options?.predict ?? false);
      const state: UserState = { mu, sigma, parts: {}, ...(predicted ? { predicted } : {}) };
      return state;
    },
    save: (extra) => packArtifact(VAE_CF_FORMAT, "vae-cf", c, m.variables, extra),
    dispose: () => disposeVaeCf(m),
  };
}

/** The graph as rows (rubato validate, the report), from the config alone. */
export function summarizeVaeCf(c: VaeCfConfig): ModelSummary {
  const d = (i: number, o: number) => i * o + o;
  const K = c.latent.size;
  const D = c.embeddingDim;
  const layers: ModelSummary["layers"] = [
    {
      name: "x_b",
      kind: "input",
      output: ["b", D],
      params: 0,
      note: `mean embedding of the plays up to t${c.inputDropout > 0 ? `, dropout ${c.inputDropout}` : ""}`,
    },
  ];
  for (let l = 0; l < c.layers; l++)
    layers.push({
      name: `encoder/dense${l}`,
      kind: "dense",
      output: ["b", c.units],
      params: d(l === 0 ? D : c.units, c.units),
      note: c.activation,
    });
  layers.push({ name: "encoder/mu", kind: "dense", output: ["b", K], params: d(c.units, K), note: "linear" });
  if (c.latent.probabilistic) {
    layers.push({ name: "encoder/log_sigma", kind: "dense", output: ["b", K], params: d(c.units, K), note: "linear" });
    layers.push({ name: "z", kind: "reparameterise", output: ["b", K], params: 0, note: "mu + eps * sigma (mu at inference)" });
  } else layers.push({ name: "z", kind: "identity", output: ["b", K], params: 0, note: "deterministic: z = mu (Mult-DAE)" });
  for (let l = 0; l < c.layers; l++)
    layers.push({
      name: `decoder/dense${l}`,
      kind: "dense",
      output: ["b", c.units],
      params: d(l === 0 ? K : c.units, c.units),
      note: c.activation,
    });
  layers.push({
    name: "decoder/out",
    kind: "dense",
    output: ["b", D],
    params: d(c.units, D) + (c.loss.reconstruction === "gaussian_learned" ? D : 0),
    note: c.embeddingScale === 1 ? "linear: the next track's embedding" : "linear, times s: the next track's embedding",
  });
  const params = vaeCfParameterCount(c);
  return {
    layers,
    params,
    latent: K,
    latentUnits: c.latent.probabilistic ? K : 0,
    objective: c.latent.probabilistic
      ? `${c.loss.reconstruction} + beta * KL (beta = ${c.loss.beta})`
      : `${c.loss.reconstruction} (deterministic)`,
  };
}

export const vaeCfModule: LearnedModule = {
  type: "vae-cf",
  learned: true,
  readsBag: true,
  describe: "VAE-CF (Mult-VAE, Liang et al., WWW 2018) over the user's bag of plays",
  latent: (spec: ModelSpec) => (spec.latent.probabilistic ? "probabilistic" : "deterministic"),
  summary: (spec, embeddingDim) => summarizeVaeCf(vaeCfConfig(spec, embeddingDim)),
  create: (spec, dims, seed = spec.training.seed) => wrapVaeCf(createVaeCf(vaeCfConfig(spec, dims.embeddingDim, dims.catalogueRms), seed)),
  fromConfig: (config, seed) => wrapVaeCf(createVaeCf(config as VaeCfConfig, seed)),
  formats: [VAE_CF_FORMAT],
  load: (artifact) => wrapVaeCf(unpackArtifact(artifact, (config) => createVaeCf(config as VaeCfConfig, 0), disposeVaeCf)),
};
