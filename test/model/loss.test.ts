/** The loss terms against hand-computed values. */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/model/backend";
import { activeUnits, betaAt, collapseWarning, gaussianKl, klWithFreeBits, reconstructionLoss } from "../../src/model/loss";

beforeAll(async () => {
  await initBackend("wasm", { logger: () => undefined });
});

const close = (got: ArrayLike<number>, want: number[], tol = 1e-5) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(Math.abs(got[i] - w)).toBeLessThan(tol));
};

describe("KL(N(mu, sigma^2) || N(0, 1))", () => {
  it("matches the closed form per dimension", () => {
    // mu = 0.5, sigma = 0.5: (0.25 + 0.25 - 1) / 2 - log 0.5 = -0.25 + 0.693147 = 0.443147
    // mu = -1,  sigma = 1:   (1 + 1 - 1) / 2 - 0 = 0.5
    // mu = 0,   sigma = 1:   0 (the prior itself)
    // mu = 2,   sigma = e:   (4 + e^2 - 1) / 2 - 1 = 4.194528
    const kl = tf.tidy(() => gaussianKl(tf.tensor2d([[0.5, -1, 0, 2]]), tf.tensor2d([[Math.log(0.5), 0, 0, 1]])).dataSync());
    close(kl, [0.443147, 0.5, 0, (4 + Math.E ** 2 - 1) / 2 - 1]);
  });

  it("free bits floor the batch-mean KL per unit and stop its gradient below the floor", () => {
    tf.tidy(() => {
      // Two examples, three units; batch means 0.3, 0.01, 0.
      const perExample = tf.tensor2d([
        [0.5, 0.02, 0],
        [0.1, 0, 0],
      ]);
      const plain = klWithFreeBits(perExample, 0);
      close(plain.perDim.dataSync(), [0.3, 0.01, 0]);
      close(plain.kl.dataSync(), [0.31]);
      const floored = klWithFreeBits(perExample, 0.05);
      close(floored.kl.dataSync(), [0.3 + 0.05 + 0.05]);
      close(floored.perDim.dataSync(), [0.3, 0.01, 0]); // the diagnostic is the raw KL
      const g = tf.grad((x: tf.Tensor) => klWithFreeBits(x as tf.Tensor2D, 0.05).kl)(perExample);
      close(g.dataSync(), [0.5, 0, 0, 0.5, 0, 0]);
    });
  });
});

describe("reconstruction", () => {
  const y = [
    [1, 2],
    [0, -1],
  ];
  const yHat = [
    [0, 2],
    [1, 1],
  ];
  // squared errors: row 0: 1 + 0 = 1; row 1: 1 + 4 = 5; batch mean of the sums: 3
  it("mse is the sum of squares over the embedding, averaged over the batch", () => {
    close(
      tf.tidy(() => reconstructionLoss(tf.tensor2d(y), tf.tensor2d(yHat), "mse").dataSync()),
      [3],
    );
  });

  it("gaussian_fixed is the Gaussian negative log-likelihood with variance v", () => {
    const v = 0.5;
    const want = 3 / (2 * v) + 2 * 0.5 * Math.log(2 * Math.PI * v);
    close(
      tf.tidy(() => reconstructionLoss(tf.tensor2d(y), tf.tensor2d(yHat), "gaussian_fixed", { variance: v }).dataSync()),
      [want],
    );
  });

  it("gaussian_learned uses one learned log-variance per dimension", () => {
    const logV = [Math.log(2), Math.log(0.25)];
    // per dimension: sum_b sq / (2 v_d) / batch + log(v_d) / 2 + log(2 pi) / 2
    // d0: (1 + 1) / 4 / 2 = 0.25; d1: (0 + 4) / 0.5 / 2 = 4
    const want = 0.25 + 4 + 0.5 * (logV[0] + logV[1]) + Math.log(2 * Math.PI);
    close(
      tf.tidy(() =>
        reconstructionLoss(tf.tensor2d(y), tf.tensor2d(yHat), "gaussian_learned", { logVariance: tf.tensor1d(logV) }).dataSync(),
      ),
      [want],
    );
    expect(() => tf.tidy(() => reconstructionLoss(tf.tensor2d(y), tf.tensor2d(yHat), "gaussian_learned"))).toThrow(/log-variance/);
  });
});

describe("beta schedule and collapse diagnostics", () => {
  it("beta ramps linearly from 0 over the warm-up steps, then stays", () => {
    expect(betaAt(0, 0.5, 0)).toBe(0.5);
    expect(betaAt(0, 0.5, 100)).toBe(0);
    expect(betaAt(25, 0.5, 100)).toBeCloseTo(0.125, 12);
    expect(betaAt(100, 0.5, 100)).toBe(0.5);
    expect(betaAt(10_000, 0.5, 100)).toBe(0.5);
  });

  it("counts units with mean KL above 0.01 and warns below a tenth", () => {
    expect(activeUnits([0.5, 0.011, 0.01, 0, 2])).toBe(3);
    expect(collapseWarning(16, 160)).toBeNull();
    expect(collapseWarning(15, 160)).toMatch(/only 15 of 160 latent units are active/);
  });
});
