import { DAYPARTS, perPlayWidth } from "./vocabulary";
import type { ModelSpec } from "./schema";

/** Tensor widths a learned spec implies; 0 for a disabled branch. */
export interface SpecDimensions {
  /** Width of one step of the fast sequence. */
  fastStep: number;
  /** Width of the slow feature vector. */
  slow: number;
  /** Width of the joined latent z the decoder reads: 2K for concat with both branches, else K. */
  latent: number;
  /** Width of the decoder's output: the next track's embedding. */
  output: number;
}

export function specDimensions(spec: ModelSpec, embeddingDim: number): SpecDimensions {
  const { fast, slow } = spec.features;
  const fastStep = fast.enabled ? fast.per_play.reduce((n, s) => n + perPlayWidth(s, embeddingDim), 0) : 0;
  const slowWidth = slow.enabled ? slow.aggregates.length + (slow.daypart_shares ? DAYPARTS.length : 0) : 0;
  const branches = Number(fast.enabled) + Number(slow.enabled);
  const latent = spec.latent.combine === "concat" ? spec.latent.size * branches : spec.latent.size;
  return { fastStep, slow: slowWidth, latent, output: embeddingDim };
}
