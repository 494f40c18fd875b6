/**
 * Mini-batches: rows of the dataset's flat blocks gathered into reusable
 * buffers and uploaded as tensors (x_s, mask, x_n, y), plus the seeded order
 * of the training rows for each epoch.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Dataset } from "../features/dataset";
import type { FsVae, FsVaeInput } from "../model/fsvae";
import { shuffled, streamSeed, STREAM } from "../model/random";

export interface Batch {
  input: FsVaeInput;
  y: tf.Tensor2D;
  size: number;
}

export function disposeBatch(b: Batch): void {
  for (const t of [b.input.x_s, b.input.mask, b.input.x_n, b.y]) t?.dispose();
}

/** Throws when the dataset was built for another graph (other spec or catalogue). */
export function checkDatasetFits(model: FsVae, dataset: Dataset): void {
  const { encoderS, encoderN, decoder } = model.config;
  const problems: string[] = [];
  if ((encoderS?.window ?? 0) !== dataset.window) problems.push(`window ${encoderS?.window ?? 0} vs ${dataset.window}`);
  if ((encoderS?.inputDim ?? 0) !== dataset.fastStep) problems.push(`d_s ${encoderS?.inputDim ?? 0} vs ${dataset.fastStep}`);
  if ((encoderN?.inputDim ?? 0) !== dataset.slowDim) problems.push(`d_n ${encoderN?.inputDim ?? 0} vs ${dataset.slowDim}`);
  if (decoder.outputDim !== dataset.dim) problems.push(`embedding dim ${decoder.outputDim} vs ${dataset.dim}`);
  if (problems.length) throw new Error(`the dataset does not fit the model (model vs dataset: ${problems.join("; ")})`);
}

/**
 * Gathers dataset rows into tensors through staging buffers. Each tensor gets
 * its own copy: the cpu backend keeps the array it is given, so a shared
 * buffer would change tensors still alive.
 */
export class BatchBuilder {
  private fast: Float32Array;
  private mask: Float32Array;
  private slow: Float32Array;
  private target: Float32Array;

  constructor(
    private readonly dataset: Dataset,
    readonly maxBatch: number,
  ) {
    const { window: w, fastStep, slowDim, dim } = dataset;
    this.fast = new Float32Array(maxBatch * w * fastStep);
    this.mask = new Float32Array(maxBatch * w);
    this.slow = new Float32Array(maxBatch * slowDim);
    this.target = new Float32Array(maxBatch * dim);
  }

  /** The batch of rows[from..to). */
  build(rows: ArrayLike<number>, from: number, to: number): Batch {
    const d = this.dataset;
    const size = to - from;
    if (size <= 0 || size > this.maxBatch) throw new Error(`batch of ${size} rows (max ${this.maxBatch})`);
    const fw = d.window * d.fastStep;
    for (let k = 0; k < size; k++) {
      const r = rows[from + k];
      if (fw) {
        this.fast.set(d.fast.subarray(r * fw, (r + 1) * fw), k * fw);
        this.mask.set(d.mask.subarray(r * d.window, (r + 1) * d.window), k * d.window);
      }
      if (d.slowDim) this.slow.set(d.slow.subarray(r * d.slowDim, (r + 1) * d.slowDim), k * d.slowDim);
      this.target.set(d.target.subarray(r * d.dim, (r + 1) * d.dim), k * d.dim);
    }
    const input: FsVaeInput = {};
    if (fw) {
      input.x_s = tf.tensor3d(this.fast.slice(0, size * fw), [size, d.window, d.fastStep]);
      input.mask = tf.tensor2d(this.mask.slice(0, size * d.window), [size, d.window]);
    }
    if (d.slowDim) input.x_n = tf.tensor2d(this.slow.slice(0, size * d.slowDim), [size, d.slowDim]);
    return { input, y: tf.tensor2d(this.target.slice(0, size * d.dim), [size, d.dim]), size };
  }
}

/** The training rows in the seeded order of `epoch` (0-based). */
export function epochOrder(trainRows: Int32Array, seed: number, epoch: number): Int32Array {
  const p = shuffled(trainRows.length, streamSeed(seed, STREAM.shuffle, epoch));
  return Int32Array.from(p, (i) => trainRows[i]);
}

/** At most `max` positions of 0..n-1, evenly spaced (deterministic), ascending. */
export function samplePositions(n: number, max: number): Int32Array {
  if (n <= max) return Int32Array.from({ length: n }, (_, k) => k);
  return Int32Array.from({ length: max }, (_, k) => Math.floor((k * n) / max));
}

/** At most `max` rows of `rows`, evenly spaced (deterministic), in their original order. */
export function sampleRows(rows: Int32Array, max: number): Int32Array {
  if (rows.length <= max) return rows;
  return Int32Array.from(samplePositions(rows.length, max), (p) => rows[p]);
}
