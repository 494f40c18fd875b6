/**
 * trainModel on a tiny world: the loss falls, a resumed run equals an
 * uninterrupted one, no tensor leaks, cancellation within one step, early
 * stopping, progress reports and checkpoints.
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/model/backend";
import { disposeFsVae } from "../../src/model/fsvae";
import { deserializeCheckpoint, serializeCheckpoint } from "../../src/train/checkpoint";
import { trainModel, type EpochProgress, type StepProgress, type TrainResult } from "../../src/train/trainer";
import { maxDiff, tinyData, tinySpec, weights } from "./helpers";

const quiet = { logger: () => undefined };

beforeAll(async () => {
  await initBackend("wasm", quiet);
});

/** Epoch reports without the wall-clock fields. */
const timeless = (h: EpochProgress[]) => h.map(({ samplesPerSecond: _s, seconds: _t, ...rest }) => rest);

describe("trainModel", () => {
  it("lowers the training and validation loss on a toy problem and reports progress", async () => {
    const spec = tinySpec({ epochs: 4 });
    const { dataset, catalogue } = await tinyData(spec);
    const steps: StepProgress[] = [];
    const epochs: EpochProgress[] = [];
    const result = await trainModel(spec, dataset, {
      catalogue,
      onStep: (p) => steps.push(p),
      onEpoch: (e) => void epochs.push(e),
      ...quiet,
    });
    try {
      expect(result.status).toBe("completed");
      const batches = Math.ceil(dataset.rows.train.length / 64);
      expect(result.steps).toBe(4 * batches);
      expect(steps).toHaveLength(4 * batches);
      expect(epochs).toHaveLength(4);
      expect(epochs[3].train.loss).toBeLessThan(epochs[0].train.loss * 0.9);
      expect(epochs[3].validation!.loss).toBeLessThan(epochs[0].validation!.loss);
      // beta warms up linearly over 20 steps, then stays at 0.01.
      expect(steps[0].beta).toBe(0);
      expect(steps[10].beta).toBeCloseTo(0.01 * (10 / 20), 12);
      expect(steps[steps.length - 1].beta).toBe(0.01);
      expect(steps.every((s) => Number.isFinite(s.loss) && s.samplesPerSecond > 0 && s.latentUnits === 8)).toBe(true);
      expect(epochs[0].validation!.metrics).toMatchObject({ n: Math.min(2000, dataset.rows.validation.length) });
      expect(epochs[3].activeUnits).toBeGreaterThan(0);
      // Test evaluation next to the baselines, on the same rows.
      const ev = result.evaluation!;
      expect(ev.rows).toBe(dataset.rows.test.length);
      for (const m of [ev.model, ev.baselines.average, ev.baselines.popularity]) {
        expect(m.n).toBe(ev.rows);
        expect(Number.isFinite(m.l2) && Number.isFinite(m.hr10)).toBe(true);
      }
      expect(result.best!.epoch).toBeGreaterThan(0);
    } finally {
      disposeFsVae(result.model);
    }
  });

  it("a run cancelled mid-epoch and resumed from its checkpoint ends with the same weights and metrics", async () => {
    const spec = tinySpec({ epochs: 3 });
    const { dataset, catalogue } = await tinyData(spec);
    const full = await trainModel(spec, dataset, { catalogue, ...quiet });

    const controller = new AbortController();
    const stopAt = Math.ceil(dataset.rows.train.length / 64) + 3; // inside the second epoch
    const cancelled = await trainModel(spec, dataset, {
      catalogue,
      signal: controller.signal,
      onStep: (p) => p.step === stopAt && controller.abort(),
      ...quiet,
    });
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.steps).toBe(stopAt);
    expect(cancelled.evaluation).toBeNull();
    disposeFsVae(cancelled.model);

    // Through a serialisation round trip, as a job worker would store it.
    const checkpoint = serializeCheckpoint(deserializeCheckpoint(cancelled.checkpoint));
    expect(checkpoint.equals(cancelled.checkpoint)).toBe(true);
    const resumed = await trainModel(spec, dataset, { catalogue, resume: checkpoint, ...quiet });
    try {
      expect(resumed.status).toBe("completed");
      expect(resumed.steps).toBe(full.steps);
      expect(maxDiff(weights(resumed.model), weights(full.model))).toBe(0);
      expect(timeless(resumed.history)).toEqual(timeless(full.history));
      expect(resumed.evaluation!.model).toEqual(full.evaluation!.model);
      expect(resumed.latent).toEqual(full.latent);
    } finally {
      disposeFsVae(resumed.model);
      disposeFsVae(full.model);
    }
  });

  it("resumes from an end-of-epoch checkpoint, extends a completed run, and refuses a checkpoint of another run", async () => {
    const spec = tinySpec({ epochs: 2 });
    const { dataset } = await tinyData(spec);
    const saved: Buffer[] = [];
    const full = await trainModel(spec, dataset, { onCheckpoint: (b) => void saved.push(b), ...quiet });
    expect(saved).toHaveLength(2);
    const resumed = await trainModel(spec, dataset, { resume: saved[0], ...quiet });
    expect(maxDiff(weights(resumed.model), weights(full.model))).toBe(0);
    // A completed run given more epochs continues exactly as a longer run would have.
    const longer = tinySpec({ epochs: 3 });
    const extended = await trainModel(longer, dataset, { resume: saved[1], ...quiet });
    const straight = await trainModel(longer, dataset, quiet);
    expect(extended.epochs).toBe(3);
    expect(maxDiff(weights(extended.model), weights(straight.model))).toBe(0);
    disposeFsVae(extended.model);
    disposeFsVae(straight.model);
    const other = tinySpec({ epochs: 2, seed: 8 });
    await expect(trainModel(other, dataset, { resume: saved[0], ...quiet })).rejects.toThrow(/another model, seed/);
    await expect(trainModel(spec, dataset, { resume: Buffer.from("nonsense"), ...quiet })).rejects.toThrow(
      /not a Rubato training checkpoint/,
    );
    disposeFsVae(resumed.model);
    disposeFsVae(full.model);
  });

  it("leaks no tensors: the count is the same after step 10 and step 1,000, and back to the start after disposal", async () => {
    // A very small model and batch so that 1,000 steps take a few seconds.
    const spec = tinySpec(
      { epochs: 200, batch_size: 48, early_stopping: { patience: 0 } },
      {
        encoders: { fast: { units: 4, layers: 1 }, slow: { units: 4, layers: 1 } },
        decoder: { units: 4, layers: 1 },
        latent: { size: 2, kl_warmup_steps: 20 },
      },
    );
    const { dataset } = await tinyData(spec);
    const start = tf.memory().numTensors;
    const counts = new Map<number, number>();
    const controller = new AbortController();
    const result = await trainModel(spec, dataset, {
      signal: controller.signal,
      onStep: (p) => {
        if (p.step === 10 || p.step === 1000) counts.set(p.step, tf.memory().numTensors);
        if (p.step === 1000) controller.abort();
      },
      ...quiet,
    });
    expect(result.steps).toBe(1000);
    expect(result.history.length).toBeGreaterThan(10); // crossed many epoch ends (validation, checkpoints)
    expect(counts.get(1000)).toBe(counts.get(10));
    disposeFsVae(result.model);
    expect(tf.memory().numTensors).toBe(start);
  });

  it("stops early when the validation loss stops improving", async () => {
    // A learning rate far below float32 resolution: the weights never move, so validation never improves after epoch 1.
    const spec = tinySpec({ epochs: 10, learning_rate: 1e-15, early_stopping: { patience: 2 } });
    const { dataset } = await tinyData(spec);
    const epochs: EpochProgress[] = [];
    const result: TrainResult = await trainModel(spec, dataset, { onEpoch: (e) => void epochs.push(e), ...quiet });
    expect(result.status).toBe("early_stopped");
    expect(result.epochs).toBe(3);
    expect(epochs.map((e) => e.improved)).toEqual([true, false, false]);
    expect(result.best).toEqual({ epoch: 1, validationLoss: epochs[0].validation!.loss });
    disposeFsVae(result.model);
  });

  it("trains every learned variant and each optimizer", async () => {
    const cases: [string, Record<string, unknown>][] = [
      ["no-fast", { features: { fast: { enabled: false } }, decoder: { skip: false } }],
      ["no-slow", { features: { slow: { enabled: false } } }],
      ["non-probabilistic", { latent: { probabilistic: false, free_bits: 0, kl_warmup_steps: 0 }, loss: { beta: 0 } }],
      ["aggregate-sequence", { encoders: { fast: { type: "mean", units: 12 }, slow: { units: 8 } } }],
      ["rnn + sgd", { encoders: { fast: { type: "rnn", units: 12 }, slow: { units: 8 } } }],
      ["rmsprop + gaussian_learned", { loss: { reconstruction: "gaussian_learned" } }],
    ];
    for (const [label, more] of cases) {
      const optimizer = label.includes("sgd") ? "sgd" : label.includes("rmsprop") ? "rmsprop" : "adam";
      const spec = tinySpec({ epochs: 2, optimizer, learning_rate: optimizer === "sgd" ? 1e-3 : 3e-3 }, more);
      const { dataset } = await tinyData(spec);
      const result = await trainModel(spec, dataset, quiet);
      expect([label, result.history.every((e) => Number.isFinite(e.train.loss) && Number.isFinite(e.validation!.loss))]).toEqual([
        label,
        true,
      ]);
      if (!spec.latent.probabilistic) expect(result.latent.latentUnits).toBe(0);
      disposeFsVae(result.model);
    }
  });
});
