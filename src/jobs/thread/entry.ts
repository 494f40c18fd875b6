/**
 * The training thread: everything tfjs does for a run happens here, off the
 * event loop that serves the API and heartbeats the run. It receives the
 * dataset, trains, reports progress and checkpoints, returns the trained
 * model, then embeds users on request until told to exit.
 */
import { parentPort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import { parseSpec } from "../../spec";
import { initBackend } from "../../model/backend";
import { saveModel } from "../../model/artifact";
import { embed, disposeFsVae, type FsVae } from "../../model/fsvae";
import { trainModel } from "../../train/trainer";
import { evaluateBaselines, MAX_TEST_ROWS } from "../../train/evaluate";
import { sampleRows } from "../../train/batches";
import type { BaselineKind } from "../../eval/baselines";
import type { FromThread, ToThread, TrainRequest } from "./protocol";

const port = parentPort!;
const send = (msg: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
const abort = new AbortController();
let model: FsVae | null = null;

async function train(request: TrainRequest): Promise<void> {
  const parsed = parseSpec(request.specYaml, { file: "<run spec>" });
  if (!parsed.ok) throw new Error(`stored spec no longer validates: ${parsed.errors.map((e) => e.message).join("; ")}`);
  if (parsed.spec.type !== "fs-vae") return evaluateBaseline(parsed.spec.type, parsed.spec.features.fast.window, request);
  const backend = await initBackend(undefined, { logger: (message) => send({ type: "log", message }) });
  const result = await trainModel(parsed.spec, request.dataset, {
    catalogue: request.catalogue,
    signal: abort.signal,
    resume: request.resume ? Buffer.from(request.resume) : undefined,
    testRows: request.testRows,
    checkpointEverySteps: request.checkpointEverySteps,
    onStep: (progress) => send({ type: "step", progress }),
    onEpoch: (progress) => send({ type: "epoch", progress }),
    onCheckpoint: (checkpoint, at) => send({ type: "checkpoint", checkpoint: new Uint8Array(checkpoint), ...at }),
    logger: (message) => send({ type: "log", message }),
  });
  model = result.model;
  const ev = result.evaluation;
  const artifact =
    result.status === "cancelled" ? null : saveModel(model, { featureStats: request.dataset.stats, window: request.dataset.window });
  send({
    type: "trained",
    summary: {
      status: result.status,
      epochs: result.epochs,
      steps: result.steps,
      seconds: result.seconds,
      best: result.best,
      history: result.history,
      latent: result.latent,
      schedule: result.schedule,
      warnings: result.warnings,
      backend: backend.name,
      test: ev ? { rows: ev.rows, model: ev.model, ...ev.baselines } : null,
    },
    artifact,
    checkpoint: new Uint8Array(result.checkpoint),
  });
}

/** Non-learned baselines (average, recent, popularity): nothing to train, only the test metrics. */
function evaluateBaseline(kind: BaselineKind, window: number, request: TrainRequest): void {
  const { dataset, catalogue } = request;
  const rows = sampleRows(dataset.rows.test, request.testRows ?? MAX_TEST_ROWS);
  const started = Date.now();
  const baselines = rows.length ? evaluateBaselines(dataset, catalogue, rows, window) : null;
  const test = baselines ? { rows: rows.length, model: baselines[kind], ...baselines } : null;
  send({
    type: "trained",
    summary: {
      status: "completed",
      epochs: 0,
      steps: 0,
      seconds: (Date.now() - started) / 1000,
      best: null,
      history: [],
      latent: { activeUnits: 0, latentUnits: 0, klPerDim: [] },
      schedule: { beta: 0, warmupSteps: 0, freeBits: 0 },
      warnings: [],
      backend: null,
      test,
    },
    artifact: null,
    checkpoint: new Uint8Array(0),
  });
}

function embedBatch(msg: Extract<ToThread, { type: "embed" }>): void {
  if (!model) throw new Error("embed before the model was trained");
  const m = model;
  const { window, inputDim } = m.config.encoderS ?? { window: 0, inputDim: 0 };
  const slowDim = m.config.encoderN?.inputDim ?? 0;
  const out = tf.tidy(() => {
    const e = embed(m, {
      x_s: m.config.encoderS ? tf.tensor3d(msg.fast, [msg.n, window, inputDim]) : undefined,
      mask: m.config.encoderS ? tf.tensor2d(msg.mask, [msg.n, window]) : undefined,
      x_n: m.config.encoderN ? tf.tensor2d(msg.slow, [msg.n, slowDim]) : undefined,
    });
    return { mu: e.mu, sigma: e.sigma } as unknown as tf.TensorContainer;
  }) as unknown as { mu: tf.Tensor2D; sigma: tf.Tensor2D | null };
  const mu = out.mu.dataSync() as Float32Array;
  const sigma = out.sigma ? (out.sigma.dataSync() as Float32Array) : null;
  out.mu.dispose();
  out.sigma?.dispose();
  send({ type: "embedded", id: msg.id, mu, sigma });
}

port.on("message", (msg: ToThread) => {
  try {
    if (msg.type === "train") {
      train(msg.request).catch((err: Error) => send({ type: "error", message: err.message, stack: err.stack }));
    } else if (msg.type === "cancel") abort.abort();
    else if (msg.type === "embed") embedBatch(msg);
    else if (msg.type === "exit") {
      if (model) disposeFsVae(model);
      port.close();
    }
  } catch (err) {
    send({ type: "error", message: (err as Error).message, stack: (err as Error).stack });
  }
});
