/**
 * JODIE (`type: jodie`) behind the model interface. The model itself is
 * ../jodie.ts; this file only adapts it: config from a spec, its artifact
 * format, the user state and the summary `rubato validate` prints.
 */
import * as tf from "@tensorflow/tfjs-core";
import { unpackArtifact } from "../artifact";
import { embeddingScaleOf } from "../compile";
import { createJodie, disposeJodie, jodieConfig, jodieForward, jodieLoss, staticWidth, type Jodie, type JodieConfig } from "../jodie";
import { denseParams, type LayerSummary, type ModelSummary } from "../summary";
import { deterministicModel } from "./deterministic";
import type { LearnedModule, Model } from "./types";

export const JODIE_FORMAT = "rubato-jodie/1";

/** The interface over one Jodie: deterministic, no KL term; its state mu = [û(t + Δ), ū]. */
export function wrapJodie(m: Jodie): Model {
  const c = m.config;
  return deterministicModel({
    type: "jodie",
    format: JODIE_FORMAT,
    config: c,
    variables: m.variables,
    inputs: { window: c.window, fastStep: c.stepDim, slowDim: c.slowDim, outputDim: c.embeddingDim },
    loss: (input, y) => jodieLoss(m, input, y),
    forward: (input) => {
      const { projected, static: stat, yHat } = jodieForward(m, input);
      return { state: stat ? tf.concat([projected, stat], 1) : projected, yHat };
    },
    dispose: () => disposeJodie(m),
  });
}

/** The layers of a JODIE graph, from its config alone. */
export function summarizeJodie(c: JodieConfig): ModelSummary {
  const ns = staticWidth(c);
  const layers: LayerSummary[] = [
    { name: "x_s", kind: "input", output: ["b", c.window, c.stepDim], params: 0, note: "fast features + mask [b, w]" },
    {
      name: "user_rnn",
      kind: "rnn",
      output: ["b", c.units],
      params: (c.stepDim + c.units) * c.units + c.units,
      note: "u_k = normalize(tanh([x_k, u_{k-1}] W_u + b_u)) from u_0 = 0",
    },
    { name: "x_n", kind: "input", output: ["b", c.slowDim], params: 0, note: "slow features; hours_since_last is Δ" },
    { name: "projection", kind: "projection", output: ["b", c.units], params: c.units, note: "û = (1 + Δ W_p) ∘ u" },
  ];
  if (ns)
    layers.push({
      name: "static",
      kind: "dense",
      output: ["b", ns],
      params: denseParams(c.staticColumns.length, ns),
      note: c.static_activation,
    });
  layers.push({
    name: "prediction",
    kind: "dense",
    output: ["b", c.embeddingDim],
    params: denseParams(c.units + ns + c.embeddingDim, c.embeddingDim),
    note: "linear over [û, ū, e_last]: predicted next-track embedding",
  });
  return {
    layers,
    params: layers.reduce((a, l) => a + l.params, 0),
    latent: c.units + ns,
    latentUnits: 0,
    objective: "mse (JODIE's L2; deterministic, no KL)",
  };
}

const configOf = (spec: Parameters<LearnedModule["create"]>[0], embeddingDim: number, catalogueRms?: number): JodieConfig =>
  jodieConfig(spec.features, spec.jodie, embeddingDim, embeddingScaleOf(spec, catalogueRms));

export const jodieModule: LearnedModule = {
  type: "jodie",
  learned: true,
  describe: "JODIE (Kumar et al., KDD 2019) as the FS-VAE paper adapted it: fixed track embeddings",
  latent: () => "deterministic",
  summary: (spec, embeddingDim) => summarizeJodie(configOf(spec, embeddingDim)),
  create: (spec, dims, seed = spec.training.seed) => wrapJodie(createJodie(configOf(spec, dims.embeddingDim, dims.catalogueRms), seed)),
  fromConfig: (config, seed) => wrapJodie(createJodie(config as JodieConfig, seed)),
  formats: [JODIE_FORMAT],
  load: (artifact) => wrapJodie(unpackArtifact(artifact, (config) => createJodie(config as JodieConfig, 0), disposeJodie)),
};
