/**
 * Building blocks of the FS-VAE graph: dense layers as plain tf.Variables
 * (seeded Glorot init), activations by their spec names, and the training
 * noise (eps and dropout masks) drawn from a seed.
 */
import * as tf from "@tensorflow/tfjs-core";
import { dropoutMask, glorotUniform, normals, streamSeed, STREAM } from "./random";

/** Activation names as the spec writes them. */
export type SpecActivation = "leaky_relu" | "relu" | "elu" | "tanh" | "sigmoid" | "linear";

/** Slope of LeakyReLU for negative inputs (tfjs' default). */
export const LEAKY_RELU_ALPHA = 0.2;

export function activation<T extends tf.Tensor>(x: T, name: SpecActivation): T {
  switch (name) {
    case "leaky_relu":
      return tf.leakyRelu(x, LEAKY_RELU_ALPHA);
    case "relu":
      return tf.relu(x);
    case "elu":
      return tf.elu(x);
    case "tanh":
      return tf.tanh(x);
    case "sigmoid":
      return tf.sigmoid(x);
    case "linear":
      return x;
  }
}

/** y = x W + b. */
export interface DenseParams {
  kernel: tf.Variable<tf.Rank.R2>;
  bias: tf.Variable<tf.Rank.R1>;
}

/** A dense layer with a Glorot-uniform kernel drawn from `seed` and a zero bias. */
export function createDense(inputDim: number, units: number, seed: number, name: string): DenseParams {
  return {
    kernel: tf.variable(tf.tensor2d(glorotUniform(inputDim, units, seed), [inputDim, units]), true, `${name}/kernel`),
    bias: tf.variable(tf.zeros([units]), true, `${name}/bias`),
  };
}

export function dense(x: tf.Tensor2D, p: DenseParams): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: p.kernel, bias: p.bias }) as tf.Tensor2D;
}

/**
 * Randomness of one training step: eps for the reparameterisation and
 * dropout masks. Each request draws from its own stream (seed, step, n-th
 * request), so a step's noise depends only on the seed and the step number.
 */
export interface Noise {
  /** eps ~ N(0, I) of the given shape. */
  eps(shape: [number, number]): tf.Tensor2D;
  /** x with inverted dropout at `rate` (x itself when rate is 0); the mask is `maskShape` (default x's shape), broadcast. */
  dropout<T extends tf.Tensor>(x: T, rate: number, maskShape?: number[]): T;
}

/**
 * The noise of step `step`. Data-parallel training gives each shard of the
 * batch its own streams (`shard` 1, 2, ...); shard 0, like one thread, draws
 * exactly what a single-threaded step does.
 */
export function seededNoise(seed: number, step: number, shard = 0): Noise {
  let epsCalls = 0;
  let dropoutCalls = 0;
  const streams = (kind: number, call: number) => (shard ? [kind, step, call, shard] : [kind, step, call]);
  return {
    eps(shape) {
      return tf.tensor2d(normals(shape[0] * shape[1], streamSeed(seed, ...streams(STREAM.eps, epsCalls++))), shape);
    },
    dropout(x, rate, maskShape = x.shape) {
      if (rate <= 0) return x;
      const n = maskShape.reduce((a, b) => a * b, 1);
      const mask = tf.tensor(dropoutMask(n, rate, streamSeed(seed, ...streams(STREAM.dropout, dropoutCalls++))), maskShape);
      return tf.mul(x, mask);
    },
  };
}

let instances = 0;

/** A process-unique variable name prefix (tfjs refuses two variables of the same name). */
export function uniquePrefix(base: string): string {
  return `${base}#${++instances}`;
}
