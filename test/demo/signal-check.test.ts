import { choleskySolveInPlace, fitRidge, NormalEquations, predictRidge } from "../../src/demo/ridge";
import { Rng } from "../../src/random";
import { formatSignalCheck, signalCheck, SignalCheckResult } from "../../src/demo/signal-check";
import { generateWorld } from "../../src/demo/world";

describe("ridge", () => {
  it("solves a small SPD system", () => {
    const A = Float64Array.from([4, 2, 2, 3]);
    const B = Float64Array.from([2, 1]); // A x = B  ->  x = [0.5, 0]
    choleskySolveInPlace(A, 2, B, 1);
    expect(B[0]).toBeCloseTo(0.5, 12);
    expect(B[1]).toBeCloseTo(0, 12);
  });

  it("recovers a linear map with intercept from noisy data", () => {
    const rng = new Rng(3);
    const p = 1 + 6;
    const q = 2;
    const W = [
      [1, -2, 0.5, 0, 3, -1],
      [0, 1, 1, -1, 0, 2],
    ];
    const b = [0.7, -1.5];
    const ne = new NormalEquations(p, q);
    const x = new Float64Array(p);
    const y = new Float64Array(q);
    for (let n = 0; n < 3000; n++) {
      x[0] = 1;
      for (let i = 1; i < p; i++) x[i] = rng.normal() * i + 3; // uncentred, unequal scales
      for (let k = 0; k < q; k++) {
        y[k] = b[k] + 0.01 * rng.normal();
        for (let i = 1; i < p; i++) y[k] += W[k][i - 1] * x[i];
      }
      ne.add(x, y);
    }
    const model = fitRidge(ne, [1, 2, 3, 4, 5, 6], 1e-9);
    for (let k = 0; k < q; k++) {
      expect(model.intercept[k]).toBeCloseTo(b[k], 1);
      for (let i = 0; i < 6; i++) expect(model.weights[i * q + k]).toBeCloseTo(W[k][i], 2);
    }
    x.set([1, 1, 1, 1, 1, 1, 1]);
    const out = predictRidge(model, x, new Float64Array(q));
    expect(out[0]).toBeCloseTo(b[0] + W[0].reduce((a, v) => a + v, 0), 1);
    // A subset of columns fits too (the others are ignored).
    const sub = fitRidge(ne, [1], 1e-6);
    expect(sub.columns).toEqual(Int32Array.from([1]));
  });
});

describe("signal check on a small world", () => {
  // 300 users, 800 tracks, 14 days: ~23,000 plays.
  const world = generateWorld({ users: 300, tracks: 800, days: 14, seed: 1 });
  let result: SignalCheckResult;

  beforeAll(() => {
    result = signalCheck(world, { maxTrainPoints: 8000, maxTestPoints: 4000 });
  });

  it("uses both feature sets and a user split", () => {
    expect(result.featureDims).toEqual({ fast: 5 * (80 + 5), slow: 10, both: 5 * (80 + 5) + 10 });
    expect(result.trainUsers + result.testUsers).toBeGreaterThan(280);
    expect(result.trainPoints).toBeGreaterThan(5000);
    expect(result.testPoints).toBeGreaterThan(2000);
    for (const s of [result.fastOnly, result.slowOnly, result.both, result.historyMean, result.lastPlay, result.globalMean]) {
      expect(Number.isFinite(s.mse)).toBe(true);
      expect(s.mse).toBeGreaterThan(0);
      expect(s.cosine).toBeGreaterThan(0);
      expect(s.cosine).toBeLessThan(1);
    }
    expect(formatSignalCheck(result)).toMatch(/fast \+ slow/);
  });

  it("both speeds carry information: fast + slow beats each alone by a visible margin", () => {
    // Margins: at least 2% lower MSE than fast-only and 20% lower than slow-only
    // (measured 2.6-3.8% and 33-38% over seeds 1-5 at this size; ~4-5% and ~35% at the default size).
    expect(result.both.mse).toBeLessThan(0.98 * result.fastOnly.mse);
    expect(result.both.mse).toBeLessThan(0.8 * result.slowOnly.mse);
    expect(result.both.cosine).toBeLessThan(result.fastOnly.cosine);
    expect(result.both.cosine).toBeLessThan(result.slowOnly.cosine);
    // Every learned predictor beats the trivial baselines.
    expect(result.slowOnly.mse).toBeLessThan(result.globalMean.mse);
    expect(result.fastOnly.mse).toBeLessThan(result.historyMean.mse);
    expect(result.both.mse).toBeLessThan(result.historyMean.mse);
  });

  it("is deterministic", () => {
    const small = generateWorld({ users: 60, tracks: 200, days: 7, seed: 9 });
    const once = signalCheck(small, { seed: 5 });
    expect(signalCheck(small, { seed: 5 })).toEqual(once);
    expect(signalCheck(small, { seed: 6 })).not.toEqual(once);
  });

  it("rejects a world too small for the window", () => {
    const tiny = generateWorld({ users: 2, tracks: 20, days: 1, seed: 1, playsPerDay: 0.01 });
    expect(() => signalCheck(tiny)).toThrow(/no training points/);
  });
});
