import { movementAnalysis, withoutValues, type EmbeddingSequence } from "../../src/eval/movement";
import type { Metrics } from "../../src/eval/metrics";
import { reportCharts, correlationColour } from "../../src/report/charts";
import { metricsTable, type ReportData, type ReportRun } from "../../src/report/data";
import { renderReport } from "../../src/report/render";
import { embeddedData, loadableUrls } from "./page";

const metrics = (l2: number): Metrics => ({ l2, cosine: l2 / 10, hr10: 0.1, ndcg10: 0.05, mrr: 0.04, n: 100 });

function run(id: string, over: Partial<ReportRun> = {}): ReportRun {
  return {
    id: `${id}-0000-4000-8000-000000000000`,
    modelName: "fs-vae-quick",
    type: "fs-vae",
    seed: 1,
    status: "SUCCEEDED",
    error: null,
    dataCutoff: "2026-10-14T00:00:00.000Z",
    finishedAt: "2026-10-15T00:00:00.000Z",
    probabilistic: true,
    schedule: { beta: 0.01, warmupSteps: 500, freeBits: 0.05 },
    activeUnits: 8,
    latentUnits: 8,
    collapse: null,
    epochs: 2,
    steps: 20,
    seconds: 3,
    test: { rows: 100, model: metrics(3), average: metrics(4), popularity: metrics(5) },
    curves: {
      steps: [1, 10, 20].map((step) => ({
        step,
        epoch: step > 10 ? 2 : 1,
        loss: 30 - step,
        reconstruction: 20,
        kl: 5,
        beta: step / 500,
        activeUnits: 8,
      })),
      epochs: [
        { epoch: 1, step: 10, trainLoss: 22, validationLoss: 21, beta: 0.0002, activeUnits: 8 },
        { epoch: 2, step: 20, trainLoss: 12, validationLoss: null, beta: 0.0004, activeUnits: 8 },
      ],
    },
    ...over,
  };
}

const seq = (steps: number[], rows: number[][]): EmbeddingSequence => ({ steps, vectors: Float32Array.from(rows.flat()), dim: 2 });

function fixture(): ReportData {
  const runs = [
    run("aaaaaaaa", { seed: 1 }),
    // The one run that stored Recent (the others were stored before it existed).
    run("bbbbbbbb", { seed: 2, test: { rows: 100, model: metrics(5), average: metrics(4), recent: metrics(3.5), popularity: metrics(5) } }),
    run("cccccccc", {
      modelName: "beta-half</script><b>",
      schedule: { beta: 0.5, warmupSteps: 0, freeBits: 0 },
      activeUnits: 0,
      collapse: "posterior collapse: only 0 of 8 latent units are active",
    }),
    run("dddddddd", {
      modelName: "average",
      type: "average",
      probabilistic: null,
      schedule: null,
      activeUnits: null,
      latentUnits: null,
      curves: { steps: [], epochs: [] },
    }),
  ];
  const analysis = movementAnalysis(
    {
      "fs-vae-quick": [
        seq(
          [0, 1, 2, 3, 4, 5, 6, 7, 8],
          [
            [1, 0],
            [1, 1],
            [0, 1],
            [-1, 1],
            [-1, 0],
            [-1, -1],
            [0, -1],
            [1, -1],
            [1, 0],
          ],
        ),
      ],
      average: [
        seq(
          [0, 1, 2, 3, 4, 5, 6, 7, 8],
          [
            [1, 0],
            [1, 0.1],
            [1, 0.2],
            [1, 0.3],
            [1, 0.4],
            [1, 0.5],
            [1, 0.6],
            [1, 0.7],
            [1, 0.8],
          ],
        ),
      ],
    },
    [1, 7],
    10,
  );
  return {
    generatedAt: "2026-11-29T00:00:00.000Z",
    store: { backend: "pglite", users: 3, tracks: 10, events: 30, firstPlay: null, lastPlay: null },
    runs,
    metricsTable: metricsTable(runs),
    movement: {
      runId: runs[0].id,
      modelName: "fs-vae-quick",
      seed: 1,
      dataCutoff: null,
      users: 1,
      candidates: 1,
      steps: 9,
      analysis: withoutValues(analysis),
      seconds: 0.1,
    },
    listening: {
      asOf: null,
      users: 3,
      plays: 30,
      aggregates: ["plays", "likes", "playlist_adds", "skips", "restarts", "liked_plays"],
      correlation: Array.from({ length: 6 }, (_, i) =>
        Array.from({ length: 6 }, (_, j) => (i === j ? 1 : i === 5 || j === 5 ? null : -0.5)),
      ),
      dayparts: [
        { daypart: "night", hours: [0, 6], plays: 3, skips: 1, skipRate: 1 / 3 },
        { daypart: "morning", hours: [6, 12], plays: 10, skips: 2, skipRate: 0.2 },
        { daypart: "afternoon", hours: [12, 18], plays: 0, skips: 0, skipRate: null },
        { daypart: "evening", hours: [18, 24], plays: 17, skips: 4, skipRate: 4 / 17 },
      ],
    },
  };
}

