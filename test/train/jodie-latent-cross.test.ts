/**
 * JODIE and LatentCross through the model registry on the tiny world: the
 * trainer lowers their loss, a stored model loads to the same predictions, a
 * resumed run ends where an uninterrupted one does, data-parallel threads
 * train them, and the summary `rubato validate` prints counts the real variables.
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/model/backend";
import { learnedModel, loadArtifact } from "../../src/model/registry";
import { BatchBuilder, disposeBatch } from "../../src/train/batches";
import { trainModel, type EpochProgress } from "../../src/train/trainer";
import { maxDiff, shippedSpec, tinyData, weights } from "./helpers";

const quiet = { logger: () => undefined };

/** The shipped specs, shrunk to train in a second or two. */
const SMALL = {
  jodie: { jodie: { units: 12, static_units: 4 } },
  "latent-cross": { latent_cross: { units: 12, head: { layers: 1, units: 12 } } },
} as const;
const spec = (type: keyof typeof SMALL, training: Record<string, unknown> = {}) =>
  shippedSpec(type, { ...SMALL[type], training: { epochs: 3, batch_size: 64, early_stopping: { patience: 0 }, ...training } });

beforeAll(async () => {
  await initBackend(undefined, quiet);
});

describe.each(["jodie", "latent-cross"] as const)("%s", (type) => {
  it("trains: the loss falls over a few epochs; the summary counts its variables; deterministic", async () => {
    const s = spec(type);
    const { dataset, catalogue } = await tinyData(s);
    const epochs: EpochProgress[] = [];
    const result = await trainModel(s, dataset, { catalogue, onEpoch: (e) => void epochs.push(e), ...quiet });
    try {
      expect(result.model.type).toBe(type);
      expect(result.status).toBe("completed");
      expect(epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
      expect(epochs[2].train.loss).toBeLessThan(epochs[0].train.loss);
      expect(epochs[2].validation!.loss).toBeLessThan(epochs[0].validation!.loss);
      expect(epochs.every((e) => e.train.kl === 0)).toBe(true);
      expect(result.evaluation!.model.hr10).toBeGreaterThanOrEqual(0);
      expect(result.model).toMatchObject({ probabilistic: false, latentUnits: 0, schedule: { beta: 0, warmupSteps: 0, freeBits: 0 } });
      const summary = learnedModel(type).summary(s, dataset.dim)!;
      expect(summary.params).toBe(result.model.variables.reduce((n, v) => n + v.variable.size, 0));
      expect(learnedModel(type).latent(s)).toBe("deterministic");
    } finally {
      result.model.dispose();
    }
  });

  it("saves and loads to the same predictions and user states", async () => {
    const s = spec(type, { epochs: 1 });
    const { dataset } = await tinyData(s);
    const { model } = await trainModel(s, dataset, { evaluateTest: false, ...quiet });
    const artifact = model.save({ note: "kept" });
    expect(artifact.topology).toMatchObject({ format: `rubato-${type}/1`, type, extra: { note: "kept" } });
    // Stored as the run table holds it: the topology as JSON, the weights as bytes.
    const loaded = loadArtifact({ topology: JSON.parse(JSON.stringify(artifact.topology)), weights: Buffer.from(artifact.weights) });
    const batch = new BatchBuilder(dataset, 32).build(dataset.rows.test, 0, 32);
    try {
      const outputs = (m: typeof model) =>
        tf.tidy(() => {
          const state = m.embed(batch.input, { predict: true });
          expect(state.sigma).toBeNull();
          expect(state.parts).toEqual({});
          return [m.predict(batch.input), state.mu, state.predicted!].map((t) => Array.from(t.dataSync()));
        });
      const [predicted, mu, atMu] = outputs(model);
      expect(outputs(loaded)).toEqual([predicted, mu, atMu]);
      expect(atMu).toEqual(predicted);
      expect(mu.length).toBe(32 * (type === "jodie" ? 12 + 4 : 12));
      expect(maxDiff(weights(loaded), weights(model))).toBe(0);
      // The artifact's weights are checked against its topology.
      expect(() => loadArtifact({ ...artifact, weights: Buffer.concat([artifact.weights, Buffer.alloc(4)]) })).toThrow(
        /its topology needs/,
      );
    } finally {
      disposeBatch(batch);
      model.dispose();
      loaded.dispose();
    }
  });

  it("resumes from an end-of-epoch checkpoint to the weights of an uninterrupted run; trains on 2 threads", async () => {
    const s = spec(type, { epochs: 2 });
    const { dataset } = await tinyData(s);
    const saved: Buffer[] = [];
    const full = await trainModel(s, dataset, { onCheckpoint: (b) => void saved.push(b), evaluateTest: false, ...quiet });
    const resumed = await trainModel(s, dataset, { resume: saved[0], evaluateTest: false, ...quiet });
    const parallelEpochs: EpochProgress[] = [];
    const parallel = await trainModel(spec(type, { epochs: 2, threads: 2 }), dataset, {
      evaluateTest: false,
      onEpoch: (e) => void parallelEpochs.push(e),
      ...quiet,
    });
    try {
      expect(maxDiff(weights(resumed.model), weights(full.model))).toBe(0);
      expect(parallel.status).toBe("completed");
      // Float32 sums in another order: the 2-thread run follows the single-threaded one closely.
      const last = full.history[full.history.length - 1].train.loss;
      expect(parallelEpochs[1].train.loss).toBeCloseTo(last, 2);
    } finally {
      for (const r of [full, resumed, parallel]) r.model.dispose();
    }
  });
});
