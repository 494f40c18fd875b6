/**
 * JODIE (src/model/jodie.ts): the config from a spec's features, shapes, the
 * projection operator, training lowers the loss, seeded init, no leaks, and
 * the checkpoint layout.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import {
  createJodie,
  disposeJodie,
  JODIE_DEFAULTS,
  jodieConfig,
  jodieEmbed,
  jodieForward,
  jodieLoss,
  jodieProject,
  jodieUpdate,
  type JodieConfig,
} from "../../src/model/jodie";
import { specWith } from "../features/world";
import { adamSteps, D, disposeBatch, FEATURES, gradientsOn, SLOW, STEP, syntheticBatch, values, W, worstDifference } from "./baselines";

const FIELDS = { ...JODIE_DEFAULTS, units: 16, static_units: 6 };
const config = (over: Partial<JodieConfig> = {}): JodieConfig => ({ ...jodieConfig(FEATURES, FIELDS, D), ...over });

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("jodie", () => {
  it("finds its columns in a spec's features, and refuses features without the time signals", () => {
    const c = config();
    expect(c).toMatchObject({ window: W, stepDim: STEP, slowDim: SLOW, embeddingDim: D, embeddingOffset: 0, timeSinceLastOffset: D });
    expect(c.deltaColumn).toBe(2);
    expect(c.staticColumns).toEqual([0, 1]);
    const noTime = specWith({ fast: { per_play: ["track_embedding", "skipped"] }, slow: { aggregates: ["plays", "hours_since_last"] } });
    expect(() => jodieConfig(noTime.features, FIELDS, D)).toThrow(/time_since_last/);
    const noDelta = specWith({ fast: { per_play: ["time_since_last", "track_embedding"] } });
    expect(() => jodieConfig(noDelta.features, FIELDS, D)).toThrow(/hours_since_last/);
    const reordered = specWith({ fast: { per_play: ["time_since_last", "track_embedding"] }, slow: { aggregates: ["hours_since_last", "plays"] } });
    expect(jodieConfig(reordered.features, FIELDS, D)).toMatchObject({ embeddingOffset: 1, timeSinceLastOffset: 0, deltaColumn: 0, staticColumns: [1] });
  });

  it("gives the shapes of FS-VAE's objective and embedding; the state is on the unit sphere", () => {
    const model = createJodie(config(), 1);
    const batch = syntheticBatch(5);
    const o = jodieLoss(model, batch.input, batch.y);
    expect(o.yHat.shape).toEqual([5, D]);
    expect(o.loss.shape).toEqual([]);
    expect(o.loss.dataSync()[0]).toBe(o.reconstruction.dataSync()[0]);
    expect(o.kl.dataSync()[0]).toBe(0);
    expect(o.klPerDim.shape).toEqual([0]);
    const e = jodieEmbed(model, batch.input);
    expect(e.mu.shape).toEqual([5, 16 + 6]);
    expect(e.sigma).toBeNull();
    const u = jodieUpdate(model, batch.input.x_s!, batch.input.mask);
    for (const norm of tf.norm(u, 2, 1).arraySync() as number[]) expect(norm).toBeCloseTo(1, 5);
    tf.dispose([o.loss, o.reconstruction, o.kl, o.klPerDim, o.yHat, e.mu, u]);
    disposeBatch(batch);
    disposeJodie(model);
  });

  it("the projection is the identity at Δ = 0 and moves the state for Δ > 0", () => {
    const model = createJodie(config(), 2);
    const u = tf.tensor2d(Array.from({ length: 3 * 16 }, (_, i) => Math.sin(i)), [3, 16]);
    const same = jodieProject(model, u, tf.zeros([3, 1]));
    expect(same.dataSync()).toEqual(u.dataSync());
    const moved = jodieProject(model, u, tf.fill([3, 1], 2));
    expect(tf.max(tf.abs(tf.sub(moved, u))).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([u, same, moved]);
    disposeJodie(model);
  });

  it("a padded step keeps the user state: a left-padded window equals the window of its real plays", () => {
    const model = createJodie(config(), 3);
    const x = tf.tensor3d(Array.from({ length: 2 * W * STEP }, (_, i) => Math.cos(i)), [2, W, STEP]);
    const padded = jodieUpdate(model, x, tf.tensor2d([0, 0, 0, 1, 0, 0, 0, 1], [2, W]));
    const alone = jodieUpdate(model, tf.slice(x, [0, W - 1, 0], [2, 1, STEP]));
    expect(Array.from(padded.dataSync())).toEqual(Array.from(alone.dataSync()));
    tf.dispose([x, padded, alone]);
    disposeJodie(model);
  });

  it("a few Adam steps lower the loss; with the embedding unit s the loss is measured in units of s", () => {
    const batch = syntheticBatch(32);
    const model = createJodie(config(), 4);
    const { before, after } = adamSteps(model.variables, () => jodieLoss(model, batch.input, batch.y), 30);
    expect(after).toBeLessThan(0.7 * before);
    // Embeddings times 3 with s = 3: the same loss, predictions times 3.
    const scaled = createJodie(config({ embeddingScale: 3 }), 4);
    const plain = createJodie(config(), 4);
    const x3 = { ...batch.input, x_s: tf.mul(batch.input.x_s!, tf.tensor1d(Array.from({ length: STEP }, (_, k) => (k < D ? 3 : 1)))) as tf.Tensor3D };
    const y3 = tf.mul(batch.y, 3) as tf.Tensor2D;
    const a = jodieLoss(plain, batch.input, batch.y);
    const b = jodieLoss(scaled, x3, y3);
    expect(b.loss.dataSync()[0]).toBeCloseTo(a.loss.dataSync()[0], 4);
    tf.dispose([x3.x_s, y3, a.loss, a.reconstruction, a.kl, a.klPerDim, a.yHat, b.loss, b.reconstruction, b.kl, b.klPerDim, b.yHat]);
    [model, scaled, plain].forEach(disposeJodie);
    disposeBatch(batch);
  });

  it("is deterministic for a seed, and the seed matters", () => {
    const [a, b, c] = [createJodie(config(), 7), createJodie(config(), 7), createJodie(config(), 8)];
    expect(values(a.variables)).toEqual(values(b.variables));
    expect(values(a.variables)).not.toEqual(values(c.variables));
    const batch = syntheticBatch(4);
    const [fa, fb] = [jodieForward(a, batch.input), jodieForward(b, batch.input)];
    expect(fa.yHat.dataSync()).toEqual(fb.yHat.dataSync());
    tf.dispose([fa.projected, fa.static!, fa.yHat, fb.projected, fb.static!, fb.yHat]);
    disposeBatch(batch);
    [a, b, c].forEach(disposeJodie);
  });

  it("leaks no tensor: build, forward, loss, gradients, embed and dispose", () => {
    const start = tf.memory().numTensors;
    const model = createJodie(config(), 5);
    const batch = syntheticBatch(6);
    adamSteps(model.variables, () => jodieLoss(model, batch.input, batch.y), 2);
    tf.dispose(Object.values(jodieEmbed(model, batch.input)).filter((t): t is tf.Tensor2D => t !== null));
    disposeBatch(batch);
    disposeJodie(model);
    expect(tf.memory().numTensors).toBe(start);
  });

  it("keeps its variables under stable keys in a fixed order (the checkpoint layout)", () => {
    const model = createJodie(config(), 6);
    expect(model.variables.map((v) => `${v.key} [${v.variable.shape}]`)).toEqual([
      `user_rnn/kernel [${STEP + 16},16]`,
      "user_rnn/bias [16]",
      "projection/kernel [1,16]",
      "static/kernel [2,6]",
      "static/bias [6]",
      `prediction/kernel [${16 + 6 + D},${D}]`,
      `prediction/bias [${D}]`,
    ]);
    disposeJodie(model);
    const bare = createJodie(config({ static_units: 0 }), 6);
    expect(bare.variables.map((v) => v.key)).not.toContain("static/kernel");
    disposeJodie(bare);
  });
});

describe("jodie on wasm", () => {
  afterAll(async () => {
    await tf.setBackend("cpu");
  });

  it("gives the cpu backend's loss and gradients", async () => {
    const build = () => {
      const model = createJodie(config(), 11);
      return {
        variables: model.variables,
        objective: (b: ReturnType<typeof syntheticBatch>) => jodieLoss(model, b.input, b.y),
        dispose: () => disposeJodie(model),
      };
    };
    const wasm = await gradientsOn("wasm", build);
    const cpu = await gradientsOn("cpu", build);
    expect(Math.abs(wasm.value - cpu.value)).toBeLessThan(1e-5 * Math.max(1, Math.abs(cpu.value)));
    expect(worstDifference(wasm.grads, cpu.grads)).toBeLessThan(1e-5);
  });
});
