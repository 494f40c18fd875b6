/**
 * One forward pass for a batch of users: the posteriors of both branches,
 * the joined user embedding (as fsvae.embed computes it) and the decoded
 * next-track embedding at z = mu, in one tidy and one read-back per output.
 */
import * as tf from "@tensorflow/tfjs-core";
import { combine, decode, encodeFast, encodeSlow, type FsVae, type Posterior } from "../model/fsvae";

export interface BatchInput {
  n: number;
  /** [n, w, d_s] */
  fast: Float32Array;
  /** [n, w] */
  mask: Float32Array;
  /** [n, d_n] */
  slow: Float32Array;
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

export function forwardBatch(model: FsVae, input: BatchInput): BatchOutput {
  const { encoderS, encoderN, latent } = model.config;
  const { n } = input;
  const tensors = tf.tidy(() => {
    const q_s = encoderS
      ? encodeFast(model, tf.tensor3d(input.fast, [n, encoderS.window, encoderS.inputDim]), tf.tensor2d(input.mask, [n, encoderS.window]))
      : null;
    const q_n = encoderN ? encodeSlow(model, tf.tensor2d(input.slow, [n, encoderN.inputDim])) : null;
    const sigmaOf = (q: Posterior | null) => (q && q.logSigma ? tf.exp(q.logSigma) : null);
    const sigma_s = sigmaOf(q_s);
    const sigma_n = sigmaOf(q_n);
    // The joined posterior exactly as fsvae.embed: concat joins; sum adds means and variances.
    const mu = combine(q_s?.mu ?? null, q_n?.mu ?? null, latent.combine);
    const sigma = !latent.probabilistic
      ? null
      : latent.combine === "sum" && sigma_s && sigma_n
        ? tf.sqrt(tf.add(tf.square(sigma_s), tf.square(sigma_n)))
        : combine(sigma_s, sigma_n, latent.combine);
    const parts = [mu, sigma, q_s?.mu ?? null, sigma_s, q_n?.mu ?? null, sigma_n, decode(model, mu)];
    // tidy keeps only the tensors it is handed back: the present parts, by name.
    return Object.fromEntries(PARTS.flatMap((name, i) => (parts[i] ? [[name, parts[i]]] : []))) as Record<string, tf.Tensor>;
  });
  const out = Object.fromEntries(PARTS.map((name) => [name, tensors[name] ? (tensors[name].dataSync() as Float32Array) : null]));
  tf.dispose(Object.values(tensors));
  return out as unknown as BatchOutput;
}
