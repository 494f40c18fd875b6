import { baselineWarnings, formatComparisonMarkdown, pairedComparison, pairedMetric } from "../../src/eval/compare";
import type { Metrics } from "../../src/eval/metrics";
import type { LatentKind, ModelResults, SeedResult } from "../../src/eval/tables";
import { seedRun } from "./seed-result";

const metrics = (l2: number, hr10: number): Metrics => ({ l2, cosine: l2 / 10, hr10, ndcg10: hr10 / 2, mrr: hr10 / 3, n: 100 });

const run = seedRun;

/** One run per seed 1..n, with the given (l2, hr10) per seed. */
const model = (name: string, latent: LatentKind, perSeed: ([number, number] | null)[], extra: Partial<SeedResult> = {}): ModelResults => ({
  model: name,
  latent,
  runs: perSeed.map((m, i) => run(i + 1, m && metrics(...m), extra)),
});

describe("paired comparison", () => {
  it("the statistics of one metric: mean ± sample sd of the differences and the seeds that share the mean's sign", () => {
    const m = pairedMetric("l2", [-0.1, -0.3, 0.1, -0.2, -0.1, 0]);
    expect(m.mean).toBeCloseTo(-0.1, 12);
    // deviations 0, -0.2, 0.2, -0.1, 0, 0.1: sum of squares 0.1, / 5
    expect(m.sd).toBeCloseTo(Math.sqrt(0.02), 12);
    expect([m.lower, m.higher, m.equal]).toEqual([4, 1, 1]);
    expect(m.agreement).toBe("lower on 4 of 6 seeds");
    expect(m.better).toBe(true); // a lower distance
    const hr = pairedMetric("hr10", [-0.01, -0.02]);
    expect(hr.agreement).toBe("lower on 2 of 2 seeds");
    expect(hr.better).toBe(false); // a lower ranking score
    expect(pairedMetric("mrr", [0.5]).sd).toBeNull();
    expect(pairedMetric("mrr", [0.5]).agreement).toBe("higher on 1 of 1 seed");
    expect(pairedMetric("l2", [0.1, -0.1])).toMatchObject({ mean: 0, better: null, agreement: "lower on 1, higher on 1 of 2 seeds" });
    expect(pairedMetric("l2", [0, 0]).agreement).toBe("equal on 2 of 2 seeds");
  });

  it("pairs each other model with the reference seed by seed, leaving out seeds where either run failed", () => {
    const reference = model("average", "none", [
      [4, 0.05],
      [4, 0.05],
      [4, 0.05],
    ]);
    const vae = model("fs-vae-quick", "probabilistic", [[3.5, 0.1], null, [3.9, 0.04]]);
    const broken = model("broken", "deterministic", [null, null, null]);
    const [c, none] = pairedComparison(reference, [vae, reference, broken]);
    expect(c.model).toBe("fs-vae-quick");
    expect(c.reference).toBe("average");
    expect(c.seeds).toEqual([1, 3]);
    expect(c.leftOut).toEqual([2]);
    const l2 = c.metrics.find((m) => m.metric === "l2")!;
    expect(l2.differences[0]).toBeCloseTo(-0.5, 12);
    expect(l2.differences[1]).toBeCloseTo(-0.1, 12);
    expect(l2.mean).toBeCloseTo(-0.3, 12);
    expect(l2.agreement).toBe("lower on 2 of 2 seeds");
    const hr = c.metrics.find((m) => m.metric === "hr10")!;
    expect(hr.differences.map((d) => +d.toFixed(6))).toEqual([0.05, -0.01]);
    expect(hr.agreement).toBe("higher on 1 of 2 seeds");
    expect(hr.better).toBe(true);
    expect(none).toMatchObject({ model: "broken", seeds: [], leftOut: [1, 2, 3], metrics: [] });

    const md = formatComparisonMarkdown([c, none]);
    expect(md).toMatch(/^Paired comparison against average: model − average on each seed both ran/);
    expect(md).toContain("| metric | seed 1 | seed 3 | mean ± sd | seeds |");
    expect(md).toContain(`| L2 | -0.500 | -0.100 | -0.300 ± ${Math.sqrt(0.08).toFixed(3)} | lower on 2 of 2 seeds (better) |`);
    expect(md).toContain("| HR@10 | +0.050 | -0.010 | +0.020 ± 0.042 | higher on 1 of 2 seeds (better) |");
    expect(md).toContain("Left out: seed 2 (a run of fs-vae-quick or average failed or is missing).");
    expect(md).toContain("broken: no seed on which both broken and average have test metrics");
  });
});

describe("baseline warnings", () => {
  const stored = (average: [number, number], recent: [number, number]) => ({ average: metrics(...average), recent: metrics(...recent) });

  it("names every learned model that does not beat Average or Recent on mean L2 or HR@10, with both means", () => {
    // Beats Average on both; loses to Recent on both (the example of issue 13).
    const bad = model(
      "fs-vae-quick",
      "probabilistic",
      [
        [0.8, 0.02],
        [0.82, 0.02],
      ],
      stored([1, 0.01], [0.43, 0.16]),
    );
    // Beats both on L2, ties Recent on HR@10 (a tie does not beat).
    const tie = model("no-fast", "probabilistic", [[0.4, 0.16]], stored([1, 0.01], [0.43, 0.16]));
    const good = model("shuffle", "probabilistic", [[0.4, 0.2]], stored([1, 0.01], [0.43, 0.16]));
    // Baselines themselves are not checked.
    const avg = model("average", "none", [[5, 0]]);
    expect(baselineWarnings([bad, tie, good, avg])).toEqual([
      "fs-vae-quick does not beat recent: L2 0.810 vs 0.430, HR@10 0.020 vs 0.160 (test means over 2 seeds, on the same rows)",
      "no-fast does not beat recent: HR@10 0.160 vs 0.160 (test means over 1 seed, on the same rows)",
    ]);
  });

  it("prints more digits when the two means would print the same", () => {
    const close = model("close", "deterministic", [[1.00004, 0.5]], stored([1.00001, 0.1], [2, 0.1]));
    expect(baselineWarnings([close])).toEqual([
      "close does not beat average: L2 1.00004 vs 1.00001 (test means over 1 seed, on the same rows)",
    ]);
  });

  it("falls back to the baseline's own runs for runs stored before it was measured alongside, and says when it cannot check", () => {
    const old = model("fs-vae-quick", "probabilistic", [[3, 0.1]], { average: metrics(4, 0.05), recent: null });
    expect(baselineWarnings([old])).toEqual([
      "fs-vae-quick: not checked against recent: its runs were stored before recent was measured alongside them; add recent to --models or retrain them with --fresh",
    ]);
    const recent = model("recent", "none", [[2.5, 0.2]]);
    expect(baselineWarnings([old, recent])).toEqual([
      "fs-vae-quick does not beat recent: L2 3.000 vs 2.500, HR@10 0.100 vs 0.200 (test means over 1 seed; recent from its own runs)",
    ]);
  });

  it("ignores failed runs and models without any successful run", () => {
    const failed = model("broken", "deterministic", [null]);
    const half = model("half", "deterministic", [[3, 0.1], null], stored([4, 0.05], [3.5, 0.08]));
    expect(baselineWarnings([failed, half])).toEqual([]);
  });
});
