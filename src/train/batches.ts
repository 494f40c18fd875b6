/**
 * Mini-batches: dataset rows assembled into reusable buffers and uploaded
 * as tensors (x_s, mask, x_n, y), plus the seeded order of the training rows
 * for each epoch.
 */
import * as tf from "@tensorflow/tfjs-core";
import { ensureBag, writePoint, type Dataset, type PointBuffers } from "../features/dataset";
import type { InputShape, Model, ModelInput } from "../model/registry";
import { shuffled, streamSeed, STREAM } from "../model/random";

export interface Batch {
  input: ModelInput;
  y: tf.Tensor2D;
  size: number;
}

export function disposeBatch(b: Batch): void {
  for (const t of [b.input.x_s, b.input.mask, b.input.x_n, b.input.x_b, b.y]) t?.dispose();
}

/**
 * Throws when the dataset was built for another graph (other spec or catalogue).
 * A model that reads only the bag of plays (x_b; window and d_n 0) fits any dataset of its dimension.
 */
export function checkDatasetFits(model: Model, dataset: Dataset): void {
  const { window, fastStep, slowDim, outputDim } = model.inputs;
  const bagDim = model.inputs.bagDim ?? 0;
  const problems: string[] = [];
  const bagOnly = bagDim > 0 && window === 0 && slowDim === 0;
  if (!bagOnly) {
    if (window !== dataset.window) problems.push(`window ${window} vs ${dataset.window}`);
    if (fastStep !== dataset.fastStep) problems.push(`d_s ${fastStep} vs ${dataset.fastStep}`);
    if (slowDim !== dataset.slowDim) problems.push(`d_n ${slowDim} vs ${dataset.slowDim}`);
  }
  if (bagDim && bagDim !== dataset.dim) problems.push(`bag dim ${bagDim} vs ${dataset.dim}`);
  if (outputDim !== dataset.dim) problems.push(`embedding dim ${outputDim} vs ${dataset.dim}`);
  if (problems.length) throw new Error(`the dataset does not fit the model (model vs dataset: ${problems.join("; ")})`);
}

/**
 * Assembles dataset rows (writePoint) into staging buffers and uploads them as
 * tensors. Each tensor gets its own copy: the cpu backend keeps the array it
 * is given, so a shared buffer would change tensors still alive.
 *
 * Without `inputs` a batch holds what the dataset has (x_s and the mask, x_n);
 * with a model's inputs, only what it reads: x_s and the mask when its window
 * is not 0, x_n when its d_n is not 0, x_b when its bagDim is not 0 (the
 * dataset's bag is built then, once: ensureBag).
 */
export class BatchBuilder {
  private buffers: PointBuffers;
  private readonly fast: boolean;
  private readonly slow: boolean;

  constructor(
    private readonly dataset: Dataset,
    readonly maxBatch: number,
    inputs?: InputShape,
  ) {
    const { window: w, fastStep, slowDim, dim } = dataset;
    this.fast = w > 0 && (!inputs || inputs.window > 0);
    this.slow = slowDim > 0 && (!inputs || inputs.slowDim > 0);
    const bag = (inputs?.bagDim ?? 0) > 0;
    if (bag) ensureBag(dataset);
    this.buffers = {
      fast: new Float32Array(this.fast ? maxBatch * w * fastStep : 0),
      mask: new Float32Array(this.fast ? maxBatch * w : 0),
      slow: new Float32Array(this.slow ? maxBatch * slowDim : 0),
      target: new Float32Array(maxBatch * dim),
      ...(bag ? { bag: new Float32Array(maxBatch * dim) } : {}),
    };
  }

  /** The batch of rows[from..to). */
  build(rows: ArrayLike<number>, from: number, to: number): Batch {
    const d = this.dataset;
    const b = this.buffers;
    const size = to - from;
    if (size <= 0 || size > this.maxBatch) throw new Error(`batch of ${size} rows (max ${this.maxBatch})`);
    for (let k = 0; k < size; k++) writePoint(d, rows[from + k], b, k);
    const fw = d.window * d.fastStep;
    const input: ModelInput = {};
    if (this.fast) {
      input.x_s = tf.tensor3d(b.fast.slice(0, size * fw), [size, d.window, d.fastStep]);
      input.mask = tf.tensor2d(b.mask.slice(0, size * d.window), [size, d.window]);
    }
    if (this.slow) input.x_n = tf.tensor2d(b.slow.slice(0, size * d.slowDim), [size, d.slowDim]);
    if (b.bag) input.x_b = tf.tensor2d(b.bag.slice(0, size * d.dim), [size, d.dim]);
    return { input, y: tf.tensor2d(b.target.slice(0, size * d.dim), [size, d.dim]), size };
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
