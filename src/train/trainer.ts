/**
 * trainModel: mini-batch training of a learned spec on a dataset, used by
 * the job worker (which `rubato train` runs in-process). The model comes
 * from the registry (src/model/registry) by the spec's type.
 *
 * Per epoch: the training rows in a seeded order, one optimizer step per
 * batch on the model's loss (FS-VAE: the negative beta-ELBO, beta warmed up,
 * free bits), then the
 * validation objective (z = mu, full beta, no free bits) for early stopping
 * and the latent diagnostics. Randomness (order, eps, dropout) is a function
 * of (seed, epoch, step), so a run resumed from a checkpoint replays the
 * uninterrupted run exactly. At the end the best validation weights are
 * restored and the test split is evaluated next to Average, Recent and Popularity.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Catalogue } from "../features/history";
import type { Dataset } from "../features/dataset";
import type { Metrics } from "../eval/metrics";
import { evaluatePredictions } from "../eval/metrics";
import type { ModelSpec } from "../spec/schema";
import { currentBackend, initBackend, type BackendInfo } from "../model/backend";
import { learnedModel, type Model } from "../model/registry";
import { activeUnits, betaAt, collapseWarning } from "../model/loss";
import { BatchBuilder, checkDatasetFits, disposeBatch, epochOrder, samplePositions, sampleRows } from "./batches";
import { checkResumeBackend, deserializeCheckpoint, serializeCheckpoint, type LoopState, type TensorGroup } from "./checkpoint";
import { evaluateObjective, evaluateSplit, type Evaluation } from "./evaluate";
import { Optimizer } from "./optimizers";
import { trainStep, type StepStats } from "./step";
import { DataParallel, resolveThreads } from "./parallel";

export interface StepProgress {
  /** 1-based epoch. */
  epoch: number;
  epochs: number;
  /** 1-based batch within the epoch. */
  batch: number;
  batches: number;
  /** Optimizer steps done, this one included. */
  step: number;
  /** epochs x batches: the step count if training runs to the end. */
  totalSteps: number;
  loss: number;
  reconstruction: number;
  /** Penalised KL (free bits applied). */
  kl: number;
  /** beta_t used by this step. */
  beta: number;
  samplesPerSecond: number;
  /** Units whose batch-mean KL exceeds 0.01. */
  activeUnits: number;
  latentUnits: number;
}

export interface EpochProgress {
  epoch: number;
  epochs: number;
  step: number;
  /** Means over the epoch's batches, weighted by batch size. */
  train: { loss: number; reconstruction: number; kl: number };
  /** Null without validation rows. */
  validation: {
    loss: number;
    reconstruction: number;
    kl: number;
    /** Metrics on up to validationMetricRows rows (needs the catalogue). */
    metrics: Metrics | null;
  } | null;
  /** beta_t at the end of the epoch. */
  beta: number;
  /** Active units over the validation rows (the training rows when there are none). */
  activeUnits: number;
  latentUnits: number;
  samplesPerSecond: number;
  seconds: number;
  /** Validation loss improved on the best so far. */
  improved: boolean;
  bestEpoch: number;
}

export type TrainStatus = "completed" | "early_stopped" | "cancelled";

export interface TrainOptions {
  /** Enables ranking metrics (validation sample, test evaluation with baselines). */
  catalogue?: Catalogue;
  /** Stops within one step; the result then has status "cancelled" and a resumable checkpoint. */
  signal?: AbortSignal;
  onStep?: (p: StepProgress) => void;
  onEpoch?: (p: EpochProgress) => void | Promise<void>;
  /** Called with a checkpoint after every epoch, every `checkpointEverySteps` steps and on cancellation. */
  onCheckpoint?: (checkpoint: Buffer, at: { epoch: number; step: number }) => void | Promise<void>;
  checkpointEverySteps?: number;
  /** A checkpoint from an earlier run of the same spec and data. */
  resume?: Buffer;
  /** Validation metrics are computed on at most this many rows (default 2,000). */
  validationMetricRows?: number;
  /** Test evaluation on at most this many rows (default all). */
  testRows?: number;
  /** Evaluate the test split at the end (default: when a catalogue is given). */
  evaluateTest?: boolean;
  /** Restore the weights of the best validation epoch at the end (default true). */
  restoreBest?: boolean;
  /** Rows per batch in evaluation (default 2,048). */
  evalBatchSize?: number;
  /** Warnings (posterior collapse) and the backend line. Default: console.warn. */
  logger?: (message: string) => void;
}

