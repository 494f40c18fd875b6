/**
 * VAE-CF (src/model/vae-cf.ts and its registry adapter): the config from a
 * spec, shapes, the beta-ELBO's parts, training lowers the loss, seeded init,
 * no leaks, the checkpoint layout and the artifact round-trip.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { seededNoise } from "../../src/model/layers";
import { gaussianKl, klWithFreeBits, reconstructionLoss } from "../../src/model/loss";
import { normals } from "../../src/model/random";
import { isLearned, learnedModel, loadArtifact, modelFor } from "../../src/model/registry";
import { summarizeVaeCf, VAE_CF_FORMAT } from "../../src/model/registry/vae-cf";
import {
  createVaeCf,
  disposeVaeCf,
  vaeCfConfig,
  vaeCfEmbed,
  vaeCfForward,
  vaeCfLoss,
  vaeCfParameterCount,
  type VaeCfConfig,
} from "../../src/model/vae-cf";
import { SpecSchema, type ModelSpec } from "../../src/spec/schema";
import { adamSteps, values } from "./baselines";

const D = 8;
const spec = (over: Record<string, unknown> = {}): ModelSpec =>
  SpecSchema.parse({ name: "v", type: "vae-cf", vae_cf: { units: 12 }, latent: { size: 5 }, loss: { beta: 0.1 }, ...over });
const config = (over: Partial<VaeCfConfig> = {}): VaeCfConfig => ({ ...vaeCfConfig(spec(), D), ...over });

/** b bags and targets: the target is a fixed linear map of the bag, so the model can learn it. */
function batch(b: number, seed = 1): { x_b: tf.Tensor2D; y: tf.Tensor2D } {
  const x = normals(b * D, seed);
  const y = new Float32Array(b * D);
  for (let i = 0; i < b; i++) for (let k = 0; k < D; k++) y[i * D + k] = 0.8 * x[i * D + ((k + 1) % D)] - 0.3 * x[i * D + k];
  return { x_b: tf.tensor2d(x, [b, D]), y: tf.tensor2d(y, [b, D]) };
}
const disposeObjective = (o: ReturnType<typeof vaeCfLoss>) => tf.dispose([o.loss, o.reconstruction, o.kl, o.klPerDim, o.yHat]);

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("vae-cf", () => {
  it("compiles a vae-cf spec: vae_cf's sizes, the latent, the loss and the embedding scale", () => {
    expect(vaeCfConfig(spec(), D)).toEqual({
      embeddingDim: D,
      layers: 1,
      units: 12,
      activation: "tanh",
      inputDropout: 0.5,
      latent: { size: 5, probabilistic: true, initialSigma: 1 },
      loss: { reconstruction: "mse", variance: 1, beta: 0.1, freeBits: 0, klWarmupSteps: 0 },
      embeddingScale: 1,
    });
    expect(vaeCfConfig(spec({ features: { embedding_scale: "rms" } }), D, 0.25).embeddingScale).toBe(0.25);
    expect(() => vaeCfConfig(SpecSchema.parse({ name: "f" }), D)).toThrow(/not vae-cf/);
    expect(isLearned("vae-cf")).toBe(true);
    expect(modelFor("vae-cf").latent(spec())).toBe("probabilistic");
  });

  it("gives the shapes of the beta-ELBO's parts and of the embedding; the loss is reconstruction + beta KL", () => {
    const model = createVaeCf(config(), 1);
    const { x_b, y } = batch(6);
    const o = vaeCfLoss(model, x_b, y, { beta: 0.1, freeBits: 0 });
    expect(o.yHat.shape).toEqual([6, D]);
    expect(o.klPerDim.shape).toEqual([5]);
    const [loss, rec, kl] = [o.loss, o.reconstruction, o.kl].map((t) => t.dataSync()[0]);
    expect(loss).toBeCloseTo(rec + 0.1 * kl, 5);
    // Inference: z = mu; the KL is that of q(z | x_b) against N(0, I).
    const ref = tf.tidy(() => {
      const { q, yHat } = vaeCfForward(model, x_b);
      return [reconstructionLoss(y, yHat, "mse").dataSync()[0], klWithFreeBits(gaussianKl(q.mu, q.logSigma!), 0).kl.dataSync()[0]];
    });
    expect(rec).toBeCloseTo(ref[0], 5);
    expect(kl).toBeCloseTo(ref[1], 5);
    const e = vaeCfEmbed(model, x_b, true);
    expect(e.mu.shape).toEqual([6, 5]);
    expect(e.sigma!.shape).toEqual([6, 5]);
    expect(e.predicted!.dataSync()).toEqual(o.yHat.dataSync());
    tf.dispose([e.mu, e.sigma!, e.predicted!, x_b, y]);
    disposeObjective(o);
    disposeVaeCf(model);
  });

  it("deterministic (latent.probabilistic: false) is Mult-DAE: no log sigma, KL 0", () => {
    const c = vaeCfConfig(spec({ latent: { size: 5, probabilistic: false }, loss: { beta: 0 } }), D);
    const model = createVaeCf(c, 2);
    expect(model.variables.map((v) => v.key)).not.toContain("encoder/log_sigma/kernel");
    const { x_b, y } = batch(4);
    const o = vaeCfLoss(model, x_b, y, { beta: 0, freeBits: 0, noise: seededNoise(1, 0) });
    expect(o.kl.dataSync()[0]).toBe(0);
    expect(o.klPerDim.shape).toEqual([0]);
    expect(vaeCfEmbed(model, x_b).sigma).toBeNull();
    disposeObjective(o);
    tf.dispose([x_b, y]);
    disposeVaeCf(model);
  });

  it("a few Adam steps lower the loss (with eps and input dropout), and the loss is measured in units of s", () => {
    const { x_b, y } = batch(32);
    const model = createVaeCf(config({ inputDropout: 0.2, loss: { ...config().loss, beta: 0.01 } }), 3);
    const { before, after } = adamSteps(
      model.variables,
      (step) => vaeCfLoss(model, x_b, y, step < 0 ? { beta: 0.01, freeBits: 0 } : { beta: 0.01, freeBits: 0, noise: seededNoise(3, step) }),
      60,
    );
    expect(after).toBeLessThan(0.6 * before);
    // Scaling inputs and targets by s with embeddingScale s gives the same loss.
    const plain = createVaeCf(config(), 4);
    const scaled = createVaeCf(config({ embeddingScale: 3 }), 4);
    const [x3, y3] = [tf.mul(x_b, 3) as tf.Tensor2D, tf.mul(y, 3) as tf.Tensor2D];
    const a = vaeCfLoss(plain, x_b, y, { beta: 0.1, freeBits: 0 });
    const b = vaeCfLoss(scaled, x3, y3, { beta: 0.1, freeBits: 0 });
    expect(b.loss.dataSync()[0]).toBeCloseTo(a.loss.dataSync()[0], 4);
    expect(b.yHat.dataSync()[0]).toBeCloseTo(3 * a.yHat.dataSync()[0], 4);
    [a, b].forEach(disposeObjective);
    tf.dispose([x_b, y, x3, y3]);
    [model, plain, scaled].forEach(disposeVaeCf);
  });

  it("is deterministic for a seed (weights and a noisy step's loss), and the seed matters", () => {
    const [a, b, c] = [createVaeCf(config(), 7), createVaeCf(config(), 7), createVaeCf(config(), 8)];
    expect(values(a.variables)).toEqual(values(b.variables));
    expect(values(a.variables)).not.toEqual(values(c.variables));
    const { x_b, y } = batch(5);
    const lossOf = (m: typeof a) =>
      tf.tidy(() => vaeCfLoss(m, x_b, y, { beta: 0.1, freeBits: 0, noise: seededNoise(9, 4) }).loss.dataSync()[0]);
    expect(lossOf(a)).toBe(lossOf(b));
    tf.dispose([x_b, y]);
    [a, b, c].forEach(disposeVaeCf);
  });

  it("leaks no tensor: build, loss, gradients, embed, save, load and dispose", () => {
    const start = tf.memory().numTensors;
    const model = createVaeCf(config({ loss: { ...config().loss, reconstruction: "gaussian_learned", freeBits: 0.1 } }), 5);
    const { x_b, y } = batch(6);
    adamSteps(
      model.variables,
      (step) => vaeCfLoss(model, x_b, y, { beta: 0.1, freeBits: 0.1, noise: seededNoise(5, Math.max(step, 0)) }),
      2,
    );
    const e = vaeCfEmbed(model, x_b, true);
    tf.dispose([e.mu, e.sigma!, e.predicted!]);
    const wrapped = learnedModel("vae-cf").fromConfig(model.config, 1);
    const loaded = loadArtifact(wrapped.save());
    loaded.predict({ x_b }).dispose();
    wrapped.dispose();
    loaded.dispose();
    tf.dispose([x_b, y]);
    disposeVaeCf(model);
    expect(tf.memory().numTensors).toBe(start);
  });

  it("keeps its variables under stable keys in a fixed order (the checkpoint layout); the summary counts them", () => {
    const c = config({ layers: 2, loss: { ...config().loss, reconstruction: "gaussian_learned" } });
    const model = createVaeCf(c, 6);
    expect(model.variables.map((v) => `${v.key} [${v.variable.shape}]`)).toEqual([
      `encoder/dense0/kernel [${D},12]`,
      "encoder/dense0/bias [12]",
      "encoder/dense1/kernel [12,12]",
      "encoder/dense1/bias [12]",
      "encoder/mu/kernel [12,5]",
      "encoder/mu/bias [5]",
      "encoder/log_sigma/kernel [12,5]",
      "encoder/log_sigma/bias [5]",
      "decoder/dense0/kernel [5,12]",
      "decoder/dense0/bias [12]",
      "decoder/dense1/kernel [12,12]",
      "decoder/dense1/bias [12]",
      `decoder/out/kernel [12,${D}]`,
      `decoder/out/bias [${D}]`,
      `decoder/log_variance [${D}]`,
    ]);
    const total = model.variables.reduce((n, v) => n + v.variable.size, 0);
    expect(vaeCfParameterCount(c)).toBe(total);
    expect(summarizeVaeCf(c).params).toBe(total);
    expect(summarizeVaeCf(c).layers.reduce((n, l) => n + l.params, 0)).toBe(total);
    disposeVaeCf(model);
  });

  it("latent.initial_sigma sets log sigma's bias", () => {
    const model = createVaeCf(config({ latent: { size: 5, probabilistic: true, initialSigma: 0.1 } }), 6);
    const bias = model.variables.find((v) => v.key === "encoder/log_sigma/bias")!.variable.dataSync();
    bias.forEach((b) => expect(b).toBeCloseTo(Math.log(0.1), 6));
    disposeVaeCf(model);
  });

  it("through the registry: reads x_b only, and saves and loads as rubato-vae-cf/1 with the same predictions", () => {
    const m = learnedModel("vae-cf").create(spec({ features: { embedding_scale: "rms" } }), { embeddingDim: D, catalogueRms: 0.5 }, 3);
    expect(m.inputs).toEqual({ window: 0, fastStep: 0, slowDim: 0, bagDim: D, outputDim: D });
    expect(m.schedule).toEqual({ beta: 0.1, warmupSteps: 0, freeBits: 0 });
    expect(m.latentUnits).toBe(5);
    const { x_b, y } = batch(4);
    expect(() => m.predict({})).toThrow(/x_b/);
    const artifact = m.save({ featureStats: { transform: "log1p" } });
    expect(artifact.topology).toMatchObject({ format: VAE_CF_FORMAT, type: "vae-cf", extra: { featureStats: { transform: "log1p" } } });
    // The topology as the store keeps it (JSON), the weights as bytes.
    const copy = loadArtifact({ topology: JSON.parse(JSON.stringify(artifact.topology)), weights: Buffer.from(artifact.weights) });
    expect(copy.type).toBe("vae-cf");
    const [a, b] = [m.predict({ x_b }), copy.predict({ x_b })];
    expect(b.dataSync()).toEqual(a.dataSync());
    const state = copy.embed({ x_b }, { predict: true });
    expect(state.parts).toEqual({});
    expect(state.predicted!.dataSync()).toEqual(a.dataSync());
    const parts = copy.loss({ x_b }, y, { beta: 0.1, freeBits: 0 });
    expect(parts.klPerDim.shape).toEqual([5]);
    tf.dispose([
      a,
      b,
      state.mu,
      state.sigma!,
      state.predicted!,
      parts.loss,
      parts.reconstruction,
      parts.kl,
      parts.klPerDim,
      parts.yHat,
      x_b,
      y,
    ]);
    m.dispose();
    copy.dispose();
  });
});
