/**
 * features.embedding_scale (the model measures track embeddings in units of
 * the catalogue's RMS coordinate), decoder.skip (a learned weighting of the
 * window's embeddings added to the prediction) and the l2 reconstruction.
 */
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/model/backend";
import { compileSpec } from "../../src/model/compile";
import { betaElbo, decode, disposeFsVae, forward, type FsVae, type FsVaeInput } from "../../src/model/fsvae";
import { loadModel, saveModel } from "../../src/model/artifact";
import { reconstructionLoss } from "../../src/model/loss";
import { normals } from "../../src/model/random";
import { catalogueRms } from "../../src/features/history";
import { applyOverrides, loadSpec } from "../../src/spec";
import type { ModelSpec } from "../../src/spec/schema";

const MODELS = path.resolve(__dirname, "../../models");
const DIM = 8;
const W = 5;
const STEP = DIM + 1 + 4; // track_embedding, skipped, daypart

function spec(name: string, overrides: unknown = {}): ModelSpec {
  const r = loadSpec(name, { modelsDir: MODELS });
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("; "));
  const o = applyOverrides(r.spec, overrides);
  if (!o.ok) throw new Error(o.errors.map((e) => e.message).join("; "));
  return o.spec;
}

/** Inputs whose track embeddings (the first DIM columns of a step) and target are multiplied by `scale`. */
function inputs(batch: number, scale: number): { input: FsVaeInput; y: tf.Tensor2D } {
  const x = normals(batch * W * STEP, 3);
  for (let r = 0; r < batch * W; r++) for (let j = 0; j < DIM; j++) x[r * STEP + j] *= scale;
  const y = normals(batch * DIM, 4).map((v) => v * scale);
  return {
    input: {
      x_s: tf.tensor3d(x, [batch, W, STEP]),
      mask: tf.ones([batch, W]) as tf.Tensor2D,
      x_n: tf.tensor2d(normals(batch * 6, 5), [batch, 6]),
    },
    y: tf.tensor2d(y, [batch, DIM]),
  };
}

const values = (t: tf.Tensor) => Array.from(t.dataSync());

beforeAll(async () => {
  await initBackend("wasm", { logger: () => undefined });
});

describe("features.embedding_scale: rms", () => {
  it("scales only the track embedding's columns of x_s, and records the unit in the graph", () => {
    const model = compileSpec(spec("fs-vae-quick"), DIM, 7, 0.25);
    expect(model.config.embeddingScale).toBe(0.25);
    expect(model.config.encoderS!.inputScale).toEqual([...new Array(DIM).fill(4), 1, 1, 1, 1, 1]);
    disposeFsVae(model);
    const none = compileSpec(spec("fs-vae-quick", { features: { embedding_scale: "none" } }), DIM, 7, 0.25);
    expect(none.config.embeddingScale).toBeUndefined();
    expect(none.config.encoderS!.inputScale).toBeUndefined();
    disposeFsVae(none);
  });

  it("makes the model scale-equivariant: embeddings x s give predictions x s and the same loss", () => {
    const s = spec("fs-vae-quick", { decoder: { skip: false } });
    const unit = compileSpec(s, DIM, 7, 1);
    const big = compileSpec(s, DIM, 7, 5);
    const a = inputs(6, 1);
    const b = inputs(6, 5);
    tf.tidy(() => {
      const oa = betaElbo(unit, a.input, a.y, { beta: 0.01, freeBits: 0 });
      const ob = betaElbo(big, b.input, b.y, { beta: 0.01, freeBits: 0 });
      const want = values(tf.mul(oa.yHat, 5));
      values(ob.yHat).forEach((v, i) => expect(v).toBeCloseTo(want[i], 3));
      expect(ob.reconstruction.dataSync()[0]).toBeCloseTo(oa.reconstruction.dataSync()[0], 3);
      expect(ob.kl.dataSync()[0]).toBeCloseTo(oa.kl.dataSync()[0], 4);
    });
    // Without the scale, the same weights see inputs 5x larger and their loss is not the same.
    const raw = compileSpec(spec("fs-vae-quick", { decoder: { skip: false }, features: { embedding_scale: "none" } }), DIM, 7, 5);
    tf.tidy(() => {
      const oa = betaElbo(unit, a.input, a.y, { beta: 0.01, freeBits: 0 });
      const or = betaElbo(raw, b.input, b.y, { beta: 0.01, freeBits: 0 });
      expect(Math.abs(or.reconstruction.dataSync()[0] - oa.reconstruction.dataSync()[0])).toBeGreaterThan(1);
    });
    for (const m of [unit, big, raw]) disposeFsVae(m);
    for (const x of [a, b]) tf.dispose([x.input.x_s!, x.input.mask!, x.input.x_n!, x.y]);
  });

  it("catalogueRms is the root-mean-square coordinate over tracks with an embedding", () => {
    const catalogue = {
      externalIds: ["a", "b", "c"],
      trackIds: Int32Array.from([1, 2, 3]),
      dim: 2,
      embeddings: Float32Array.from([3, 4, 0, 0, 1, 0]),
      hasEmbedding: Uint8Array.from([1, 0, 1]),
    };
    expect(catalogueRms(catalogue)).toBeCloseTo(Math.sqrt((25 + 1) / 4), 6);
    expect(catalogueRms({ ...catalogue, hasEmbedding: Uint8Array.from([0, 0, 0]) })).toBe(1);
  });
});

