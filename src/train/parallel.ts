/**
 * Data-parallel training steps (training.threads > 1).
 *
 * Each step's batch is cut into one contiguous shard per thread. This thread
 * takes shard 0; each helper thread (parallel-thread.ts, its own tfjs backend
 * and model replica) takes one of the others. Every thread assembles its own
 * rows from the dataset, whose columns live on SharedArrayBuffers and are
 * shared, not copied, and writes its gradients into its slot of a shared
 * buffer. This thread sums them, weighted by each shard's share of the batch,
 * in shard order, applies one optimizer update and publishes the new weights
 * through another shared buffer, which the helpers load before their next
 * shard. The result depends on the seed and the thread count only.
 */
import * as os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { ensureBag, sharedCopy, type Dataset } from "../features/dataset";
import type { Catalogue } from "../features/history";
import { asModel, type FsVaeOrModel, type Model } from "../model/registry";
import type { ModelType } from "../spec/schema";
import type { BackendName } from "../model/backend";
import { betaAt } from "../model/loss";
import type { Optimizer } from "./optimizers";
import { BatchBuilder, disposeBatch } from "./batches";
import { shardGradients, type StepStats } from "./step";

/** swc's register hook, resolved here: a thread's eval code would resolve it from the working directory. */
const SWC_REGISTER = require.resolve("@swc-node/register");

/** training.threads resolved: "auto" is the machine's available parallelism. */
export function resolveThreads(threads: number | "auto"): number {
  return threads === "auto" ? Math.max(1, os.availableParallelism()) : threads;
}

/** What a helper needs to start: everything is plain data or shared memory. */
export interface HelperInit {
  backend: BackendName;
  /** The spec type and its compiled configuration: the helper builds its replica from them. */
  modelType: ModelType;
  config: unknown;
  seed: number;
  dataset: Dataset;
  maxShard: number;
  /** Every trainable value, variables one after another in model.variables order. */
  weights: SharedArrayBuffer;
  /** This helper's gradient slot, same layout as weights. */
  grads: SharedArrayBuffer;
}

export type ToHelper =
  | { type: "init"; init: HelperInit }
  | { type: "shard"; rows: Int32Array; step: number; seed: number; shard: number; weightsVersion: number }
  | { type: "exit" };

export type FromHelper =
  | { type: "ready" }
  | { type: "done"; reconstruction: number; kl: number; klPerDim: Float32Array }
  | { type: "error"; message: string };

interface Helper {
  worker: Worker;
  grads: Float32Array;
  next: ((msg: FromHelper) => void) | null;
  failure: Error | null;
}

/** x * w, elementwise, as a new array (a plain loop: Float32Array.from with a map runs ~50x slower). */
function scaled(x: Float32Array, w: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let j = 0; j < x.length; j++) out[j] = x[j] * w;
  return out;
}

/** The catalogue on shared memory, so helpers read the one copy. */
function sharedCatalogue(c: Catalogue): Catalogue {
  const share = <T extends Float32Array | Int32Array | Uint8Array>(a: T): T => (a.buffer instanceof SharedArrayBuffer ? a : sharedCopy(a));
  return { ...c, trackIds: share(c.trackIds), embeddings: share(c.embeddings), hasEmbedding: share(c.hasEmbedding) };
}

export class DataParallel {
  private readonly weights: Float32Array;
  private readonly offsets: number[];
  private weightsVersion = 0;
  private readonly builder: BatchBuilder;

  private constructor(
    private readonly model: Model,
    dataset: Dataset,
    private readonly helpers: Helper[],
    weights: SharedArrayBuffer,
    maxShard: number,
  ) {
    this.weights = new Float32Array(weights);
    this.offsets = [];
    let at = 0;
    for (const v of model.variables) {
      this.offsets.push(at);
      at += v.variable.size;
    }
    this.builder = new BatchBuilder(dataset, maxShard, model.inputs);
  }

