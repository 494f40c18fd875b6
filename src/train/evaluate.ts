/**
 * Evaluation of a trained model on a split: the objective at z = mu without
 * dropout, the latent diagnostics (mean KL per unit, active units), and the
 * paper's metrics plus ranking quality (src/eval) next to the Average, Recent
 * and Popularity baselines on the same rows.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Catalogue } from "../features/history";
import type { Dataset, SplitName } from "../features/dataset";
import { evaluatePredictions, type Metrics } from "../eval/metrics";
import { uncertaintyReport, type UncertaintyReport } from "../eval/uncertainty";
import { BASELINES, baselinePredictions, type BaselineKind } from "../eval/baselines";
import type { Model } from "../model/registry";
import { activeUnits, collapseWarning } from "../model/loss";
import { BatchBuilder, disposeBatch, sampleRows } from "./batches";

export interface ObjectiveReport {
  rows: number;
  /** reconstruction + beta * KL with the spec's full beta and no free bits (comparable across epochs). */
  loss: number;
  reconstruction: number;
  kl: number;
  /** Mean KL of each latent unit over the rows (z_s units, then z_n units). */
  klPerDim: number[];
  /** Units whose mean KL exceeds 0.01 nats. */
  activeUnits: number;
  latentUnits: number;
}

/**
 * The objective over `rows` in inference mode (z = mu, no dropout), and the
 * predictions y^ when asked. Batches of `batchSize` rows.
 */
export function evaluateObjective(
  model: Model,
  dataset: Dataset,
  rows: Int32Array,
  options: {
    batchSize?: number;
    /** Keep y^ of every row (true) or only of these positions in `rows` (ascending): [kept, dim]. */
    predictions?: boolean | Int32Array;
  } = {},
): ObjectiveReport & { predictions?: Float32Array } {
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 2048, rows.length || 1));
  const builder = new BatchBuilder(dataset, batchSize, model.inputs);
  const units = model.latentUnits;
  const klSum = new Float64Array(units);
  let loss = 0,
    reconstruction = 0,
    kl = 0;
  const dim = dataset.dim;
  // Which positions to keep: all of them, or the given ones (the split's full y^ could be gigabytes).
  const keep = options.predictions === true ? null : (options.predictions ?? new Int32Array(0));
  const predictions = options.predictions ? new Float32Array((keep ? keep.length : rows.length) * dim) : undefined;
  let kept = 0;
  const { beta } = model.schedule;
  for (let from = 0; from < rows.length; from += batchSize) {
    const to = Math.min(rows.length, from + batchSize);
    const batch = builder.build(rows, from, to);
    try {
      const { stats, yHat } = tf.tidy(() => {
        const o = model.loss(batch.input, batch.y, { beta, freeBits: 0 });
        return { stats: tf.concat([tf.stack([o.loss, o.reconstruction, o.kl]), o.klPerDim]), yHat: o.yHat };
      });
      const s = stats.dataSync();
      if (predictions && !keep) predictions.set(yHat.dataSync(), from * dim);
      else if (predictions && keep && kept < keep.length && keep[kept] < to) {
        const values = yHat.dataSync();
        for (; kept < keep.length && keep[kept] < to; kept++)
          predictions.set(values.subarray((keep[kept] - from) * dim, (keep[kept] - from + 1) * dim), kept * dim);
      }
      tf.dispose([stats, yHat]);
      loss += s[0] * batch.size;
      reconstruction += s[1] * batch.size;
      kl += s[2] * batch.size;
      for (let j = 0; j < units; j++) klSum[j] += s[3 + j] * batch.size;
    } finally {
      disposeBatch(batch);
    }
  }
  const n = rows.length;
  const klPerDim = Array.from(klSum, (v) => (n ? v / n : NaN));
  return {
    rows: n,
    loss: n ? loss / n : NaN,
    reconstruction: n ? reconstruction / n : NaN,
    kl: n ? kl / n : NaN,
    klPerDim,
    activeUnits: n ? activeUnits(klPerDim) : 0,
    latentUnits: units,
    predictions,
  };
}

/** Latent units with a KL term (FS-VAE: K per branch). */
export const latentUnitCount = (model: Model): number => model.latentUnits;

