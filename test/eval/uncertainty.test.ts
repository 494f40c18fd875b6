import { HISTORY_BINS, ranksOf, spearman, uncertaintyReport } from "../../src/eval/uncertainty";
import { uncertaintyTable } from "../../src/eval/tables";
import { seedRun } from "./seed-result";
import type { Metrics } from "../../src/eval/metrics";

describe("Spearman's rho", () => {
  it("ranks ties at their mean rank", () => {
    expect(Array.from(ranksOf([10, 20, 20, 5]))).toEqual([2, 3.5, 3.5, 1]);
  });

  it("is 1 for any increasing relation, -1 for a decreasing one, and NaN against a constant", () => {
    const x = [1, 2, 3, 4, 5, 6];
    expect(spearman(x, x.map((v) => Math.exp(v)))).toBeCloseTo(1, 12);
    expect(spearman(x, x.map((v) => -(v ** 3)))).toBeCloseTo(-1, 12);
    expect(spearman(x, [7, 7, 7, 7, 7, 7])).toBeNaN();
  });

  it("matches the textbook formula 1 - 6 sum d^2 / (n (n^2 - 1)) without ties", () => {
    const a = [3, 1, 4, 1.5, 5, 9, 2.6];
    const b = [2, 7, 1, 8, 2.8, 1.8, 2.85];
    const ra = ranksOf(a);
    const rb = ranksOf(b);
    const n = a.length;
    const d2 = a.reduce((s, _, i) => s + (ra[i] - rb[i]) ** 2, 0);
    expect(spearman(a, b)).toBeCloseTo(1 - (6 * d2) / (n * (n * n - 1)), 12);
  });
});

describe("uncertaintyReport", () => {
  // 1,000 points: sigma falls with history, error rises with sigma.
  const n = 1000;
  const history = Array.from({ length: n }, (_, i) => 1 + ((i * 37) % 800));
  const sigma = history.map((h) => 1 / Math.sqrt(h));
  const l2 = sigma.map((s, i) => 2 * s + ((i * 7919) % 13) / 1000);

  it("finds sigma rising with the error and falling with the history, and bins the points", () => {
    const r = uncertaintyReport(sigma, l2, history);
    expect(r.rows).toBe(n);
    expect(r.sigmaVsHistory).toBeCloseTo(-1, 12);
    expect(r.sigmaVsError).toBeGreaterThan(0.8);
    expect(r.errorVsHistory).toBeLessThan(-0.8);
    expect(r.bySigma.map((b) => b.rows)).toEqual([200, 200, 200, 200, 200]);
    for (let q = 1; q < 5; q++) {
      expect(r.bySigma[q].sigma).toBeGreaterThan(r.bySigma[q - 1].sigma);
      expect(r.bySigma[q].l2).toBeGreaterThan(r.bySigma[q - 1].l2);
    }
    expect(r.byHistory.map((b) => [b.from, b.to])).toEqual([
      [1, 5],
      [5, 20],
      [20, 100],
      [100, 500],
      [500, null],
    ]);
    expect(r.byHistory.reduce((s, b) => s + b.rows, 0)).toBe(n);
    expect(r.byHistory[0].rows).toBe(history.filter((h) => h < HISTORY_BINS[1]).length);
  });

  it("finds nothing where sigma is unrelated to the error", () => {
    const shuffled = sigma.map((_, i) => sigma[(i * 389) % n]);
    expect(Math.abs(uncertaintyReport(shuffled, l2, history).sigmaVsError)).toBeLessThan(0.1);
  });

  it("refuses arrays of different lengths", () => {
    expect(() => uncertaintyReport([1, 2], [1], [1, 2])).toThrow(/2 sigmas, 1 errors, 2 histories/);
  });

  it("is tabled per model, mean ± std over its runs; models without it are left out", () => {
    const metrics = { l2: 1, cosine: 0.5, hr10: 0.1, ndcg10: 0.05, mrr: 0.02, predictionNorm: 1, targetNorm: 1, n: 100 } as Metrics;
    const a = uncertaintyReport(sigma, l2, history);
    const b = { ...a, sigmaVsError: a.sigmaVsError - 0.1 };
    const table = uncertaintyTable([
      { model: "fs-vae-quick", latent: "probabilistic", runs: [seedRun(1, metrics, { uncertainty: a }), seedRun(2, metrics, { uncertainty: b })] },
      { model: "average", latent: "none", runs: [seedRun(1, metrics)] },
    ])!;
    const rows = table.split("\n");
    expect(rows).toHaveLength(3);
    expect(rows[2]).toContain(`| fs-vae-quick | ${(a.sigmaVsError - 0.05).toFixed(3)} ± 0.071 |`);
    expect(rows[2]).toMatch(/\| 2 \|$/);
    expect(uncertaintyTable([{ model: "average", latent: "none", runs: [seedRun(1, metrics)] }])).toBeNull();
  });
});