export interface TrainResult {
  model: Model;
  status: TrainStatus;
  /** Epochs completed. */
  epochs: number;
  steps: number;
  history: EpochProgress[];
  best: { epoch: number; validationLoss: number } | null;
  /** On the test split, when evaluated. */
  evaluation: Evaluation | null;
  /** Latent diagnostics of the final weights on the validation rows (or training rows). */
  latent: { activeUnits: number; latentUnits: number; klPerDim: number[] };
  /** beta schedule: beta, warm-up steps, free bits. */
  schedule: { beta: number; warmupSteps: number; freeBits: number };
  warnings: string[];
  /** The final state: resumable after a cancellation. */
  checkpoint: Buffer;
  backend: BackendInfo | null;
  seconds: number;
}

/** Everything that must match for a checkpoint to resume this run. */
function fingerprint(model: Model, spec: ModelSpec, dataset: Dataset): string {
  const t = spec.training;
  return JSON.stringify({
    config: model.config,
    optimizer: t.optimizer,
    learningRate: t.learning_rate,
    batchSize: t.batch_size,
    seed: t.seed,
    data: [
      dataset.n,
      dataset.rows.train.length,
      dataset.rows.validation.length,
      dataset.window,
      dataset.fastStep,
      dataset.slowDim,
      dataset.dim,
    ],
  });
}

function readGroup(model: Model): TensorGroup {
  return new Map(
    model.variables.map(({ key, variable }) => [key, { shape: variable.shape, values: (variable.dataSync() as Float32Array).slice() }]),
  );
}