/** Predicted next-track embeddings for `rows` (z = mu, no dropout), [rows.length, dim]. */
export function predict(model: Model, dataset: Dataset, rows: Int32Array, batchSize = 2048): Float32Array {
  return evaluateObjective(model, dataset, rows, { batchSize, predictions: true }).predictions!;
}

export interface Evaluation {
  split: SplitName;
  /** Rows evaluated (all of the split unless maxRows sampled it). */
  rows: number;
  objective: ObjectiveReport;
  model: Metrics;
  baselines: BaselineMetrics;
  /** Set when fewer than a tenth of the latent units are active. */
  collapse: string | null;
  /** What the posterior's width says about the error and the history (null for a model without sigma). */
  uncertainty: UncertaintyReport | null;
}

/**
 * Test rows a run is evaluated on at most (evenly spaced over the split): ranking is
 * O(rows x catalogue), so a split of millions of rows would take hours; 50,000 rows put
 * a metric's standard error near 0.002 for HR@10 and cover the demo world's whole split.
 */
export const MAX_TEST_ROWS = 50_000;

export interface EvaluateOptions {
  split?: SplitName;
  /** Evaluate at most this many rows of the split (evenly spaced; default MAX_TEST_ROWS): ranking is O(rows x catalogue). */
  maxRows?: number;
  batchSize?: number;
  /** The window of the Recent baseline: the spec's features.fast.window. */
  window: number;
}

/** The model and the baselines on one split (default test) with every metric. */
export function evaluateSplit(model: Model, dataset: Dataset, catalogue: Catalogue, options: EvaluateOptions): Evaluation {
  const split = options.split ?? "test";
  const rows = sampleRows(dataset.rows[split], options.maxRows ?? MAX_TEST_ROWS);
  const objective = evaluateObjective(model, dataset, rows, { batchSize: options.batchSize, predictions: true });
  const { predictions, ...report } = objective;
  return {
    split,
    rows: rows.length,
    objective: report,
    model: evaluatePredictions(predictions!, dataset, catalogue, rows),
    baselines: evaluateBaselines(dataset, catalogue, rows, options.window),
    collapse: model.probabilistic ? collapseWarning(report.activeUnits, report.latentUnits) : null,
    uncertainty: model.probabilistic ? uncertainty(model, dataset, rows, predictions!, options.batchSize) : null,
  };
}

/**
 * Per point: sigma, the mean over latent units of the posterior's standard
 * deviation (the model's user state at the point); the L2 error of its
 * prediction; and the user's plays up to the point. Then src/eval/uncertainty.ts.
 */
function uncertainty(model: Model, dataset: Dataset, rows: Int32Array, predictions: Float32Array, batchSize = 2048): UncertaintyReport {
  const n = rows.length;
  const size = Math.max(1, Math.min(batchSize, n || 1));
  const builder = new BatchBuilder(dataset, size, model.inputs);
  const sigma = new Float64Array(n);
  for (let from = 0; from < n; from += size) {
    const to = Math.min(n, from + size);
    const batch = builder.build(rows, from, to);
    try {
      const mean = tf.tidy(() => tf.mean(model.embed(batch.input).sigma!, 1));
      sigma.set(mean.dataSync(), from);
      mean.dispose();
    } finally {
      disposeBatch(batch);
    }
  }
  const { dim } = dataset;
  const embeddings = dataset.catalogue.embeddings;
  const l2 = new Float64Array(n);
  const history = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const target = dataset.targetIndex[rows[k]] * dim;
    let d = 0;
    for (let j = 0; j < dim; j++) d += (predictions[k * dim + j] - embeddings[target + j]) ** 2;
    l2[k] = Math.sqrt(d);
    history[k] = dataset.position[rows[k]] + 1;
  }
  return uncertaintyReport(sigma, l2, history);
}

/** The non-learned baselines measured next to every run, on the same rows. */
export type BaselineMetrics = Record<BaselineKind, Metrics>;

/** Average, Recent (the last `window` plays: the spec's features.fast.window) and Popularity on the given rows. */
export function evaluateBaselines(dataset: Dataset, catalogue: Catalogue, rows: Int32Array, window: number): BaselineMetrics {
  const out = {} as BaselineMetrics;
  for (const kind of BASELINES)
    out[kind] = evaluatePredictions(baselinePredictions(kind, dataset, catalogue, rows, { window }), dataset, catalogue, rows);
  return out;
}
