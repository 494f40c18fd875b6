/**
 * From a resolved spec to an FS-VAE graph: the widths follow from the spec
 * and the catalogue's embedding dimension (specDimensions), the parameters
 * from the seed.
 */
import type { ModelSpec } from "../spec/schema";
import { specDimensions } from "../spec/dimensions";
import { perPlayWidth } from "../spec/vocabulary";
import { createFsVae, type FsVae, type FsVaeConfig } from "./fsvae";

/**
 * The graph of an fs-vae spec (the registry, src/model/registry, calls it for
 * that type); throws for another type. catalogueRms: the catalogue's
 * root-mean-square coordinate (catalogueRms in src/features), the unit of
 * embeddings with features.embedding_scale: rms.
 */
export function fsVaeConfig(spec: ModelSpec, embeddingDim: number, catalogueRms = 1): FsVaeConfig {
  if (spec.type !== "fs-vae") throw new Error(`spec "${spec.name}" is a ${spec.type} baseline: it has no graph to compile`);
  if (!(Number.isInteger(embeddingDim) && embeddingDim > 0))
    throw new Error(`embedding dimension must be a positive integer, got ${embeddingDim}`);
  const dims = specDimensions(spec, embeddingDim);
  const { fast, slow } = spec.encoders;
  const scale = embeddingScaleOf(spec, catalogueRms);
  return {
    encoderS: spec.features.fast.enabled
      ? {
          type: fast.type,
          window: spec.features.fast.window,
          inputDim: dims.fastStep,
          layers: fast.layers,
          units: fast.units,
          activation: fast.activation,
          dropout: fast.dropout,
          ...(scale !== 1 ? { inputScale: stepScale(spec, embeddingDim, scale) } : {}),
          ...(spec.decoder.skip ? { embeddingOffset: embeddingOffset(spec, embeddingDim) } : {}),
        }
      : null,
    encoderN: spec.features.slow.enabled
      ? { inputDim: dims.slow, layers: slow.layers, units: slow.units, activation: slow.activation, dropout: slow.dropout }
      : null,
    latent: {
      size: spec.latent.size,
      probabilistic: spec.latent.probabilistic,
      combine: spec.latent.combine,
      initialSigma: spec.latent.initial_sigma,
    },
    decoder: {
      layers: spec.decoder.layers,
      units: spec.decoder.units,
      activation: spec.decoder.activation,
      dropout: spec.decoder.dropout,
      outputDim: dims.output,
      ...(spec.decoder.skip ? { skip: true } : {}),
    },
    loss: {
      reconstruction: spec.loss.reconstruction,
      variance: spec.loss.variance ?? 1,
      beta: spec.latent.probabilistic ? spec.loss.beta : 0,
      freeBits: spec.latent.probabilistic ? spec.latent.free_bits : 0,
      klWarmupSteps: spec.latent.probabilistic ? spec.latent.kl_warmup_steps : 0,
    },
    ...(scale !== 1 ? { embeddingScale: scale } : {}),
  };
}

/**
 * s, the unit of track embeddings inside a learned model: the catalogue's RMS
 * coordinate with features.embedding_scale: rms (when it is a positive
 * number), else 1. Every learned type reads it from here.
 */
export function embeddingScaleOf(spec: ModelSpec, catalogueRms = 1): number {
  return spec.features.embedding_scale === "rms" && catalogueRms > 0 && Number.isFinite(catalogueRms) ? catalogueRms : 1;
}

/** First column of the track embedding within a fast step. */
function embeddingOffset(spec: ModelSpec, embeddingDim: number): number {
  const { per_play } = spec.features.fast;
  return per_play.slice(0, per_play.indexOf("track_embedding")).reduce((n, signal) => n + perPlayWidth(signal, embeddingDim), 0);
}

/** Per column of a fast step: 1 / scale on the track embedding's columns, 1 on the other signals. */
function stepScale(spec: ModelSpec, embeddingDim: number, scale: number): number[] {
  return spec.features.fast.per_play.flatMap((signal) =>
    new Array<number>(perPlayWidth(signal, embeddingDim)).fill(signal === "track_embedding" ? 1 / scale : 1),
  );
}

/** Compiles a learned spec into an FS-VAE with fresh parameters (seed: training.seed unless given). */
export function compileSpec(spec: ModelSpec, embeddingDim: number, seed = spec.training.seed, catalogueRms = 1): FsVae {
  return createFsVae(fsVaeConfig(spec, embeddingDim, catalogueRms), seed);
}