const LIBS = [{ name: "fake-chart 1.0", source: "window.Chart = function () {}; // see https://example.org/licence" }];

describe("renderReport (pure)", () => {
  const data = fixture();
  const html = renderReport(data, LIBS);
  const charts = reportCharts(data);

  it("has one canvas per chart and embeds each chart's configuration", () => {
    // 3 probabilistic learned runs x (loss, latent) + 4 movement + correlation + dayparts
    expect(charts.map((c) => c.id)).toEqual([
      "loss-aaaaaaaa",
      "latent-aaaaaaaa",
      "loss-bbbbbbbb",
      "latent-bbbbbbbb",
      "loss-cccccccc",
      "latent-cccccccc",
      "movement-l2-1",
      "movement-l2-7",
      "movement-cosine-1",
      "movement-cosine-7",
      "slow-correlation",
      "dayparts",
    ]);
    expect(html).toContain(`data-charts="${charts.length}"`);
    for (const c of charts) expect(html).toContain(`<canvas id="${c.id}"`);
    const embedded = embeddedData(html) as {
      charts: { id: string; config: { type: string; data: { datasets: { label: string; data: unknown[] }[] } } }[];
    };
    expect(embedded.charts.map((c) => c.id)).toEqual(charts.map((c) => c.id));
    const loss = embedded.charts[0].config;
    expect(loss.type).toBe("line");
    expect(loss.data.datasets.map((d) => d.label)).toEqual([
      "training loss (step)",
      "training loss (epoch mean)",
      "validation loss (epoch)",
    ]);
    expect(loss.data.datasets[0].data).toEqual([
      { x: 1, y: 29 },
      { x: 10, y: 20 },
      { x: 20, y: 10 },
    ]);
    expect(loss.data.datasets[2].data).toEqual([{ x: 10, y: 21 }]); // no validation loss in epoch 2: no point
    const matrix = embedded.charts.find((c) => c.id === "slow-correlation")!.config;
    expect(matrix.type).toBe("matrix");
    expect(matrix.data.datasets[0].data).toHaveLength(36);
    const histogram = embedded.charts.find((c) => c.id === "movement-cosine-1")!.config;
    expect(histogram.data.datasets.map((d) => d.label)).toEqual(["fs-vae-quick", "average"]);
  });

  it("shows the beta schedule, active units and a collapse per run, and mean ± std for a model with several runs", () => {
    expect(html).toContain("beta 0.01, warm-up 500 steps, free bits 0.05");
    expect(html).toContain("beta 0.5, warm-up 0 steps, free bits 0");
    expect(html).toContain("posterior collapse: only 0 of 8 latent units are active");
    expect(html).toMatch(/<span class="warn">0 \/ 8<\/span>/);
    // fs-vae-quick runs with L2 3 and 5: mean 4, sample std sqrt(2)
    expect(html).toContain(`4.000 ± ${Math.SQRT2.toFixed(3)}`);
    expect(data.metricsTable.map((r) => [r.model, r.runs])).toEqual([
      ["fs-vae-quick", 2],
      ["beta-half</script><b>", 1],
      ["average", 1],
      ["Average", 4],
      ["Recent", 1],
      ["Popularity", 4],
    ]);
  });

  it("escapes text and keeps the embedded JSON from closing its script", () => {
    expect(html).not.toContain("beta-half</script><b>");
    expect(html).toContain("beta-half&lt;/script&gt;&lt;b&gt;");
    expect((embeddedData(html) as ReportData).runs[2].modelName).toBe("beta-half</script><b>");
  });

  it("inlines the libraries and loads nothing from the network", () => {
    expect(html).toContain("window.Chart = function () {};");
    expect(loadableUrls(html)).toEqual([]);
    expect(
      loadableUrls(`<img src="https://x.org/a.png"><link href='http://x.org/s.css'><style>@import url(https://x.org/f.css)</style>`),
    ).toHaveLength(3);
  });

  it("colours correlations from blue (-1) through white (0) to red (+1)", () => {
    expect(correlationColour(0)).toBe("rgb(255, 255, 255)");
    expect(correlationColour(1)).toBe("rgb(213, 94, 0)");
    expect(correlationColour(-1)).toBe("rgb(0, 114, 178)");
    expect(correlationColour(null)).toBe("#dddddd");
  });
});
