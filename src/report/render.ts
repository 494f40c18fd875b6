/**
 * The report as one self-contained HTML page: the data embedded as JSON, the
 * chart library inlined, no external URL. Pure: data and library sources in,
 * a string out.
 *
 * The page draws every chart with animation off; a plugin checks after each
 * render that the canvas has non-transparent pixels and then sets
 * data-drawn="true" on it, and the body's data-charts-drawn counts the drawn
 * charts (data-charts holds how many there are), so a headless browser can
 * tell that the charts drew.
 */
import { movementTable } from "../eval/movement";
import type { MeanStd } from "../eval/metrics";
import { reportCharts, type ChartSpec } from "./charts";
import type { MetricsRow, ReportData, ReportRun } from "./data";

/** Browser scripts to inline, in load order (Chart.js first, then its plugins). */
export interface InlineScript {
  name: string;
  source: string;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** JavaScript safe inside <script>: nothing can close the element early. */
const scriptSafe = (s: string) => s.replace(/<\/(script)/gi, "<\\/$1");

/** JSON safe inside <script>: every "<" escaped (still the same JSON). */
const jsonSafe = (s: string) => s.replace(/</g, "\\u003c");

/** A source-map comment would make a browser's devtools fetch the map: drop it. */
const withoutSourceMap = (s: string) => s.replace(/\n?\/\/# sourceMappingURL=\S*\s*$/, "\n");

const fmt = (v: number | null | undefined, digits = 3) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "–");
const fmtMeanStd = (m: MeanStd | null, digits = 3) =>
  !m ? "–" : m.runs > 1 ? `${fmt(m.mean, digits)} ± ${fmt(m.std, digits)}` : fmt(m.mean, digits);

function table(head: string[], rows: string[][], cls = ""): string {
  return (
    `<table${cls ? ` class="${cls}"` : ""}><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("") +
    `</tbody></table>`
  );
}

function runsSection(runs: readonly ReportRun[]): string {
  const rows = runs.map((r) => {
    const s = r.schedule;
    const schedule = s ? `beta ${s.beta}, warm-up ${s.warmupSteps} steps, free bits ${s.freeBits}` : "–";
    const units = r.probabilistic === false ? "deterministic" : r.latentUnits ? `${r.activeUnits ?? "?"} / ${r.latentUnits}` : "–";
    const state = r.collapse
      ? `<span class="warn">${escapeHtml(r.collapse)}</span>`
      : r.error
        ? `<span class="warn">${escapeHtml(r.error)}</span>`
        : "";
    return [
      `<code>${escapeHtml(r.id.slice(0, 8))}</code>`,
      escapeHtml(r.modelName),
      escapeHtml(r.type),
      String(r.seed),
      escapeHtml(r.status),
      r.epochs === null ? "–" : `${r.epochs} / ${r.steps}`,
      escapeHtml(schedule),
      `<span class="${r.collapse ? "warn" : ""}">${escapeHtml(units)}</span>`,
      fmt(r.test?.model.l2),
      fmt(r.test?.model.cosine),
      fmt(r.test?.model.hr10),
      state,
    ];
  });
  return (
    `<section id="runs"><h2>Runs</h2>` +
    `<p>Each run's beta schedule and its active latent units (mean KL above 0.01 nats on the test split, else the validation split): ` +
    `a probabilistic model with few active units has collapsed to its prior.</p>` +
    table(
      ["run", "model", "type", "seed", "status", "epochs / steps", "beta schedule", "active units", "L2", "cosine", "HR@10", "notes"],
      rows,
    ) +
    `</section>`
  );
}

function metricsSection(rows: readonly MetricsRow[]): string {
  if (!rows.length) return `<section id="metrics"><h2>Metrics</h2><p>No run among these has test metrics yet.</p></section>`;
  const body = rows.map((r) => [
    r.baseline ? `<em>${escapeHtml(r.model)}</em>` : escapeHtml(r.model),
    String(r.runs),
    fmtMeanStd(r.metrics.l2),
    fmtMeanStd(r.metrics.cosine),
    fmtMeanStd(r.metrics.hr10),
    fmtMeanStd(r.metrics.ndcg10),
    fmtMeanStd(r.metrics.mrr),
    r.activeUnits ? `${fmtMeanStd(r.activeUnits, 1)} / ${r.latentUnits}` : "–",
  ]);
  return (
    `<section id="metrics"><h2>Metrics on the test split</h2>` +
    `<p>Mean ± sample standard deviation where several runs share a model. The baselines in italics are measured on the same test rows as each run, averaged over all the runs.</p>` +
    table(["model", "runs", "L2", "cosine", "HR@10", "NDCG@10", "MRR", "active units"], body) +
    `</section>`
  );
}

function canvas(c: ChartSpec): string {
  return (
    `<figure class="chart"><figcaption><strong>${escapeHtml(c.title)}</strong><br>${escapeHtml(c.caption)}</figcaption>` +
    `<div class="frame${c.matrixSize ? " square" : ""}"><canvas id="${escapeHtml(c.id)}" data-chart="${escapeHtml(c.config.type as string)}"></canvas></div></figure>`
  );
}

function movementSection(data: ReportData, charts: ChartSpec[]): string {
  const m = data.movement;
  if ("skipped" in m)
    return `<section id="movement"><h2>Movement of user embeddings</h2><p>Not measured: ${escapeHtml(m.skipped)}.</p></section>`;
  const rows = movementTable(m.analysis).map((r) => [
    String(r.lag),
    escapeHtml(r.method),
    String(r.n),
    fmt(r.l2.mean),
    fmt(r.l2.median),
    fmt(r.l2.p90),
    fmt(r.cosine.mean, 4),
    fmt(r.cosine.median, 4),
    fmt(r.cosine.p90, 4),
  ]);
  return (
    `<section id="movement"><h2>Movement of user embeddings</h2>` +
    `<p>Run <code>${escapeHtml(m.runId.slice(0, 8))}</code> (${escapeHtml(m.modelName)}), ${m.users} users sampled, ${m.steps} embeddings each way. ` +
    `A step is one play; at each held-out step (the run's test split) the user embedding is the model's mu after that play, and Average's is the mean embedding of the tracks played so far. ` +
    `The change after k steps compares the embeddings at steps i and i + k of the same user. The two live in different spaces (the latent z, the track space), so compare shapes, and cosine more than L2.</p>` +
    table(["steps", "method", "pairs", "L2 mean", "L2 median", "L2 p90", "cosine mean", "cosine median", "cosine p90"], rows) +
    `<div class="grid">${charts.map(canvas).join("")}</div></section>`
  );
}

function listeningSection(data: ReportData, charts: ChartSpec[]): string {
  const l = data.listening;
  const corr = table(
    ["", ...l.aggregates],
    l.aggregates.map((a, i) => [`<strong>${escapeHtml(a)}</strong>`, ...l.correlation[i].map((r) => fmt(r, 2))]),
    "numbers",
  );
  const parts = table(
    ["part of day", "hours (UTC)", "plays", "skips", "skip rate"],
    l.dayparts.map((d) => [escapeHtml(d.daypart), `${d.hours[0]}-${d.hours[1]}`, String(d.plays), String(d.skips), fmt(d.skipRate)]),
  );
  return (
    `<section id="listening"><h2>Listening data</h2><p>${l.users} users, ${l.plays} plays up to ${escapeHtml(l.asOf ?? "the last play")}.</p>` +
    `<div class="grid">${charts.map(canvas).join("")}</div>${corr}${parts}</section>`
  );
}

/** Runs in the browser: draws each chart and marks it once its canvas has ink. */
const PAGE_SCRIPT = `
(function () {
  var report = JSON.parse(document.getElementById("report-data").textContent);
  var drawn = 0;
  document.body.setAttribute("data-charts-drawn", "0");
  function hasInk(canvas) {
    if (!canvas.width || !canvas.height) return false;
    var px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (var i = 3; i < px.length; i += 4) if (px[i] !== 0) return true;
    return false;
  }
  var marker = {
    id: "rubatoDrawnMarker",
    afterRender: function (chart) {
      var c = chart.canvas;
      if (c.getAttribute("data-drawn") === "true" || !hasInk(c)) return;
      c.setAttribute("data-drawn", "true");
      drawn++;
      document.body.setAttribute("data-charts-drawn", String(drawn));
    },
  };
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  report.charts.forEach(function (spec) {
    var canvas = document.getElementById(spec.id);
    var config = spec.config;
    if (spec.matrixSize) {
      var n = spec.matrixSize;
      config.data.datasets.forEach(function (ds) {
        ds.width = function (ctx) { return (ctx.chart.chartArea || {}).width / n - 1; };
        ds.height = function (ctx) { return (ctx.chart.chartArea || {}).height / n - 1; };
      });
    }
    config.plugins = [marker];
    try {
      new Chart(canvas, config);
    } catch (err) {
      canvas.setAttribute("data-error", String((err && err.message) || err));
    }
  });
})();
`;

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: right; } th { background: #f5f5f5; }
td:first-child, th:first-child { text-align: left; }
.warn { color: #b00020; font-weight: 600; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 1rem; }
figure.chart { margin: 0; } figcaption { font-size: 12px; color: #444; margin-bottom: 0.3rem; }
.frame { position: relative; height: 300px; } .frame.square { height: 420px; max-width: 520px; }
code { background: #f3f3f3; padding: 0 0.2rem; }
`;

export function renderReport(data: ReportData, scripts: readonly InlineScript[]): string {
  const charts = reportCharts(data);
  const of = (section: ChartSpec["section"]) => charts.filter((c) => c.section === section);
  const curves = of("curves");
  const s = data.store;
  const embedded = JSON.stringify({ ...data, charts }, (_, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v));
  return [
    `<!doctype html>`,
    `<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>Rubato report: ${escapeHtml(data.runs.map((r) => r.modelName).join(", "))}</title><style>${STYLE}</style></head>`,
    `<body data-charts="${charts.length}" data-charts-drawn="0">`,
    `<h1>Rubato report</h1>`,
    `<p>Generated ${escapeHtml(data.generatedAt)} from the ${escapeHtml(s.backend)} store: ${s.users} users, ${s.tracks} tracks, ${s.events} plays` +
      `${s.firstPlay ? ` from ${escapeHtml(s.firstPlay)} to ${escapeHtml(s.lastPlay ?? "")}` : ""}. ${data.runs.length} run${data.runs.length === 1 ? "" : "s"}.</p>`,
    runsSection(data.runs),
    metricsSection(data.metricsTable),
    `<section id="curves"><h2>Training curves</h2>${curves.length ? `<div class="grid">${curves.map(canvas).join("")}</div>` : "<p>No run among these recorded training curves (non-learned baselines have none).</p>"}</section>`,
    movementSection(data, of("movement")),
    listeningSection(data, of("listening")),
    `<footer><p>Self-contained: the data is embedded below and the charts are drawn by ${scripts.map((x) => escapeHtml(x.name)).join(" and ")}, inlined (MIT licences, banners kept).</p></footer>`,
    `<script type="application/json" id="report-data">${jsonSafe(embedded)}</script>`,
    ...scripts.map((x) => `<script>/* ${escapeHtml(x.name)} */\n${scriptSafe(withoutSourceMap(x.source))}</script>`),
    `<script>${PAGE_SCRIPT}</script>`,
    `</body></html>`,
    "",
  ].join("\n");
}
