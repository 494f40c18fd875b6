/**
 * The FS-VAE graph: output shapes of every shipped variant, the summary
 * against the real parameters, inference vs training behaviour, and
 * gradients on wasm (fast kernels) equal to the cpu backend's.
 */
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/model/backend";
import { compileSpec, fsVaeConfig } from "../../src/model/compile";
import {
  betaElbo,
  createFsVae,
  disposeFsVae,
  embed,
  forward,
  parameterCount,
  type FsVae,
  type FsVaeConfig,
  type FsVaeInput,
} from "../../src/model/fsvae";
import { seededNoise } from "../../src/model/layers";
import { normals } from "../../src/model/random";
import { formatSummary, summarizeConfig, summarizeSpec } from "../../src/model/summary";
import { applyOverrides, loadSpec } from "../../src/spec";
import type { ModelSpec } from "../../src/spec/schema";

const MODELS = path.resolve(__dirname, "../../models");
const DIM = 16;

function spec(name: string, overrides?: unknown): ModelSpec {
  const r = loadSpec(name, { modelsDir: MODELS });
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("; "));
  if (!overrides) return r.spec;
  const o = applyOverrides(r.spec, overrides);
  if (!o.ok) throw new Error(o.errors.map((e) => e.message).join("; "));
  return o.spec;
}

/** Random inputs for a config; some rows left-padded. */
function inputs(config: FsVaeConfig, batch: number, seed = 1): { input: FsVaeInput; y: tf.Tensor2D } {
  const input: FsVaeInput = {};
  const s = config.encoderS;
  if (s) {
    input.x_s = tf.tensor3d(normals(batch * s.window * s.inputDim, seed), [batch, s.window, s.inputDim]);
    const mask = new Float32Array(batch * s.window);
    for (let b = 0; b < batch; b++) for (let t = b % s.window; t < s.window; t++) mask[b * s.window + t] = 1;
    input.mask = tf.tensor2d(mask, [batch, s.window]);
  }
  if (config.encoderN) input.x_n = tf.tensor2d(normals(batch * config.encoderN.inputDim, seed + 1), [batch, config.encoderN.inputDim]);
  return { input, y: tf.tensor2d(normals(batch * config.decoder.outputDim, seed + 2), [batch, config.decoder.outputDim]) };
}

function disposeInputs(x: { input: FsVaeInput; y: tf.Tensor2D }): void {
  tf.dispose([x.input.x_s, x.input.mask, x.input.x_n, x.y].filter((t) => t != null) as tf.Tensor[]);
}

beforeAll(async () => {
  await initBackend("wasm", { logger: () => undefined });
});

