/**
 * LatentCross (`type: latent-cross`) behind the model interface. The model
 * itself is ../latent-cross.ts; this file only adapts it: config from a spec,
 * its artifact format, the user state and the summary `rubato validate` prints.
 */
import { unpackArtifact } from "../artifact";
import { embeddingScaleOf } from "../compile";
import {
  contextOutWidth,
  createLatentCross,
  disposeLatentCross,
  latentCrossConfig,
  latentCrossForward,
  latentCrossLoss,
  type LatentCross,
  type LatentCrossConfig,
} from "../latent-cross";
import { denseParams, type LayerSummary, type ModelSummary } from "../summary";
import { deterministicModel } from "./deterministic";
import type { LearnedModule, Model } from "./types";

export const LATENT_CROSS_FORMAT = "rubato-latent-cross/1";

/** The interface over one LatentCross: deterministic, no KL term; its state mu = h̃, the crossed RNN output. */
export function wrapLatentCross(m: LatentCross): Model {
  const c = m.config;
  return deterministicModel({
    type: "latent-cross",
    format: LATENT_CROSS_FORMAT,
    config: c,
    variables: m.variables,
    // The dataset's x_n whenever the spec has slow features; the model reads only its hours_since_last.
    inputs: { window: c.window, fastStep: c.stepDim, slowDim: c.slowDim, outputDim: c.embeddingDim },
    loss: (input, y, options) => latentCrossLoss(m, input, y, { noise: options.noise }),
    forward: (input) => latentCrossForward(m, input),
    dispose: () => disposeLatentCross(m),
  });
}

/** The layers of a LatentCross graph, from its config alone. */
export function summarizeLatentCross(c: LatentCrossConfig): ModelSummary {
  const note = `${c.activation}${c.dropout > 0 ? `, dropout ${c.dropout}` : ""}`;
  const gates = c.cell === "lstm" ? 4 : 1;
  const ctx = c.contextColumns.length;
  const layers: LayerSummary[] = [
    { name: "x_s", kind: "input", output: ["b", c.window, c.stepDim], params: 0, note: "fast features + mask [b, w]" },
    {
      name: "context_in",
      kind: "latent cross",
      output: ["b", c.window, c.embeddingDim],
      params: ctx * c.embeddingDim,
      note: `(1 + ctx W_in) ∘ e / s over ${ctx} context columns`,
    },
  ];
  for (let l = 0; l < c.layers; l++) {
    const inDim = l === 0 ? c.embeddingDim : c.units;
    const last = l === c.layers - 1;
    layers.push({
      name: `${c.cell}${l}`,
      kind: c.cell,
      output: last ? ["b", c.units] : ["b", c.window, c.units],
      params: (inDim + c.units) * gates * c.units + gates * c.units,
      note: c.activation,
    });
  }
  layers.push({
    name: "context_out",
    kind: "latent cross",
    output: ["b", c.units],
    params: contextOutWidth(c) * c.units,
    note: `(1 + ctx_out W_out) ∘ h${c.deltaColumn === null ? "" : ", ctx_out with hours_since_last"}`,
  });
  for (let l = 0; l < c.head.layers; l++)
    layers.push({
      name: `head/dense${l}`,
      kind: "dense",
      output: ["b", c.head.units],
      params: denseParams(l === 0 ? c.units : c.head.units, c.head.units),
      note,
    });
  layers.push({
    name: "head/out",
    kind: "dense",
    output: ["b", c.embeddingDim],
    params: denseParams(c.head.layers ? c.head.units : c.units, c.embeddingDim),
    note: "linear: predicted next-track embedding",
  });
  return {
    layers,
    params: layers.reduce((a, l) => a + l.params, 0),
    latent: c.units,
    latentUnits: 0,
    objective: `${c.loss.reconstruction} (deterministic, no KL)`,
  };
}

const configOf = (spec: Parameters<LearnedModule["create"]>[0], embeddingDim: number, catalogueRms?: number): LatentCrossConfig =>
  latentCrossConfig(
    spec.features,
    spec.latent_cross,
    { reconstruction: spec.loss.reconstruction, variance: spec.loss.variance ?? 1 },
    embeddingDim,
    embeddingScaleOf(spec, catalogueRms),
  );

export const latentCrossModule: LearnedModule = {
  type: "latent-cross",
  learned: true,
  describe: "LatentCross (Beutel et al., WSDM 2018) as the FS-VAE paper adapted it: fixed track embeddings, an embedding head",
  latent: () => "deterministic",
  summary: (spec, embeddingDim) => summarizeLatentCross(configOf(spec, embeddingDim)),
  create: (spec, dims, seed = spec.training.seed) =>
    wrapLatentCross(createLatentCross(configOf(spec, dims.embeddingDim, dims.catalogueRms), seed)),
  fromConfig: (config, seed) => wrapLatentCross(createLatentCross(config as LatentCrossConfig, seed)),
  formats: [LATENT_CROSS_FORMAT],
  load: (artifact) =>
    wrapLatentCross(unpackArtifact(artifact, (config) => createLatentCross(config as LatentCrossConfig, 0), disposeLatentCross)),
};
