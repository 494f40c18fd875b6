/**
 * One forward pass for a batch of users: the posteriors of both branches,
 * the joined user embedding (fsvae.jointPosterior, as embed) and the decoded
 * next-track embedding at z = mu, in one tidy and one read-back per output.
 */
import * as tf from "@tensorflow/tfjs-core";
import { decode, encodeFast, encodeSlow, jointPosterior, type FsVae } from "../model/fsvae";

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
  const { encoderS, encoderN } = model.config;
  const { n } = input;
  const tensors = tf.tidy(() => {
    const x_s = encoderS ? tf.tensor3d(input.fast, [n, encoderS.window, encoderS.inputDim]) : undefined;
    const q_s = x_s ? encodeFast(model, x_s, tf.tensor2d(input.mask, [n, encoderS!.window])) : null;
    const q_n = encoderN ? encodeSlow(model, tf.tensor2d(input.slow, [n, encoderN.inputDim])) : null;
    const { mu, sigma, sigma_s, sigma_n } = jointPosterior(model, q_s, q_n);
    const parts = [mu, sigma, q_s?.mu ?? null, sigma_s, q_n?.mu ?? null, sigma_n, decode(model, mu, x_s)];
    // tidy keeps only the tensors it is handed back: the present parts, by name.
    return Object.fromEntries(PARTS.flatMap((name, i) => (parts[i] ? [[name, parts[i]]] : []))) as Record<string, tf.Tensor>;
  });
  const out = Object.fromEntries(PARTS.map((name) => [name, tensors[name] ? (tensors[name].dataSync() as Float32Array) : null]));
  tf.dispose(Object.values(tensors));
  return out as unknown as BatchOutput;
}
