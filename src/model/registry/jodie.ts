/**
 * JODIE (`type: jodie`) behind the model interface. The model itself is
 * ../jodie.ts; this file only adapts it: config from a spec, its artifact
 * format, the user state and the summary `rubato validate` prints.
 */
import * as tf from "@tensorflow/tfjs-core";
import { packArtifact, unpackArtifact } from "../artifact";
import { embeddingScaleOf } from "../compile";
import { createJodie, disposeJodie, jodieConfig, jodieForward, jodieLoss, staticWidth, type Jodie, type JodieConfig } from "../jodie";
import { denseParams, type LayerSummary, type ModelSummary } from "../summary";
import type { LearnedModule, Model, UserState } from "./types";

export const JODIE_FORMAT = "rubato-jodie/1";

/** The interface over one Jodie: deterministic, no KL term. */
export function wrapJodie(m: Jodie): Model {
  const c = m.config;
  return {
    type: "jodie",
    config: c,
    variables: m.variables,
    inputs: { window: c.window, fastStep: c.stepDim, slowDim: c.slowDim, outputDim: c.embeddingDim },
    schedule: { beta: 0, warmupSteps: 0, freeBits: 0 },
    probabilistic: false,
    latentUnits: 0,
    loss: (input, y) => jodieLoss(m, input, y),
    predict: (input) => tf.tidy(() => jodieForward(m, input).yHat),
    embed: (input, options) =>
      tf.tidy(() => {
        // The user's state at prediction time, mu = [û(t + Δ), ū], and from the same pass the prediction.
        const { projected, static: stat, yHat } = jodieForward(m, input);
        const state: UserState = { mu: stat ? tf.concat([projected, stat], 1) : projected, sigma: null, parts: {} };
        if (options?.predict) state.predicted = yHat;
        return state as unknown as tf.TensorContainer;
      }) as unknown as UserState,
    save: (extra) => packArtifact(JODIE_FORMAT, "jodie", c, m.variables, extra),
    dispose: () => disposeJodie(m),
  };
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
