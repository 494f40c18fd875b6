/**
 * A data-parallel helper thread (see parallel.ts): a model replica on its own
 * tfjs backend. Per shard it loads the published weights when they changed,
 * assembles its rows, and writes the gradients into its shared slot.
 */
import { parentPort } from "node:worker_threads";
import { initBackend } from "../model/backend";
import { learnedModel, type Model } from "../model/registry";
import { BatchBuilder, disposeBatch } from "./batches";
import { shardGradients } from "./step";
import * as tf from "@tensorflow/tfjs-core";
import type { FromHelper, HelperInit, ToHelper } from "./parallel";

const port = parentPort!;
const send = (msg: FromHelper) => port.postMessage(msg);

let state: { init: HelperInit; model: Model; builder: BatchBuilder; weights: Float32Array; grads: Float32Array; version: number } | null =
  null;

async function start(init: HelperInit): Promise<void> {
  await initBackend(init.backend, { logger: () => undefined });
  const model = learnedModel(init.modelType).fromConfig(init.config, init.seed);
  state = {
    init,
    model,
    builder: new BatchBuilder(init.dataset, init.maxShard, model.inputs),
    weights: new Float32Array(init.weights),
    grads: new Float32Array(init.grads),
    version: -1,
  };
  send({ type: "ready" });
}

function loadWeights(s: NonNullable<typeof state>): void {
  let at = 0;
  for (const v of s.model.variables) {
    const t = tf.tensor(s.weights.slice(at, at + v.variable.size), v.variable.shape);
    v.variable.assign(t);
    t.dispose();
    at += v.variable.size;
  }
}

function shard(msg: Extract<ToHelper, { type: "shard" }>): void {
  const s = state!;
  if (s.version !== msg.weightsVersion) {
    loadWeights(s);
    s.version = msg.weightsVersion;
  }
  const batch = s.builder.build(msg.rows, 0, msg.rows.length);
  try {
    const out = shardGradients(s.model, batch.input, batch.y, msg.step, msg.seed, msg.shard);
    let at = 0;
    for (const g of out.grads) {
      s.grads.set(g, at);
      at += g.length;
    }
    send({ type: "done", reconstruction: out.reconstruction, kl: out.kl, klPerDim: out.klPerDim });
  } finally {
    disposeBatch(batch);
  }
}

port.on("message", (msg: ToHelper) => {
  try {
    if (msg.type === "init") start(msg.init).catch((err: Error) => send({ type: "error", message: err.message }));
    else if (msg.type === "shard") shard(msg);
    else if (msg.type === "exit") port.close();
  } catch (err) {
    send({ type: "error", message: (err as Error).message });
  }
});
