/**
 * vae-cf in the trainer: x_b in its batches (and nothing else), one
 * data-parallel step on 2 threads equals the single-threaded update where no
 * noise is drawn (the helpers read the dataset's shared bag), and a short run
 * lowers the validation loss.
 */
import { initBackend } from "../../src/model/backend";
import { learnedModel } from "../../src/model/registry";
import { BatchBuilder, checkDatasetFits, disposeBatch, epochOrder } from "../../src/train/batches";
import { Optimizer } from "../../src/train/optimizers";
import { DataParallel } from "../../src/train/parallel";
import { trainStep } from "../../src/train/step";
import { trainModel } from "../../src/train/trainer";
import { maxDiff, tinyData, tinySpec, weights } from "./helpers";

const quiet = { logger: () => undefined };
const vaeCf = (more: Record<string, unknown> = {}, training: Record<string, unknown> = {}) =>
  tinySpec(training, { type: "vae-cf", vae_cf: { units: 12 }, ...more });

beforeAll(async () => {
  await initBackend("wasm", quiet);
});

describe("vae-cf training", () => {
  it("builds only x_b for it; one step on 2 threads gives the single-threaded update (no noise drawn)", async () => {
    const spec = vaeCf({
      vae_cf: { units: 12, input_dropout: 0 },
      latent: { size: 4, probabilistic: false, free_bits: 0, kl_warmup_steps: 0 },
      loss: { beta: 0 },
    });
    const { dataset } = await tinyData(spec);
    const module = learnedModel("vae-cf");
    const one = module.create(spec, { embeddingDim: dataset.dim, catalogueRms: dataset.catalogueRms }, 7);
    const two = module.fromConfig(one.config, 7);
    checkDatasetFits(one, dataset);
    expect(dataset.bag).toBeUndefined();
    const order = epochOrder(dataset.rows.train, 7, 0);
    const parallel = await DataParallel.start(two, dataset, { threads: 2, batchSize: 64, seed: 7, backend: "wasm" });
    expect(dataset.bag).toBeDefined();
    try {
      const optOne = new Optimizer("adam", 3e-3, one.variables);
      const optTwo = new Optimizer("adam", 3e-3, two.variables);
      const builder = new BatchBuilder(dataset, 64, one.inputs);
      for (let step = 0; step < 3; step++) {
        const batch = builder.build(order, step * 64, step * 64 + 64);
        expect(Object.keys(batch.input)).toEqual(["x_b"]);
        const a = trainStep(one, optOne, batch.input, batch.y, step, 7);
        disposeBatch(batch);
        const b = await parallel.step(order, step * 64, step * 64 + 64, step, 7, optTwo);
        // Float32 sums over two shards: equal to rounding.
        expect(Math.abs(b.reconstruction - a.reconstruction)).toBeLessThan(1e-5 * a.reconstruction);
      }
      expect(maxDiff(weights(one), weights(two))).toBeLessThan(1e-5);
    } finally {
      await parallel.close();
      one.dispose();
      two.dispose();
    }
  });

  it("a short run lowers the validation loss and keeps latent units active", async () => {
    const spec = vaeCf({}, { epochs: 4 });
    const { dataset } = await tinyData(spec);
    const trained = await trainModel(spec, dataset, { logger: () => undefined });
    const h = trained.history;
    expect(trained.status).toBe("completed");
    expect(h[h.length - 1].validation!.loss).toBeLessThan(h[0].validation!.loss);
    expect(trained.model.type).toBe("vae-cf");
    expect(trained.latent.latentUnits).toBe(4);
    expect(trained.latent.activeUnits).toBeGreaterThan(0);
    trained.model.dispose();
  });
});
