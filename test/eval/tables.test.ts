import {
  bestPerColumn,
  evaluationJson,
  formatEvaluationMarkdown,
  formatNorms,
  formatSchedule,
  markdownTable,
  paperTables,
  tableRow,
  type ModelResults,
} from "../../src/eval/tables";
import type { Metrics } from "../../src/eval/metrics";
import { seedRun } from "./seed-result";

const metrics = (l2: number, cosine: number, hr10: number, ndcg10 = hr10 / 2, mrr = hr10 / 3): Metrics => ({
  l2,
  cosine,
  hr10,
  ndcg10,
  mrr,
  n: 100,
});

const run = seedRun;

const schedule = { beta: 0.01, warmupSteps: 500, freeBits: 0.05 };
const vae = (model: string, runs: [number, number, number][], active = [160, 160]): ModelResults => ({
  model,
  latent: "probabilistic",
  runs: runs.map(([l2, cos, hr], i) => run(i + 1, metrics(l2, cos, hr), { activeUnits: active[i] ?? 160, latentUnits: 160, schedule })),
});
const baseline = (model: string, l2: number, cos: number, hr: number): ModelResults => ({
  model,
  latent: "none",
  runs: [run(1, metrics(l2, cos, hr)), run(2, metrics(l2, cos, hr))],
});

