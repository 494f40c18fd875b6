/**
 * The terms of the FS-VAE objective (docs/model.md):
 *
 *   reconstruction   mse:              sum_d (y_d - y^_d)^2
 *                    l2:               ||y - y^||, the paper's L2 metric itself (smoothed at 0 by 1e-3)
 *                    gaussian_fixed:   sum_d [ (y_d - y^_d)^2 / (2 v) + log(2 pi v) / 2 ]
 *                    gaussian_learned: sum_d [ (y_d - y^_d)^2 / (2 v_d) + log(2 pi v_d) / 2 ],  log v_d learned
 *                    each averaged over the batch;
 *   KL               KL(N(mu, sigma^2) || N(0, 1)) = (mu^2 + sigma^2 - 1) / 2 - log sigma, per dimension;
 *   free bits        sum_j max(mean_batch KL_j, lambda): no pressure on a unit below lambda nats;
 *   warm-up          beta_t = beta * min(1, t / T) for optimizer step t (0-based) and T warm-up steps.
 */
import * as tf from "@tensorflow/tfjs-core";

export type ReconstructionKind = "mse" | "l2" | "gaussian_fixed" | "gaussian_learned";

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);
const L2_EPSILON = 1e-3;

export interface ReconstructionOptions {
  /** gaussian_fixed: the variance v (default 1). */
  variance?: number;
  /** gaussian_learned: log v_d, one per output dimension. */
  logVariance?: tf.Tensor1D | null;
}

/** Reconstruction term of y^ against y [batch, dim], averaged over the batch. */
export function reconstructionLoss(
  y: tf.Tensor2D,
  yHat: tf.Tensor2D,
  kind: ReconstructionKind,
  options: ReconstructionOptions = {},
): tf.Scalar {
  return tf.tidy(() => {
    const [batch, dim] = y.shape;
    const sq = tf.squaredDifference(y, yHat);
    switch (kind) {
      case "mse":
        return tf.div(tf.sum(sq), batch);
      case "l2":
        // sqrt(||y - y^||^2 + eps^2): smooth at 0, where sqrt has no gradient.
        return tf.mean(tf.sqrt(tf.add(tf.sum(sq, 1), L2_EPSILON ** 2)));
      case "gaussian_fixed": {
        const v = options.variance ?? 1;
        return tf.add(tf.div(tf.sum(sq), 2 * v * batch), dim * (HALF_LOG_2PI + 0.5 * Math.log(v)));
      }
      case "gaussian_learned": {
        const logV = options.logVariance;
        if (!logV) throw new Error("gaussian_learned reconstruction needs the learned log-variance");
        // sum_d [ sum_b sq_bd / (2 v_d) ] / batch + sum_d log(v_d) / 2 + dim log(2 pi) / 2
        const perDim = tf.sum(sq, 0);
        const weighted = tf.div(tf.sum(tf.mul(perDim, tf.exp(tf.neg(logV)))), 2 * batch);
        return tf.add(tf.add(weighted, tf.mul(tf.sum(logV), 0.5)), dim * HALF_LOG_2PI);
      }
    }
  });
}

/** KL(N(mu, sigma^2) || N(0, 1)) per example and dimension, [batch, K]; sigma = exp(logSigma). */
export function gaussianKl(mu: tf.Tensor2D, logSigma: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.sub(tf.mul(tf.sub(tf.add(tf.square(mu), tf.exp(tf.mul(logSigma, 2))), 1), 0.5), logSigma));
}

export interface KlTerm {
  /** The penalised KL: sum_j max(mean_batch KL_j, freeBits). */
  kl: tf.Scalar;
  /** Batch-mean KL per dimension (without the floor), [K]: the collapse diagnostic. */
  perDim: tf.Tensor1D;
}

/** Batch-mean KL per unit, floored at `freeBits` nats per unit, summed over units. */
export function klWithFreeBits(klPerExample: tf.Tensor2D, freeBits: number): KlTerm {
  return tf.tidy(() => {
    const perDim = tf.mean(klPerExample, 0) as tf.Tensor1D;
    const kl = tf.sum(freeBits > 0 ? tf.maximum(perDim, freeBits) : perDim) as tf.Scalar;
    return { kl, perDim } as unknown as tf.TensorContainer;
  }) as unknown as KlTerm;
}

/** beta at optimizer step t (0-based): linear from 0 over `warmupSteps`, then `beta`. */
export function betaAt(step: number, beta: number, warmupSteps: number): number {
  if (warmupSteps <= 0) return beta;
  return beta * Math.min(1, step / warmupSteps);
}

/** A unit is active when its mean KL over a data set exceeds this (nats). */
export const ACTIVE_UNIT_THRESHOLD = 0.01;

/** Units whose mean KL exceeds the threshold. */
export function activeUnits(meanKlPerDim: ArrayLike<number>, threshold = ACTIVE_UNIT_THRESHOLD): number {
  let n = 0;
  for (let j = 0; j < meanKlPerDim.length; j++) if (meanKlPerDim[j] > threshold) n++;
  return n;
}

/** A warning when fewer than a tenth of the latent units are active (posterior collapse), else null. */
export function collapseWarning(active: number, total: number): string | null {
  if (total === 0 || active >= total / 10) return null;
  return (
    `posterior collapse: only ${active} of ${total} latent units are active (mean KL > ${ACTIVE_UNIT_THRESHOLD} nats); ` +
    `try a smaller loss.beta, latent.kl_warmup_steps or latent.free_bits`
  );
}
