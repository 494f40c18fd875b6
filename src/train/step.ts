/**
 * One optimizer step on a model's training loss (FS-VAE: the negative
 * beta-ELBO) of a batch: the unit the training loop, the benchmark and the
 * tests share.
 */
import * as tf from "@tensorflow/tfjs-core";
import { asModel, type FsVaeOrModel, type ModelInput } from "../model/registry";
import { seededNoise } from "../model/layers";
import { betaAt } from "../model/loss";
import type { Optimizer } from "./optimizers";

export interface StepStats {
  loss: number;
  reconstruction: number;
  /** Penalised KL (free bits applied). */
  kl: number;
  beta: number;
  /** Batch-mean KL per latent unit. */
  klPerDim: Float32Array;
}

/**
 * Gradients of reconstruction + beta_t * KL for optimizer step `step`
 * (0-based: beta_t, eps and dropout depend on it and the seed), then one
 * update. Leaves no tensor behind.
 */
export function trainStep(
  model: FsVaeOrModel,
  optimizer: Optimizer,
  input: ModelInput,
  y: tf.Tensor2D,
  step: number,
  seed: number,
): StepStats {
  // One thread is the data-parallel step with a single shard: shard 0 draws the noise of (seed, step).
  const { grads, reconstruction, kl, klPerDim } = shardGradients(model, input, y, step, seed, 0);
  optimizer.apply(grads);
  const { beta: fullBeta, warmupSteps } = asModel(model).schedule;
  const beta = betaAt(step, fullBeta, warmupSteps);
  return { loss: reconstruction + beta * kl, reconstruction, kl, beta, klPerDim };
}

/** One shard's part of a data-parallel step: its gradients, read out, and its statistics. */
export interface ShardGradients {
  /** Per trainable variable, in model.variables order: d loss / d theta over this shard's rows. */
  grads: Float32Array[];
  reconstruction: number;
  kl: number;
  klPerDim: Float32Array;
}

/**
 * The gradients of the negative beta-ELBO over one shard of step `step`'s batch, with the
 * shard's own noise streams; no update. The shards' gradients, weighted by their share of
 * the batch, sum to the batch's (free bits are applied to each shard's mean KL).
 */
export function shardGradients(
  model: FsVaeOrModel,
  input: ModelInput,
  y: tf.Tensor2D,
  step: number,
  seed: number,
  shard: number,
): ShardGradients {
  const m = asModel(model);
  const { beta: fullBeta, freeBits, warmupSteps } = m.schedule;
  const beta = betaAt(step, fullBeta, warmupSteps);
  const noise = seededNoise(seed, step, shard);
  const trainable = m.variables.map((v) => v.variable);
  const { grads, aux } = tf.tidy(() => {
    let kept: tf.Tensor | null = null;
    const { grads } = tf.variableGrads(() => {
      const o = m.loss(input, y, { beta, freeBits, noise });
      kept = tf.keep(tf.concat([tf.stack([o.reconstruction, o.kl]), o.klPerDim]));
      return o.loss;
    }, trainable);
    return { grads: trainable.map((v) => grads[v.name]), aux: kept! };
  });
  const values = grads.map((g) => g.dataSync() as Float32Array);
  const stats = aux.dataSync() as Float32Array;
  tf.dispose([...grads, aux]);
  return { grads: values, reconstruction: stats[0], kl: stats[1], klPerDim: stats.slice(2) };
}
