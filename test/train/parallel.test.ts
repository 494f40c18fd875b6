/**
 * Data-parallel training (training.threads > 1) on the tiny world: one step
 * equals the single-threaded step where no noise is drawn, a run is
 * deterministic for a seed and a thread count, its loss curve follows the
 * single-threaded one, and cancel plus resume ends where an uninterrupted run does.
 */
import { initBackend } from "../../src/model/backend";
import { createFsVae, disposeFsVae } from "../../src/model/fsvae";
import { fsVaeConfig } from "../../src/model/compile";
import { BatchBuilder, disposeBatch, epochOrder } from "../../src/train/batches";
import { Optimizer } from "../../src/train/optimizers";
import { DataParallel } from "../../src/train/parallel";
import { trainStep } from "../../src/train/step";
import { trainModel, type EpochProgress } from "../../src/train/trainer";
import { maxDiff, tinyData, tinySpec, weights } from "./helpers";

const quiet = { logger: () => undefined };

beforeAll(async () => {
  await initBackend("wasm", quiet);
});

describe("data-parallel training", () => {
  it("one step on 2 threads gives the single-threaded update where no noise is drawn (deterministic latent)", async () => {
    const spec = tinySpec({}, { latent: { size: 4, probabilistic: false, free_bits: 0, kl_warmup_steps: 0 }, loss: { beta: 0 } });
    const { dataset } = await tinyData(spec);
    const config = fsVaeConfig(spec, dataset.dim, dataset.catalogueRms);
    const one = createFsVae(config, 7);
    const two = createFsVae(config, 7);
    const order = epochOrder(dataset.rows.train, 7, 0);
    const parallel = await DataParallel.start(two, dataset, { threads: 2, batchSize: 64, seed: 7, backend: "wasm" });
    try {
      const optOne = new Optimizer("adam", 3e-3, one.variables);
      const optTwo = new Optimizer("adam", 3e-3, two.variables);
      const builder = new BatchBuilder(dataset, 64);
      for (let step = 0; step < 3; step++) {
        const batch = builder.build(order, step * 64, step * 64 + 64);
        const a = trainStep(one, optOne, batch.input, batch.y, step, 7);
        disposeBatch(batch);
        const b = await parallel.step(order, step * 64, step * 64 + 64, step, 7, optTwo);
        expect(b.reconstruction).toBeCloseTo(a.reconstruction, 5);
      }
      // Float32 sums in another order: equal to rounding, not bit for bit.
      expect(maxDiff(weights(one), weights(two))).toBeLessThan(1e-5);
      expect(maxDiff(weights(one), weights(two))).toBeGreaterThanOrEqual(0);
    } finally {
      await parallel.close();
      disposeFsVae(one);
      disposeFsVae(two);
    }
  });

  it("is deterministic for a seed and a thread count, and follows the single-threaded loss curve", async () => {
    const spec = tinySpec({ epochs: 4, threads: 2 });
    const single = tinySpec({ epochs: 4, threads: 1 });
    const { dataset, catalogue } = await tinyData(spec);
    const runs = [];
    for (const s of [spec, spec, single]) runs.push(await trainModel(s, dataset, { catalogue, ...quiet }));
    const [a, b, one] = runs;
    try {
      expect(a.status).toBe("completed");
      expect(maxDiff(weights(a.model), weights(b.model))).toBe(0);
      const loss = (h: EpochProgress[]) => h.map((e) => e.validation!.loss);
      expect(loss(a.history)).toEqual(loss(b.history));
      // Other noise draws, same objective: each epoch's validation loss within 5 % of one thread's.
      loss(a.history).forEach((l, e) => expect(Math.abs(l - loss(one.history)[e]) / loss(one.history)[e]).toBeLessThan(0.05));
      expect(loss(a.history)[3]).toBeLessThan(loss(a.history)[0]);
      expect(maxDiff(weights(a.model), weights(one.model))).toBeGreaterThan(0);
    } finally {
      for (const r of runs) disposeFsVae(r.model);
    }
  });

  it("cancelled and resumed on 2 threads, ends with the weights of an uninterrupted run", async () => {
    const spec = tinySpec({ epochs: 2, threads: 2 });
    const { dataset, catalogue } = await tinyData(spec);
    const full = await trainModel(spec, dataset, { catalogue, ...quiet });
    const controller = new AbortController();
    const stopAt = Math.ceil(dataset.rows.train.length / 64) + 2;
    let saved: Buffer | null = null;
    const cancelled = await trainModel(spec, dataset, {
      catalogue,
      signal: controller.signal,
      onStep: (p) => p.step === stopAt && controller.abort(),
      onCheckpoint: (c) => void (saved = c),
      ...quiet,
    });
    expect(cancelled.status).toBe("cancelled");
    const resumed = await trainModel(spec, dataset, { catalogue, resume: saved!, ...quiet });
    try {
      expect(resumed.status).toBe("completed");
      expect(maxDiff(weights(full.model), weights(resumed.model))).toBe(0);
      expect(resumed.evaluation!.model.l2).toBe(full.evaluation!.model.l2);
    } finally {
      for (const r of [full, cancelled, resumed]) disposeFsVae(r.model);
    }
  });
});
