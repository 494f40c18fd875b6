/**
 * LatentCross (src/model/latent-cross.ts): the config from a spec's features,
 * shapes, c = 0 is a plain RNN with the head, training lowers the loss,
 * seeded init, no leaks, and the checkpoint layout.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { activation, dense, seededNoise } from "../../src/model/layers";
import {
  createLatentCross,
  disposeLatentCross,
  LATENT_CROSS_DEFAULTS,
  latentCross,
  latentCrossConfig,
  latentCrossEmbed,
  latentCrossForward,
  latentCrossLoss,
  type LatentCrossConfig,
  type LatentCrossSpecFields,
} from "../../src/model/latent-cross";
import { recurrentForward } from "../../src/model/lstm";
import { specWith } from "../features/world";
import { adamSteps, D, disposeBatch, FEATURES, gradientsOn, STEP, syntheticBatch, values, W, worstDifference } from "./baselines";

const FIELDS: LatentCrossSpecFields = { ...LATENT_CROSS_DEFAULTS, units: 12, head: { layers: 1, units: 10 } };
const LOSS = { reconstruction: "mse" as const, variance: 1 };
const config = (over: Partial<LatentCrossConfig> = {}): LatentCrossConfig => ({ ...latentCrossConfig(FEATURES, FIELDS, LOSS, D), ...over });

const disposeObjective = (o: ReturnType<typeof latentCrossLoss>) => tf.dispose([o.loss, o.reconstruction, o.kl, o.klPerDim, o.yHat]);

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("latent-cross", () => {
  it("takes the context columns (time_since_last, daypart, skipped) and Δ from a spec's features", () => {
    const c = config();
    expect(c).toMatchObject({ window: W, stepDim: STEP, embeddingDim: D, embeddingOffset: 0, deltaColumn: 2 });
    // Steps are [embedding (D), time_since_last, skipped, daypart (4)]: time, then the daypart, then skipped.
    expect(c.contextColumns).toEqual([D, D + 2, D + 3, D + 4, D + 5, D + 1]);
    const bare = specWith({ fast: { per_play: ["track_embedding"] } });
    expect(() => latentCrossConfig(bare.features, FIELDS, LOSS, D)).toThrow(/context/);
    const noDelta = latentCrossConfig(specWith({ fast: { per_play: ["skipped", "track_embedding"] } }).features, FIELDS, LOSS, D);
    expect(noDelta).toMatchObject({ embeddingOffset: 1, contextColumns: [0], deltaColumn: null });
    expect(() => latentCrossConfig(FEATURES, FIELDS, { reconstruction: "gaussian_learned", variance: 1 }, D)).toThrow(/gaussian_learned/);
  });

  it("gives the shapes of FS-VAE's objective and embedding", () => {
    const model = createLatentCross(config(), 1);
    const batch = syntheticBatch(5);
    const o = latentCrossLoss(model, batch.input, batch.y);
    expect(o.yHat.shape).toEqual([5, D]);
    expect(o.loss.shape).toEqual([]);
    expect(o.kl.dataSync()[0]).toBe(0);
    expect(o.klPerDim.shape).toEqual([0]);
    const e = latentCrossEmbed(model, batch.input);
    expect(e.mu.shape).toEqual([5, 12]);
    expect(e.sigma).toBeNull();
    disposeObjective(o);
    e.mu.dispose();
    disposeBatch(batch);
    disposeLatentCross(model);
  });

  it.each(["lstm", "rnn"] as const)("with c = 0 it is a plain %s over the track embeddings with the head", (cell) => {
    const model = createLatentCross(config({ cell, layers: 2 }), 2);
    model.params.contextIn.assign(tf.zerosLike(model.params.contextIn));
    model.params.contextOut.assign(tf.zerosLike(model.params.contextOut));
    const batch = syntheticBatch(6);
    const { state, yHat } = latentCrossForward(model, batch.input);
    const reference = tf.tidy(() => {
      const e = tf.slice(batch.input.x_s!, [0, 0, 0], [6, W, D]);
      const h = recurrentForward(model.params.rnn, e, { mask: batch.input.mask, outputActivation: "leakyRelu" }).last;
      return dense(activation(dense(h, model.params.head[0]), "leaky_relu"), model.params.out);
    });
    expect(yHat.dataSync()).toEqual(reference.dataSync());
    // A context moves the prediction once its embeddings are not 0.
    model.params.contextIn.assign(tf.fill(model.params.contextIn.shape, 0.5));
    const crossed = latentCrossForward(model, batch.input);
    expect(tf.max(tf.abs(tf.sub(crossed.yHat, yHat))).dataSync()[0]).toBeGreaterThan(1e-4);
    tf.dispose([state, yHat, reference, crossed.state, crossed.yHat]);
    disposeBatch(batch);
    disposeLatentCross(model);
  });

  it("the cross is (1 + c) ∘ h", () => {
    const h = tf.tensor2d([[1, 2, 3]]);
    const c = tf.tensor2d([[0, -1, 0.5]]);
    const x = latentCross(h, c);
    expect(Array.from(x.dataSync())).toEqual([1, 0, 4.5]);
    tf.dispose([h, c, x]);
  });

  it("a few Adam steps lower the loss (with dropout noise), and the loss is measured in units of s", () => {
    const batch = syntheticBatch(32);
    const model = createLatentCross(config({ dropout: 0.1 }), 3);
    const { before, after } = adamSteps(
      model.variables,
      (step) => latentCrossLoss(model, batch.input, batch.y, step < 0 ? {} : { noise: seededNoise(3, step) }),
      30,
    );
    expect(after).toBeLessThan(0.7 * before);
    const plain = createLatentCross(config(), 4);
    const scaled = createLatentCross(config({ embeddingScale: 3 }), 4);
    const x3 = { ...batch.input, x_s: tf.mul(batch.input.x_s!, tf.tensor1d(Array.from({ length: STEP }, (_, k) => (k < D ? 3 : 1)))) as tf.Tensor3D };
    const y3 = tf.mul(batch.y, 3) as tf.Tensor2D;
    const a = latentCrossLoss(plain, batch.input, batch.y);
    const b = latentCrossLoss(scaled, x3, y3);
    expect(b.loss.dataSync()[0]).toBeCloseTo(a.loss.dataSync()[0], 4);
    [a, b].forEach(disposeObjective);
    tf.dispose([x3.x_s, y3]);
    [model, plain, scaled].forEach(disposeLatentCross);
    disposeBatch(batch);
  });

  it("is deterministic for a seed, and the seed matters", () => {
    const [a, b, c] = [createLatentCross(config(), 7), createLatentCross(config(), 7), createLatentCross(config(), 8)];
    expect(values(a.variables)).toEqual(values(b.variables));
    expect(values(a.variables)).not.toEqual(values(c.variables));
    [a, b, c].forEach(disposeLatentCross);
  });

  it("leaks no tensor: build, forward, loss, gradients, embed and dispose", () => {
    const start = tf.memory().numTensors;
    const model = createLatentCross(config({ dropout: 0.2 }), 5);
    const batch = syntheticBatch(6);
    adamSteps(model.variables, (step) => latentCrossLoss(model, batch.input, batch.y, { noise: seededNoise(5, Math.max(step, 0)) }), 2);
    latentCrossEmbed(model, batch.input).mu.dispose();
    disposeBatch(batch);
    disposeLatentCross(model);
    expect(tf.memory().numTensors).toBe(start);
  });

  it("keeps its variables under stable keys in a fixed order (the checkpoint layout)", () => {
    const model = createLatentCross(config({ layers: 2, head: { layers: 2, units: 10 } }), 6);
    expect(model.variables.map((v) => `${v.key} [${v.variable.shape}]`)).toEqual([
      `lstm/layer0/kernel [${D + 12},48]`,
      "lstm/layer0/bias [48]",
      "lstm/layer1/kernel [24,48]",
      "lstm/layer1/bias [48]",
      `context_in/kernel [6,${D}]`,
      "context_out/kernel [7,12]",
      "head/dense0/kernel [12,10]",
      "head/dense0/bias [10]",
      "head/dense1/kernel [10,10]",
      "head/dense1/bias [10]",
      `head/out/kernel [10,${D}]`,
      `head/out/bias [${D}]`,
    ]);
    disposeLatentCross(model);
  });
});

describe("latent-cross on wasm (the fused LSTM kernels)", () => {
  afterAll(async () => {
    await tf.setBackend("cpu");
  });

  it.each(["lstm", "rnn"] as const)("gives the cpu backend's loss and gradients (%s, dropout)", async (cell) => {
    const build = () => {
      const model = createLatentCross(config({ cell, layers: 2, dropout: 0.1 }), 11);
      return {
        variables: model.variables,
        objective: (b: ReturnType<typeof syntheticBatch>) => latentCrossLoss(model, b.input, b.y, { noise: seededNoise(3, 2) }),
        dispose: () => disposeLatentCross(model),
      };
    };
    const wasm = await gradientsOn("wasm", build);
    const cpu = await gradientsOn("cpu", build);
    expect(Math.abs(wasm.value - cpu.value)).toBeLessThan(1e-5 * Math.max(1, Math.abs(cpu.value)));
    expect(worstDifference(wasm.grads, cpu.grads)).toBeLessThan(1e-5);
  });
});