describe("latent.initial_sigma", () => {
  it("sets the width q(z | x) starts training with: the log-sigma layers' bias is its log", () => {
    const before = tf.memory().numTensors;
    const widths = [1, 0.05].map((initial_sigma) => {
      const model = compileSpec(spec("fs-vae-quick", { latent: { initial_sigma } }), DIM);
      const x = inputs(model.config, 64);
      const e = embed(model, x.input);
      // Median sigma over the batch and units: near the initial sigma, since W h is small at initialisation.
      const sigma = Array.from(e.sigma!.dataSync()).sort((a, b) => a - b);
      const median = sigma[sigma.length >> 1];
      tf.dispose([e.mu, e.sigma!]);
      disposeInputs(x);
      disposeFsVae(model);
      return median;
    });
    expect(widths[0]).toBeGreaterThan(0.5);
    expect(widths[0]).toBeLessThan(2);
    expect(widths[1]).toBeGreaterThan(0.025);
    expect(widths[1]).toBeLessThan(0.1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("is refused when not positive, with what was expected", () => {
    const r = loadSpec("fs-vae-quick", { modelsDir: MODELS });
    if (!r.ok) throw new Error("fs-vae-quick does not load");
    const o = applyOverrides(r.spec, { latent: { initial_sigma: 0 } });
    expect(o.ok).toBe(false);
    if (!o.ok) expect(o.errors[0]).toMatchObject({ path: "latent.initial_sigma", message: "expected a positive number, got 0" });
  });
});

describe("variants compile to the right shapes", () => {
  const cases: { name: string; fast: boolean; slow: boolean; probabilistic: boolean; z: number }[] = [
    { name: "fs-vae", fast: true, slow: true, probabilistic: true, z: 160 },
    { name: "fs-vae-quick", fast: true, slow: true, probabilistic: true, z: 160 },
    { name: "no-fast", fast: false, slow: true, probabilistic: true, z: 80 },
    { name: "no-slow", fast: true, slow: false, probabilistic: true, z: 80 },
    { name: "non-probabilistic", fast: true, slow: true, probabilistic: false, z: 160 },
    { name: "vanilla-rnn", fast: true, slow: false, probabilistic: false, z: 80 },
    { name: "aggregate-sequence", fast: true, slow: true, probabilistic: true, z: 160 },
    { name: "shuffle", fast: true, slow: true, probabilistic: true, z: 160 },
  ];
  it.each(cases)("$name", ({ name, fast, slow, probabilistic, z }) => {
    const before = tf.memory().numTensors;
    const s = spec(name);
    const model = compileSpec(s, DIM);
    const x = inputs(model.config, 7);
    const out = forward(model, x.input, seededNoise(1, 0));
    expect(out.yHat.shape).toEqual([7, DIM]);
    expect(out.z.shape).toEqual([7, z]);
    expect(out.q_s != null).toBe(fast);
    expect(out.q_n != null).toBe(slow);
    for (const q of [out.q_s, out.q_n]) {
      if (!q) continue;
      expect(q.mu.shape).toEqual([7, 80]);
      expect(q.logSigma?.shape ?? null).toEqual(probabilistic ? [7, 80] : null);
    }
    const o = betaElbo(model, x.input, x.y, { beta: s.loss.beta, freeBits: 0 });
    expect(o.loss.shape).toEqual([]);
    expect(o.klPerDim.shape).toEqual([probabilistic ? z : 0]);
    if (!probabilistic) expect(o.loss.dataSync()[0]).toBe(o.reconstruction.dataSync()[0]);
    const e = embed(model, x.input);
    expect(e.mu.shape).toEqual([7, z]);
    expect(e.sigma?.shape ?? null).toEqual(probabilistic ? [7, z] : null);
    // The summary is computed without tensors; it must agree with the real variables.
    const summary = summarizeSpec(s, DIM);
    expect(summary.params).toBe(parameterCount(model));
    expect(summary.latent).toBe(z);
    expect(formatSummary(summary)).toContain("total parameters");
    tf.dispose(
      [
        out.yHat,
        out.z,
        out.q_s?.mu,
        out.q_s?.logSigma,
        out.q_n?.mu,
        out.q_n?.logSigma,
        o.loss,
        o.reconstruction,
        o.kl,
        o.klPerDim,
        o.yHat,
        e.mu,
        e.sigma,
      ].filter((t) => t != null) as tf.Tensor[],
    );
    disposeInputs(x);
    disposeFsVae(model);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("sum combine, elu activation and a learned variance", () => {
    const s = spec("fs-vae-quick", {
      latent: { combine: "sum", size: 8 },
      encoders: { fast: { activation: "elu" } },
      loss: { reconstruction: "gaussian_learned" },
    });
    const model = compileSpec(s, DIM);
    expect(model.variables.map((v) => v.key)).toContain("decoder/log_variance");
    const x = inputs(model.config, 5);
    tf.tidy(() => {
      expect(forward(model, x.input, seededNoise(1, 0)).z.shape).toEqual([5, 8]);
      const out = forward(model, x.input);
      const e = embed(model, x.input);
      // sum: variances add.
      const sigma_s = tf.exp(out.q_s!.logSigma!);
      const sigma_n = tf.exp(out.q_n!.logSigma!);
      const want = tf.sqrt(tf.add(tf.square(sigma_s), tf.square(sigma_n)));
      expect(tf.max(tf.abs(tf.sub(e.sigma!, want))).dataSync()[0]).toBeLessThan(1e-6);
      expect(Number.isFinite(betaElbo(model, x.input, x.y, { beta: 1, freeBits: 0 }).loss.dataSync()[0])).toBe(true);
    });
    expect(summarizeSpec(s, DIM).params).toBe(parameterCount(model));
    disposeInputs(x);
    disposeFsVae(model);
  });

  it("refuses non-learned specs and reads widths from the spec", () => {
    expect(() => fsVaeConfig(spec("average"), DIM)).toThrow(/baseline/);
    const c = fsVaeConfig(spec("fs-vae"), 80);
    expect(c.encoderS).toMatchObject({ type: "lstm", window: 5, inputDim: 85, layers: 2, units: 128 });
    expect(c.encoderN).toMatchObject({ inputDim: 6, layers: 2, units: 64 });
    expect(c.loss).toMatchObject({ beta: 0.5, reconstruction: "mse" });
    expect(summarizeConfig(c).layers.map((l) => l.name)).toEqual([
      "x_s",
      "encoder_s/lstm0",
      "encoder_s/lstm1",
      "encoder_s/mu",
      "encoder_s/log_sigma",
      "z_s",
      "x_n",
      "encoder_n/dense0",
      "encoder_n/dense1",
      "encoder_n/mu",
      "encoder_n/log_sigma",
      "z_n",
      "z",
      "decoder/dense0",
      "decoder/dense1",
      "decoder/out",
    ]);
  });
});

describe("training vs inference", () => {
  let model: FsVae;
  let x: { input: FsVaeInput; y: tf.Tensor2D };
  beforeAll(() => {
    model = compileSpec(spec("fs-vae-quick"), DIM);
    x = inputs(model.config, 6);
  });
  afterAll(() => {
    disposeInputs(x);
    disposeFsVae(model);
  });

  it("inference is deterministic with z = mu; training samples z and applies dropout, reproducibly per (seed, step)", () => {
    tf.tidy(() => {
      const a = forward(model, x.input);
      const b = forward(model, x.input);
      expect(Array.from(a.yHat.dataSync())).toEqual(Array.from(b.yHat.dataSync()));
      expect(Array.from(a.z.dataSync())).toEqual(Array.from(tf.concat([a.q_s!.mu, a.q_n!.mu], 1).dataSync()));
      const t1 = forward(model, x.input, seededNoise(5, 3));
      const t2 = forward(model, x.input, seededNoise(5, 3));
      const t3 = forward(model, x.input, seededNoise(5, 4));
      expect(Array.from(t1.yHat.dataSync())).toEqual(Array.from(t2.yHat.dataSync()));
      expect(Array.from(t1.yHat.dataSync())).not.toEqual(Array.from(t3.yHat.dataSync()));
      expect(Array.from(t1.yHat.dataSync())).not.toEqual(Array.from(a.yHat.dataSync()));
    });
  });

  it("the same seed gives the same initial parameters; another seed different ones", () => {
    const m2 = compileSpec(spec("fs-vae-quick"), DIM);
    const m3 = compileSpec(spec("fs-vae-quick"), DIM, 99);
    for (let i = 0; i < model.variables.length; i++) {
      expect(m2.variables[i].key).toBe(model.variables[i].key);
      expect(Array.from(m2.variables[i].variable.dataSync())).toEqual(Array.from(model.variables[i].variable.dataSync()));
    }
    expect(Array.from(m3.variables[0].variable.dataSync())).not.toEqual(Array.from(model.variables[0].variable.dataSync()));
    disposeFsVae(m2);
    disposeFsVae(m3);
  });
});

describe("gradients on wasm equal the cpu backend's", () => {
  afterAll(async () => {
    await initBackend("wasm", { logger: () => undefined });
  });

  const variants: [string, unknown][] = [
    [
      "fs-vae (dropout, sampling, free bits)",
      { latent: { size: 12, free_bits: 0.05 }, encoders: { fast: { units: 24 }, slow: { units: 16 } }, decoder: { units: 24 } },
    ],
    ["vanilla-rnn", undefined],
    ["aggregate-sequence with gaussian_learned", { loss: { reconstruction: "gaussian_learned" } }],
  ];

  it.each(variants)("%s", async (label, overrides) => {
    const name = label.split(" ")[0];
    const s = spec(name, overrides);
    const grads = async (backend: "wasm" | "cpu") => {
      await initBackend(backend, { logger: () => undefined });
      const model = createFsVae(fsVaeConfig(s, DIM), 11);
      const x = inputs(model.config, 9, 4);
      const vars = model.variables.map((v) => v.variable);
      const out = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => betaElbo(model, x.input, x.y, { beta: 0.5, freeBits: s.latent.free_bits, noise: seededNoise(3, 2) }).loss,
          vars,
        );
        return { value: value.dataSync()[0], grads: model.variables.map((v) => Array.from(grads[v.variable.name].dataSync())) };
      });
      disposeInputs(x);
      disposeFsVae(model);
      return out;
    };
    const wasm = await grads("wasm");
    const cpu = await grads("cpu");
    expect(Math.abs(wasm.value - cpu.value)).toBeLessThan(1e-5 * Math.max(1, Math.abs(cpu.value)));
    let worst = 0;
    wasm.grads.forEach((g, i) => g.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - cpu.grads[i][j])))));
    expect(worst).toBeLessThan(1e-5);
  });
});