function writeGroup(model: Model, group: TensorGroup): void {
  for (const { key, variable } of model.variables) {
    const saved = group.get(key);
    if (!saved || saved.values.length !== variable.size) throw new Error(`checkpoint lacks weights for ${key} or has another shape`);
    tf.tidy(() => variable.assign(tf.tensor(saved.values, variable.shape)));
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Trains a learned spec on a dataset built for it (buildDataset with the
 * same spec). Never throws on cancellation: the result says "cancelled".
 */
export async function trainModel(spec: ModelSpec, dataset: Dataset, options: TrainOptions = {}): Promise<TrainResult> {
  const log = options.logger ?? ((m: string) => console.warn(m));
  const backend = currentBackend() ?? (await initBackend(undefined, { logger: log }));
  const started = Date.now();
  const t = spec.training;
  const trainRows = dataset.rows.train;
  const validationRows = dataset.rows.validation;
  if (trainRows.length === 0) throw new Error("the dataset has no training rows");

  const model = learnedModel(spec.type).create(spec, { embeddingDim: dataset.dim, catalogueRms: dataset.catalogueRms }, t.seed);
  const { beta, freeBits, warmupSteps: klWarmupSteps } = model.schedule;
  let optimizer: Optimizer | null = null;
  let parallel: DataParallel | null = null;
  try {
    checkDatasetFits(model, dataset);
    optimizer = new Optimizer(t.optimizer, t.learning_rate, model.variables);
    const units = model.latentUnits;
    const batchSize = Math.min(t.batch_size, trainRows.length);
    const batches = Math.ceil(trainRows.length / batchSize);
    const epochs = t.epochs;
    const patience = t.early_stopping.patience;
    const print = fingerprint(model, spec, dataset);
    const metricPositions = samplePositions(validationRows.length, options.validationMetricRows ?? 2000);

    let loop: LoopState = {
      fingerprint: print,
      epoch: 0,
      batch: 0,
      step: 0,
      seed: t.seed,
      accumulators: { loss: 0, reconstruction: 0, kl: 0, samples: 0, seconds: 0 },
      earlyStopping: { bestLoss: Infinity, bestEpoch: 0, badEpochs: 0 },
      finished: false,
      status: "running",
      history: [],
    };
    let best: TensorGroup | null = null;
    if (options.resume) {
      const saved = deserializeCheckpoint(options.resume);
      if (saved.loop.fingerprint !== print) {
        throw new Error("the checkpoint belongs to another model, seed, optimizer, batch size or dataset; it cannot resume this run");
      }
      checkResumeBackend(saved.backend, backend.name, { log });
      writeGroup(model, saved.weights);
      optimizer.setState(saved.optimizer);
      best = saved.best;
      loop = { ...saved.loop, status: saved.loop.finished ? saved.loop.status : "running" };
      // A run that completed its epochs continues when the spec now asks for more (an early stop stays final).
      if (loop.finished && loop.status === "completed" && loop.epoch < epochs) {
        loop.finished = false;
        loop.status = "running";
      }
    }
    const history = loop.history as EpochProgress[];
    const checkpoint = (): Buffer =>
      serializeCheckpoint({ loop, weights: readGroup(model), best, optimizer: optimizer!.getState(), backend: backend.name });
    const emitCheckpoint = async () => {
      if (options.onCheckpoint) await options.onCheckpoint(checkpoint(), { epoch: loop.epoch, step: loop.step });
    };

    const threads = Math.min(resolveThreads(t.threads), batchSize);
    const builder = threads > 1 ? null : new BatchBuilder(dataset, batchSize, model.inputs);
    parallel = threads > 1 ? await DataParallel.start(model, dataset, { threads, batchSize, seed: t.seed, backend: backend.name }) : null;
    if (parallel) log(`training data-parallel on ${threads} threads`);
    let cancelled = false;
    while (!loop.finished && loop.epoch < epochs) {
      const order = epochOrder(trainRows, loop.seed, loop.epoch);
      const acc = loop.accumulators;
      for (; loop.batch < batches;) {
        if (options.signal?.aborted) {
          cancelled = true;
          break;
        }
        const t0 = performance.now();
        const from = loop.batch * batchSize;
        const to = Math.min(order.length, from + batchSize);
        let stats: StepStats;
        if (parallel) stats = await parallel.step(order, from, to, loop.step, loop.seed, optimizer);
        else {
          const batch = builder!.build(order, from, to);
          try {
            stats = trainStep(model, optimizer, batch.input, batch.y, loop.step, loop.seed);
          } finally {
            disposeBatch(batch);
          }
        }
        const size = to - from;
        const { loss, reconstruction, kl } = stats;
        const seconds = (performance.now() - t0) / 1000;
        acc.loss += loss * size;
        acc.reconstruction += reconstruction * size;
        acc.kl += kl * size;
        acc.samples += size;
        acc.seconds += seconds;
        loop.batch++;
        loop.step++;
        options.onStep?.({
          epoch: loop.epoch + 1,
          epochs,
          batch: loop.batch,
          batches,
          step: loop.step,
          totalSteps: epochs * batches,
          loss,
          reconstruction,
          kl,
          beta: stats.beta,
          samplesPerSecond: size / seconds,
          activeUnits: units ? activeUnits(stats.klPerDim) : 0,
          latentUnits: units,
        });
        if (options.checkpointEverySteps && loop.step % options.checkpointEverySteps === 0 && loop.batch < batches) await emitCheckpoint();
        await nextTurn(); // lets an abort, a heartbeat or a progress consumer run
      }
      if (cancelled) break;

      // End of epoch: validation, early stopping, best weights.
      const withMetrics = options.catalogue != null && metricPositions.length > 0;
      // Ranking is O(rows x catalogue): the metrics use an evenly spaced sample of the validation rows.
      const validation = validationRows.length
        ? evaluateObjective(model, dataset, validationRows, {
            batchSize: options.evalBatchSize,
            predictions: withMetrics ? metricPositions : false,
          })
        : null;
      let metrics: Metrics | null = null;
      if (validation && withMetrics) {
        metrics = evaluatePredictions(
          validation.predictions!,
          dataset,
          options.catalogue!,
          Int32Array.from(metricPositions, (p) => validationRows[p]),
        );
      }
      const diag =
        validation ?? (units ? evaluateObjective(model, dataset, sampleRows(trainRows, 5000), { batchSize: options.evalBatchSize }) : null);
      const es = loop.earlyStopping;
      const improved = validation != null && validation.loss < es.bestLoss;
      if (improved) {
        es.bestLoss = validation.loss;
        es.bestEpoch = loop.epoch + 1;
        es.badEpochs = 0;
        if (options.restoreBest !== false) best = readGroup(model);
      } else if (validation) es.badEpochs++;
      const report: EpochProgress = {
        epoch: loop.epoch + 1,
        epochs,
        step: loop.step,
        train: { loss: acc.loss / acc.samples, reconstruction: acc.reconstruction / acc.samples, kl: acc.kl / acc.samples },
        validation: validation ? { loss: validation.loss, reconstruction: validation.reconstruction, kl: validation.kl, metrics } : null,
        beta: betaAt(Math.max(0, loop.step - 1), beta, klWarmupSteps),
        activeUnits: diag ? diag.activeUnits : 0,
        latentUnits: units,
        samplesPerSecond: acc.samples / acc.seconds,
        seconds: acc.seconds,
        improved,
        bestEpoch: es.bestEpoch,
      };
      history.push(report);
      loop.epoch++;
      loop.batch = 0;
      loop.accumulators = { loss: 0, reconstruction: 0, kl: 0, samples: 0, seconds: 0 };
      if (validation && patience > 0 && es.badEpochs >= patience) {
        loop.finished = true;
        loop.status = "early_stopped";
      } else if (loop.epoch >= epochs) {
        loop.finished = true;
        loop.status = "completed";
      }
      await options.onEpoch?.(report);
      await emitCheckpoint();
    }

    await parallel?.close();
    parallel = null;

    if (cancelled) {
      loop.status = "cancelled";
      const buf = checkpoint();
      if (options.onCheckpoint) await options.onCheckpoint(buf, { epoch: loop.epoch, step: loop.step });
      return finish("cancelled", buf, null);
    }
    const finalCheckpoint = checkpoint();
    if (best && options.restoreBest !== false) writeGroup(model, best);
    const evaluate = options.evaluateTest ?? options.catalogue != null;
    const evaluation =
      evaluate && options.catalogue && dataset.rows.test.length
        ? evaluateSplit(model, dataset, options.catalogue, {
            maxRows: options.testRows,
            batchSize: options.evalBatchSize,
            window: spec.features.fast.window,
          })
        : null;
    return finish(loop.status as TrainStatus, finalCheckpoint, evaluation);

    function finish(status: TrainStatus, buf: Buffer, evaluation: Evaluation | null): TrainResult {
      const rows = validationRows.length ? validationRows : sampleRows(trainRows, 5000);
      const diag = units ? evaluateObjective(model, dataset, rows, { batchSize: options.evalBatchSize }) : null;
      const warnings: string[] = [];
      const collapse = diag ? collapseWarning(diag.activeUnits, units) : null;
      if (collapse) warnings.push(collapse);
      for (const w of warnings) log(`warning: ${w}`);
      optimizer?.dispose();
      optimizer = null;
      const es = loop.earlyStopping;
      return {
        model,
        status,
        epochs: history.length,
        steps: loop.step,
        history,
        best: Number.isFinite(es.bestLoss) ? { epoch: es.bestEpoch, validationLoss: es.bestLoss } : null,
        evaluation,
        latent: { activeUnits: diag?.activeUnits ?? 0, latentUnits: units, klPerDim: diag?.klPerDim ?? [] },
        schedule: { beta, warmupSteps: klWarmupSteps, freeBits },
        warnings,
        checkpoint: buf,
        backend,
        seconds: (Date.now() - started) / 1000,
      };
    }
  } catch (err) {
    await parallel?.close().catch(() => undefined);
    optimizer?.dispose();
    model.dispose();
    throw err;
  }
}