describe("decoder.skip", () => {
  let withSkip: FsVae;
  let without: FsVae;
  let x: { input: FsVaeInput; y: tf.Tensor2D };
  beforeAll(() => {
    withSkip = compileSpec(spec("non-probabilistic", { decoder: { skip: true } }), DIM, 3, 1);
    without = compileSpec(spec("non-probabilistic", { decoder: { skip: false } }), DIM, 3, 1);
    x = inputs(4, 1);
  });
  afterAll(() => {
    disposeFsVae(withSkip);
    disposeFsVae(without);
    tf.dispose([x.input.x_s!, x.input.mask!, x.input.x_n!, x.y]);
  });

  it("starts at 0, so the graph begins as the paper's; a weight on the last step adds the last play's embedding", () => {
    const skip = withSkip.params.decoder.skip!;
    expect(values(skip)).toEqual([0, 0, 0, 0, 0]);
    tf.tidy(() => {
      expect(values(forward(withSkip, x.input).yHat)).toEqual(values(forward(without, x.input).yHat));
      skip.assign(tf.tensor1d([0, 0, 0, 0.5, 1]));
      const got = values(forward(withSkip, x.input).yHat);
      const e = tf.slice(x.input.x_s!, [0, 0, 0], [4, W, DIM]);
      const last = tf.reshape(tf.slice(e, [0, W - 1, 0], [4, 1, DIM]), [4, DIM]);
      const before = tf.reshape(tf.slice(e, [0, W - 2, 0], [4, 1, DIM]), [4, DIM]);
      const want = values(tf.add(tf.add(forward(without, x.input).yHat, last), tf.mul(before, 0.5)));
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
      skip.assign(tf.zeros([W]));
    });
  });

  it("is learned: the loss has a gradient for every window position", () => {
    const grads = tf.variableGrads(
      () => betaElbo(withSkip, x.input, x.y, { beta: 0, freeBits: 0 }).loss,
      [withSkip.params.decoder.skip!],
    );
    const g = values(Object.values(grads.grads)[0]);
    expect(g).toHaveLength(W);
    for (const v of g) expect(Math.abs(v)).toBeGreaterThan(0);
    tf.dispose([grads.value, ...Object.values(grads.grads)]);
  });

  it("survives an artifact round trip, with the embedding scale", () => {
    const model = compileSpec(spec("fs-vae-quick"), DIM, 5, 0.5);
    tf.tidy(() => model.params.decoder.skip!.assign(tf.tensor1d([0.1, 0.2, 0.3, 0.4, 0.5])));
    const copy = loadModel(saveModel(model));
    expect(copy.config.embeddingScale).toBe(0.5);
    tf.tidy(() => {
      const mu = forward(model, x.input).q_s!.mu;
      expect(values(decode(copy, tf.concat([mu, forward(copy, x.input).q_n!.mu], 1), x.input.x_s))).toEqual(
        values(forward(model, x.input).yHat),
      );
    });
    disposeFsVae(model);
    disposeFsVae(copy);
  });

  it("needs the fast branch's track embeddings: a clear spec error otherwise", () => {
    const r = applyOverrides(spec("fs-vae-quick"), { features: { fast: { enabled: false } } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map((e) => `${e.path} ${e.message}`).join("\n")).toMatch(/decoder\.skip.*features\.fast\.enabled/);
    const r2 = applyOverrides(spec("fs-vae-quick"), { features: { fast: { per_play: ["skipped", "daypart"] } } });
    expect(r2.ok).toBe(false);
    if (!r2.ok) expect(r2.errors.map((e) => e.message).join("\n")).toMatch(/per_play must include track_embedding/);
  });
});

describe("loss.reconstruction: l2", () => {
  it("is the mean Euclidean distance between prediction and target", () => {
    const got = tf.tidy(() =>
      reconstructionLoss(
        tf.tensor2d([
          [3, 4],
          [0, 0],
        ]),
        tf.tensor2d([
          [0, 0],
          [0, 1],
        ]),
        "l2",
      ).dataSync()[0],
    );
    expect(got).toBeCloseTo((5 + 1) / 2, 5);
  });
});