describe("paper tables", () => {
  const fsvae = vae("fs-vae-quick", [
    [3.5, 0.27, 0.1],
    [3.7, 0.29, 0.12],
  ]);
  const average = baseline("average", 4.2, 0.41, 0.06);
  const noFast = vae(
    "no-fast",
    [
      [4.0, 0.4, 0.05],
      [4.2, 0.42, 0.07],
    ],
    [10, 12],
  );
  const shuffle = vae("shuffle", [
    [3.4, 0.3, 0.09],
    [3.6, 0.3, 0.09],
  ]);
  const mine: ModelResults = { model: "my-model", latent: "deterministic", runs: [run(1, metrics(5, 0.5, 0.01)), run(2, null)] };

  it("puts baselines and unknown models in Table 1, ablations in Table 2 with FS-VAE as the reference", () => {
    const recent = baseline("recent", 4.0, 0.38, 0.08);
    const { table1, table2 } = paperTables([fsvae, average, recent, noFast, shuffle, mine]);
    expect(table1.map((m) => m.model)).toEqual(["fs-vae-quick", "average", "recent", "my-model"]);
    expect(table2.map((m) => m.model)).toEqual(["fs-vae-quick", "no-fast", "shuffle"]);
    expect(paperTables([fsvae, average]).table2).toEqual([]);
  });

  it("aggregates mean ± sample std over seeds and counts failures", () => {
    const row = tableRow(fsvae);
    expect(row.metrics!.l2.mean).toBeCloseTo(3.6, 12);
    expect(row.metrics!.l2.std).toBeCloseTo(Math.sqrt(0.02), 12);
    expect(row.metrics!.hr10.mean).toBeCloseTo(0.11, 12);
    expect(row).toMatchObject({ succeeded: 2, failed: 0, activeUnits: "160 / 160", collapsed: false });
    const m = tableRow(mine);
    expect(m).toMatchObject({ succeeded: 1, failed: 1, activeUnits: "-", schedule: "deterministic (no KL)" });
    expect(m.metrics!.l2).toEqual({ mean: 5, std: 0, runs: 1 });
    expect(tableRow({ model: "x", latent: "none", runs: [run(1, null)] }).metrics).toBeNull();
  });

  it("shows the active units range and marks a collapsed model", () => {
    const row = tableRow(noFast);
    expect(row.activeUnits).toBe("10-12 / 160");
    expect(row.collapsed).toBe(true);
    expect(markdownTable([row])).toContain("10-12 / 160 (collapsed)");
  });

  it("formats the beta schedule", () => {
    expect(formatSchedule("probabilistic", [schedule, schedule])).toBe("β 0.01, warm-up 500 steps, free bits 0.05");
    expect(formatSchedule("probabilistic", [{ beta: 0.5, warmupSteps: 0, freeBits: 0 }])).toBe("β 0.5, constant");
    expect(formatSchedule("probabilistic", [null])).toBe("?");
    expect(formatSchedule("deterministic", [null])).toBe("deterministic (no KL)");
    expect(formatSchedule("none", [null])).toBe("-");
  });

  it("names every seed's beta when --beta-grid picked different ones", () => {
    const picked = [0.05, 0.01, 0.01].map((beta) => ({ ...schedule, beta }));
    expect(formatSchedule("probabilistic", picked)).toBe("β 0.05 / 0.01 / 0.01 by seed, warm-up 500 steps, free bits 0.05");
  });

  it("bolds the lowest distance and the highest ranking score of each column", () => {
    const rows = [fsvae, average, shuffle].map(tableRow);
    const best = bestPerColumn(rows);
    expect(best.l2).toBeCloseTo(3.5, 12); // shuffle's mean
    expect(best.cosine).toBeCloseTo(0.28, 12); // fs-vae-quick's
    expect(best.hr10).toBeCloseTo(0.11, 12);
    const lines = markdownTable(rows).split("\n");
    expect(lines[0]).toBe(
      "| model | L2 (mean ± std) | cosine (mean ± std) | HR@10 (mean ± std) | NDCG@10 (mean ± std) | MRR (mean ± std) | norm: prediction / target | active units | beta schedule | runs |",
    );
    const cells = (model: string) => lines.find((l) => l.startsWith(`| ${model} |`))!.split(" | ");
    expect(cells("shuffle")[1]).toBe("**3.500 ± 0.141**");
    expect(cells("fs-vae-quick")[1]).toBe("3.600 ± 0.141");
    expect(cells("fs-vae-quick")[2]).toBe("**0.280 ± 0.014**");
    expect(cells("fs-vae-quick")[3]).toBe("**0.110 ± 0.014**");
    expect(cells("average")[1]).toBe("4.200 ± 0.000");
    expect(cells("average")[6]).toBe("-"); // runs stored without norms
    expect(cells("average")[7]).toBe("-");
  });

  it("shows the mean prediction norm against the mean target norm, over the runs that stored them", () => {
    const withNorms = (m: Metrics, predictionNorm: number) => ({ ...m, predictionNorm, targetNorm: 4 });
    const shrunk: ModelResults = {
      model: "shrunk",
      latent: "deterministic",
      runs: [
        run(1, withNorms(metrics(4, 0.3, 0.1), 0.5)),
        run(2, withNorms(metrics(4, 0.3, 0.1), 0.7)),
        run(3, metrics(4, 0.3, 0.1)), // stored before norms existed: not counted
      ],
    };
    const row = tableRow(shrunk);
    expect(row.norms!.prediction.mean).toBeCloseTo(0.6, 12);
    expect(row.norms!.prediction.runs).toBe(2);
    expect(row.norms!.target).toEqual({ mean: 4, std: 0, runs: 2 });
    expect(formatNorms(row.norms)).toBe("0.600 / 4.000");
    expect(markdownTable([row])).toMatch(/^\| shrunk \| .* \| 0\.600 \/ 4\.000 \| - \| deterministic \(no KL\) \| 3 \|$/m);
    expect(tableRow(average).norms).toBeNull();
  });

  it("prints both tables, marks failed runs and lists them with their error; JSON keeps every run", () => {
    const input = { models: [fsvae, average, noFast, mine], seeds: [1, 2], dataCutoff: new Date("2026-10-07T00:00:00Z") };
    const md = formatEvaluationMarkdown(input);
    expect(md).toMatch(/^Table 1\. FS-VAE vs baselines, mean ± std over 2 seeds \(1, 2\); test split, data up to 2026-10-07T00:00:00.000Z/);
    expect(md).toContain("Table 2. FS-VAE vs ablations");
    expect(md).toContain("| my-model | 5.000 ± 0.000 |");
    expect(md).toContain("1 of 2 (**1 failed**) |");
    expect(md).toContain("- my-model seed 2, run run-2: FAILED: training: boom");
    const json = evaluationJson(input);
    expect(json.tables).toEqual({ table1: ["fs-vae-quick", "average", "my-model"], table2: ["fs-vae-quick", "no-fast"] });
    expect(json.models.flatMap((m) => m.runs.map((r) => r.runId))).toHaveLength(8);
    expect(json.models[0].runs[1].test!.l2).toBe(3.7);
  });
});
