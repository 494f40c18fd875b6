/**
 * One forward pass for a batch of users: the user's state (mu, sigma and the
 * model's named parts: FS-VAE's fast and slow posteriors) and the predicted
 * next-track embedding at the state's mean, in one tidy and one read-back per output.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Model } from "../model/registry";

export interface BatchInput {
  n: number;
  /** [n, w, d_s] */
  fast: Float32Array;
  /** [n, w] */
  mask: Float32Array;
  /** [n, d_n] */
  slow: Float32Array;
  /** [n, D]: x_b, for a model that reads the bag of plays (inputs.bagDim). */
  bag?: Float32Array;
}

/** Row-major [n, width] outputs; null where the model has no such part. */
export interface BatchOutput {
  mu: Float32Array;
  sigma: Float32Array | null;
  fastMu: Float32Array | null;
  fastSigma: Float32Array | null;
  slowMu: Float32Array | null;
  slowSigma: Float32Array | null;
  /** The decoder's output at z = mu: the predicted next track's embedding. */
  predicted: Float32Array;
}

const PARTS = ["mu", "sigma", "fastMu", "fastSigma", "slowMu", "slowSigma", "predicted"] as const;

export function forwardBatch(model: Model, input: BatchInput): BatchOutput {
  const { window, fastStep, slowDim } = model.inputs;
  const { n } = input;
  const bagDim = model.inputs.bagDim ?? 0;
  if (bagDim && input.bag?.length !== n * bagDim) throw new Error(`this model reads the bag of plays: ${n} rows of ${bagDim} expected`);
  const tensors = tf.tidy(() => {
    const state = model.embed(
      {
        x_s: window ? tf.tensor3d(input.fast, [n, window, fastStep]) : undefined,
        mask: window ? tf.tensor2d(input.mask, [n, window]) : undefined,
        x_n: slowDim ? tf.tensor2d(input.slow, [n, slowDim]) : undefined,
        x_b: bagDim ? tf.tensor2d(input.bag!, [n, bagDim]) : undefined,
      },
      { predict: true },
    );
    const { fast, slow } = state.parts;
    const parts = [state.mu, state.sigma, fast?.mu ?? null, fast?.sigma ?? null, slow?.mu ?? null, slow?.sigma ?? null, state.predicted!];
    // tidy keeps only the tensors it is handed back: the present parts, by name.
    return Object.fromEntries(PARTS.flatMap((name, i) => (parts[i] ? [[name, parts[i]]] : []))) as Record<string, tf.Tensor>;
  });
  const out = Object.fromEntries(PARTS.map((name) => [name, tensors[name] ? (tensors[name].dataSync() as Float32Array) : null]));
  tf.dispose(Object.values(tensors));
  return out as unknown as BatchOutput;
}
