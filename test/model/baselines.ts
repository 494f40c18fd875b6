/** Test helpers for the JODIE and LatentCross modules: a feature spec with the time signals, synthetic batches, Adam steps. */
import * as tf from "@tensorflow/tfjs-core";
import type { FsVaeInput, Objective } from "../../src/model/fsvae";
import { initBackend } from "../../src/model/backend";
import { normals } from "../../src/model/random";
import { Optimizer, type NamedVariable } from "../../src/train/optimizers";
import { specWith } from "../features/world";

export const D = 8;
export const W = 4;

/** Steps: [track_embedding (D), time_since_last, skipped, daypart (4)]; x_n: [plays, skips, hours_since_last]. */
export const FEATURES = specWith({
  fast: { window: W, per_play: ["track_embedding", "time_since_last", "skipped", "daypart"] },
  slow: { aggregates: ["plays", "skips", "hours_since_last"] },
}).features;
export const STEP = D + 1 + 1 + 4;
export const SLOW = 3;

/**
 * b synthetic points: random embeddings, gaps and skips, a one-hot daypart, some rows left-padded;
 * the target is a fixed mix of the last two tracks, so a model can learn it.
 */
export function syntheticBatch(b: number, seed = 1): { input: FsVaeInput; y: tf.Tensor2D } {
  const e = normals(b * W * D, seed);
  const r = normals(b * W * 4 + b * SLOW, seed + 1);
  const x = new Float32Array(b * W * STEP);
  const mask = new Float32Array(b * W);
  const y = new Float32Array(b * D);
  for (let i = 0; i < b; i++) {
    const pad = i % 3;
    for (let t = 0; t < W; t++) {
      if (t < pad) continue;
      mask[i * W + t] = 1;
      const o = (i * W + t) * STEP;
      x.set(e.subarray((i * W + t) * D, (i * W + t + 1) * D), o);
      x[o + D] = Math.abs(r[(i * W + t) * 4]);
      x[o + D + 1] = r[(i * W + t) * 4 + 1] > 0.5 ? 1 : 0;
      x[o + D + 2 + ((i + t) % 4)] = 1;
    }
    for (let j = 0; j < D; j++) y[i * D + j] = 0.7 * x[(i * W + W - 1) * STEP + j] + 0.3 * x[(i * W + W - 2) * STEP + j];
  }
  const slow = Float32Array.from(r.subarray(b * W * 4), Math.abs);
  return {
    input: {
      x_s: tf.tensor3d(x, [b, W, STEP]),
      mask: tf.tensor2d(mask, [b, W]),
      x_n: tf.tensor2d(slow, [b, SLOW]),
    },
    y: tf.tensor2d(y, [b, D]),
  };
}

export function disposeBatch(x: { input: FsVaeInput; y: tf.Tensor2D }): void {
  tf.dispose([x.input.x_s!, x.input.mask!, x.input.x_n!, x.y]);
}

/** The loss before and after `steps` Adam steps on one batch (objective(step) builds the loss; no tensor is left behind). */
export function adamSteps(
  variables: NamedVariable[],
  objective: (step: number) => Objective,
  steps: number,
  learningRate = 1e-2,
): { before: number; after: number } {
  const optimizer = new Optimizer("adam", learningRate, variables);
  const trainable = variables.map((v) => v.variable);
  const lossAt = (step: number) => tf.tidy(() => objective(step).loss.dataSync()[0]);
  const before = lossAt(-1);
  for (let step = 0; step < steps; step++) {
    const grads = tf.tidy(() => {
      const { grads } = tf.variableGrads(() => objective(step).loss, trainable);
      return trainable.map((v) => grads[v.name]);
    });
    optimizer.apply(grads.map((g) => g.dataSync() as Float32Array));
    tf.dispose(grads);
  }
  return { before, after: lossAt(-1) };
}

export const values = (vars: NamedVariable[]): number[][] => vars.map((v) => Array.from(v.variable.dataSync()));

/** The loss and its gradients on a fresh model (built by `build`, disposed after) on the given backend. */
export async function gradientsOn(
  backend: "wasm" | "cpu",
  build: () => { variables: NamedVariable[]; objective: (batch: { input: FsVaeInput; y: tf.Tensor2D }) => Objective; dispose: () => void },
): Promise<{ value: number; grads: number[][] }> {
  await initBackend(backend, { logger: () => undefined });
  const m = build();
  const batch = syntheticBatch(9, 4);
  const vars = m.variables.map((v) => v.variable);
  const out = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => m.objective(batch).loss, vars);
    return { value: value.dataSync()[0], grads: vars.map((v) => Array.from(grads[v.name].dataSync())) };
  });
  disposeBatch(batch);
  m.dispose();
  return out;
}

/** Largest absolute difference between two gradient lists. */
export function worstDifference(a: number[][], b: number[][]): number {
  let worst = 0;
  a.forEach((g, i) => g.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[i][j])))));
  return worst;
}