  /** Starts `threads - 1` helpers with replicas of `model` (its current weights). */
  static async start(
    raw: FsVaeOrModel,
    dataset: Dataset,
    options: { threads: number; batchSize: number; seed: number; backend: BackendName },
  ): Promise<DataParallel> {
    const model = asModel(raw);
    const size = model.variables.reduce((n, v) => n + v.variable.size, 0);
    const weights = new SharedArrayBuffer(size * 4);
    const maxShard = Math.ceil(options.batchSize / options.threads);
    // The bag's prefix sums are built here, once, so the helpers share them (SharedArrayBuffers) instead of each building its own.
    if (model.inputs.bagDim) ensureBag(dataset);
    const shared: Dataset = { ...dataset, catalogue: sharedCatalogue(dataset.catalogue), rows: { train: new Int32Array(0), validation: new Int32Array(0), test: new Int32Array(0) } };
    const entry = path.join(__dirname, "parallel-thread.ts");
    const helpers: Helper[] = [];
    try {
      for (let k = 1; k < options.threads; k++) {
        const grads = new SharedArrayBuffer(size * 4);
        const worker = new Worker(`require(${JSON.stringify(SWC_REGISTER)}); require(${JSON.stringify(entry)});`, { eval: true, stdin: false });
        const helper: Helper = { worker, grads: new Float32Array(grads), next: null, failure: null };
        worker.on("message", (msg: FromHelper) => {
          const next = helper.next;
          helper.next = null;
          next?.(msg);
        });
        const fail = (err: Error) => {
          helper.failure = err;
          const next = helper.next;
          helper.next = null;
          next?.({ type: "error", message: err.message });
        };
        worker.on("error", fail);
        worker.on("exit", (code) => fail(new Error(`a training helper thread exited (code ${code})`)));
        helpers.push(helper);
        const ready = DataParallel.reply(helper);
        worker.postMessage({
          type: "init",
          init: { backend: options.backend, modelType: model.type, config: model.config, seed: options.seed, dataset: shared, maxShard, weights, grads },
        } satisfies ToHelper);
        const first = await ready;
        if (first.type === "error") throw new Error(`a training helper thread failed to start: ${first.message}`);
      }
    } catch (err) {
      for (const h of helpers) void h.worker.terminate();
      throw err;
    }
    const parallel = new DataParallel(model, shared, helpers, weights, maxShard);
    parallel.publishWeights();
    return parallel;
  }

  private static reply(helper: Helper): Promise<FromHelper> {
    if (helper.failure) return Promise.resolve({ type: "error", message: helper.failure.message });
    return new Promise((resolve) => (helper.next = resolve));
  }

  /** Copies the model's weights (after an update, or weights restored from a checkpoint) to the helpers. */
  publishWeights(): void {
    this.model.variables.forEach((v, i) => this.weights.set(v.variable.dataSync() as Float32Array, this.offsets[i]));
    this.weightsVersion++;
  }

  /** One optimizer step on rows[from..to) of `order`, across all threads. */
  async step(order: Int32Array, from: number, to: number, step: number, seed: number, optimizer: Optimizer): Promise<StepStats> {
    const size = to - from;
    const threads = this.helpers.length + 1;
    const bounds = Array.from({ length: threads + 1 }, (_, k) => from + Math.round((k * size) / threads));
    const replies = this.helpers.map((helper, h) => {
      const [a, b] = [bounds[h + 1], bounds[h + 2]];
      if (a === b) return null;
      const reply = DataParallel.reply(helper);
      helper.worker.postMessage({
        type: "shard",
        rows: order.slice(a, b),
        step,
        seed,
        shard: h + 1,
        weightsVersion: this.weightsVersion,
      } satisfies ToHelper);
      return reply;
    });

    const own = this.builder.build(order, bounds[0], bounds[1]);
    let mine;
    try {
      mine = shardGradients(this.model, own.input, own.y, step, seed, 0);
    } finally {
      disposeBatch(own);
    }
    const done = await Promise.all(replies);

    // sum_k (n_k / n) g_k, in shard order.
    const share = (k: number) => (bounds[k + 1] - bounds[k]) / size;
    const grads = mine.grads.map((g) => scaled(g, share(0)));
    let reconstruction = mine.reconstruction * share(0);
    let kl = mine.kl * share(0);
    const klPerDim = scaled(mine.klPerDim, share(0));
    done.forEach((reply, h) => {
      if (!reply) return;
      if (reply.type !== "done") throw new Error(`a training helper thread failed: ${reply.type === "error" ? reply.message : reply.type}`);
      const w = share(h + 1);
      const slot = this.helpers[h].grads;
      for (let i = 0; i < grads.length; i++) {
        const g = grads[i];
        const at = this.offsets[i];
        for (let j = 0; j < g.length; j++) g[j] += w * slot[at + j];
      }
      reconstruction += w * reply.reconstruction;
      kl += w * reply.kl;
      for (let j = 0; j < klPerDim.length; j++) klPerDim[j] += w * reply.klPerDim[j];
    });
    const values = optimizer.apply(grads);
    values.forEach((v, i) => this.weights.set(v, this.offsets[i]));
    this.weightsVersion++;
    const { beta: fullBeta, warmupSteps: klWarmupSteps } = this.model.schedule;
    const beta = betaAt(step, fullBeta, klWarmupSteps);
    return { loss: reconstruction + beta * kl, reconstruction, kl, beta, klPerDim };
  }

  /** Stops the helpers. */
  async close(): Promise<void> {
    await Promise.all(
      this.helpers.map(async (h) => {
        h.worker.removeAllListeners("exit");
        h.worker.postMessage({ type: "exit" } satisfies ToHelper);
        await h.worker.terminate();
      }),
    );
  }

  get threads(): number {
    return this.helpers.length + 1;
  }
}
