/**
 * The training thread: everything tfjs does for a run happens here, off the
 * event loop that serves the API and heartbeats the run. It receives the
 * dataset and the run's resolved spec, trains (or evaluates a baseline),
 * reports progress and checkpoints, returns the trained model, then embeds
 * users on request until told to exit.
 */
import { parentPort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../model/backend";
import { modelFor, type Model } from "../../model/registry";
import { trainOrEvaluate } from "../../train/run";
import type { FromThread, ToThread, TrainRequest } from "./protocol";

const port = parentPort!;
const send = (msg: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
const abort = new AbortController();
let model: Model | null = null;

async function train(request: TrainRequest): Promise<void> {
  const { spec } = request;
  if (modelFor(spec.type).learned) await initBackend(undefined, { logger: (message) => send({ type: "log", message }) });
  const trained = await trainOrEvaluate(spec, request.dataset, request.catalogue, {
    signal: abort.signal,
    resume: request.resume ? Buffer.from(request.resume) : undefined,
    testRows: request.testRows,
    checkpointEverySteps: request.checkpointEverySteps,
    onStep: (progress) => send({ type: "step", progress }),
    onEpoch: (progress) => send({ type: "epoch", progress }),
    onCheckpoint: (checkpoint, at) => send({ type: "checkpoint", checkpoint: new Uint8Array(checkpoint), ...at }),
    logger: (message) => send({ type: "log", message }),
  });
  model = trained.model;
  const artifact =
    model && trained.summary.status !== "cancelled"
      ? model.save({ featureStats: request.dataset.stats, window: request.dataset.window })
      : null;
  send({ type: "trained", summary: trained.summary, artifact, checkpoint: new Uint8Array(trained.checkpoint) });
}

function embedBatch(msg: Extract<ToThread, { type: "embed" }>): void {
  if (!model) throw new Error("embed before the model was trained");
  const m = model;
  const { window, fastStep, slowDim } = m.inputs;
  const bagDim = m.inputs.bagDim ?? 0;
  const out = tf.tidy(() => {
    const e = m.embed({
      x_s: window ? tf.tensor3d(msg.fast, [msg.n, window, fastStep]) : undefined,
      mask: window ? tf.tensor2d(msg.mask, [msg.n, window]) : undefined,
      x_n: slowDim ? tf.tensor2d(msg.slow, [msg.n, slowDim]) : undefined,
      x_b: bagDim ? tf.tensor2d(msg.bag, [msg.n, bagDim]) : undefined,
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
      model?.dispose();
      port.close();
    }
  } catch (err) {
    send({ type: "error", message: (err as Error).message, stack: (err as Error).stack });
  }
});
