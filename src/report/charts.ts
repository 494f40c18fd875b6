/**
 * The report's charts as Chart.js configurations: plain JSON (no functions),
 * built from the report data. The page (render.ts) adds what JSON cannot
 * carry: the matrix cells' size and the marker that records each drawn chart.
 */
import { CHANGE_KINDS, type ChangeKind } from "../eval/movement";
import type { ReportData, ReportRun } from "./data";

export interface ChartSpec {
  /** The canvas id. */
  id: string;
  /** Which part of the report it belongs to. */
  section: "curves" | "movement" | "listening";
  title: string;
  caption: string;
  /** Cells per side of a matrix chart (the page sizes the cells from it). */
  matrixSize?: number;
  config: Record<string, unknown>;
}

/** Colours (Okabe-Ito, readable by colour-blind readers). */
export const COLOURS = {
  blue: "#0072B2",
  orange: "#E69F00",
  green: "#009E73",
  red: "#D55E00",
  purple: "#CC79A7",
  grey: "#777777",
} as const;

const alpha = (hex: string, a: number) =>
  `${hex}${Math.round(a * 255)
    .toString(16)
    .padStart(2, "0")}`;

const finite = (v: number | null | undefined): v is number => typeof v === "number" && Number.isFinite(v);

const axis = (title: string, extra: Record<string, unknown> = {}) => ({ title: { display: true, text: title }, ...extra });

function lineDataset(label: string, colour: string, points: { x: number; y: number }[], extra: Record<string, unknown> = {}) {
  return { label, data: points, borderColor: colour, backgroundColor: colour, borderWidth: 1.5, pointRadius: 0, ...extra };
}

const short = (id: string) => id.slice(0, 8);

/** Loss per step, and each epoch's mean training loss and validation loss at the epoch's last step. */
function lossChart(run: ReportRun): ChartSpec {
  const { steps, epochs } = run.curves;
  return {
    id: `loss-${short(run.id)}`,
    section: "curves",
    title: `${run.modelName} (seed ${run.seed}, run ${short(run.id)}): loss`,
    caption: "Training loss (reconstruction + beta x KL) per recorded step, and per epoch the mean training loss and the validation loss.",
    config: {
      type: "line",
      data: {
        datasets: [
          lineDataset(
            "training loss (step)",
            alpha(COLOURS.blue, 0.5),
            steps.filter((p) => finite(p.loss)).map((p) => ({ x: p.step, y: p.loss })),
          ),
          lineDataset(
            "training loss (epoch mean)",
            COLOURS.blue,
            epochs.filter((p) => finite(p.trainLoss)).map((p) => ({ x: p.step, y: p.trainLoss })),
            { pointRadius: 4 },
          ),
          lineDataset(
            "validation loss (epoch)",
            COLOURS.orange,
            epochs.filter((p) => finite(p.validationLoss)).map((p) => ({ x: p.step, y: p.validationLoss! })),
            { pointRadius: 4 },
          ),
        ],
      },
      options: { parsing: false, scales: { x: axis("optimizer step", { type: "linear" }), y: axis("loss") } },
    },
  };
}

/** beta_t and the active latent units over training: where the units drop, the posterior collapsed. */
function latentChart(run: ReportRun): ChartSpec {
  const { steps, epochs } = run.curves;
  const s = run.schedule;
  const units = run.latentUnits ?? 0;
  return {
    id: `latent-${short(run.id)}`,
    section: "curves",
    title: `${run.modelName} (seed ${run.seed}, run ${short(run.id)}): beta schedule and active latent units`,
    caption:
      (s ? `beta ${s.beta}, warmed up linearly over ${s.warmupSteps} steps, free bits ${s.freeBits} nats per unit. ` : "") +
      `Active units: latent units whose mean KL exceeds 0.01 nats, of ${units}.`,
    config: {
      type: "line",
      data: {
        datasets: [
          lineDataset(
            "beta",
            COLOURS.purple,
            steps.filter((p) => finite(p.beta)).map((p) => ({ x: p.step, y: p.beta })),
            { yAxisID: "beta" },
          ),
          lineDataset(
            "active units (step batch)",
            alpha(COLOURS.green, 0.5),
            steps.filter((p) => finite(p.activeUnits)).map((p) => ({ x: p.step, y: p.activeUnits })),
            { yAxisID: "units" },
          ),
          lineDataset(
            "active units (epoch, validation)",
            COLOURS.green,
            epochs.filter((p) => finite(p.activeUnits)).map((p) => ({ x: p.step, y: p.activeUnits })),
            { yAxisID: "units", pointRadius: 4 },
          ),
        ],
      },
      options: {
        parsing: false,
        scales: {
          x: axis("optimizer step", { type: "linear" }),
          beta: axis("beta", { type: "linear", position: "left", min: 0 }),
          units: axis("active units", {
            type: "linear",
            position: "right",
            min: 0,
            max: units || undefined,
            grid: { drawOnChartArea: false },
          }),
        },
      },
    },
  };
}

const KIND_LABEL: Record<ChangeKind, string> = { l2: "L2 change", cosine: "cosine change" };

function movementCharts(data: ReportData): ChartSpec[] {
  const m = data.movement;
  if ("skipped" in m) return [];
  const colours = [COLOURS.blue, COLOURS.orange];
  // The user embedding against the baseline (first and last methods); the branches' parts are in the table.
  const all = m.analysis.methods;
  const shown = all.length > 2 ? [all[0], all[all.length - 1]] : all;
  return CHANGE_KINDS.flatMap((kind) =>
    m.analysis.byLag.map((l): ChartSpec => {
      const { edges, scale, methods } = l.kinds[kind];
      const centre = (b: number) => (scale === "log" ? Math.sqrt(edges[b] * edges[b + 1]) : (edges[b] + edges[b + 1]) / 2);
      const labels = edges.slice(0, -1).map((_, b) => centre(b).toPrecision(3));
      return {
        id: `movement-${kind}-${l.lag}`,
        section: "movement",
        title: `${KIND_LABEL[kind]} after ${l.lag} step${l.lag === 1 ? "" : "s"}`,
        caption: `Share of (user, step) pairs per bin${scale === "log" ? " (log-spaced: the methods' changes differ by orders of magnitude)" : ""}; the first and last bins also hold what lies beyond them. ${shown
          .map((name) => `${name}: ${methods[name].summary.n} pairs`)
          .join(", ")}.`,
        config: {
          type: "bar",
          data: {
            labels,
            datasets: shown.map((name, i) => {
              const { counts, summary } = methods[name];
              return {
                label: name,
                data: counts.map((c) => (summary.n ? c / summary.n : 0)),
                backgroundColor: alpha(colours[i % colours.length], 0.55),
                borderColor: colours[i % colours.length],
                borderWidth: 1,
                grouped: false,
                barPercentage: 1,
                categoryPercentage: 1,
              };
            }),
          },
          options: {
            scales: {
              x: axis(`${KIND_LABEL[kind]} (bin centre${scale === "log" ? ", log-spaced bins" : ""})`),
              y: axis("share of pairs", { min: 0 }),
            },
          },
        },
      };
    }),
  );
}

/** A diverging colour for a correlation in [-1, 1]: blue below 0, white at 0, red above; grey for undefined. */
export function correlationColour(r: number | null): string {
  if (r === null || !Number.isFinite(r)) return "#dddddd";
  const t = Math.min(1, Math.abs(r));
  const [R, G, B] = r >= 0 ? [213, 94, 0] : [0, 114, 178];
  const mix = (c: number) => Math.round(255 + (c - 255) * t);
  return `rgb(${mix(R)}, ${mix(G)}, ${mix(B)})`;
}

function correlationChart(data: ReportData): ChartSpec {
  const { aggregates, correlation, users, asOf } = data.listening;
  const cells = aggregates.flatMap((y, i) => aggregates.map((x, j) => ({ x, y, v: correlation[i][j] })));
  return {
    id: "slow-correlation",
    section: "listening",
    title: "Slow features: correlation over users",
    caption: `Pearson correlation of each pair of slow aggregates over ${users} users, counted up to ${asOf ?? "the last play"}. Red positive, blue negative, white none; grey where an aggregate does not vary.`,
    matrixSize: aggregates.length,
    config: {
      type: "matrix",
      data: {
        datasets: [
          {
            label: "Pearson r",
            data: cells,
            backgroundColor: cells.map((c) => correlationColour(c.v)),
            borderColor: "#ffffff",
            borderWidth: 1,
          },
        ],
      },
      options: {
        plugins: { legend: { display: false } },
        scales: {
          x: { type: "category", labels: aggregates, offset: true, grid: { display: false } },
          y: { type: "category", labels: aggregates, offset: true, reverse: false, grid: { display: false } },
        },
      },
    },
  };
}

function daypartChart(data: ReportData): ChartSpec {
  const { dayparts } = data.listening;
  return {
    id: "dayparts",
    section: "listening",
    title: "Plays and skips by part of day",
    caption: "Plays and skipped plays per part of day (UTC hours, the dayparts of the features), and the skip rate.",
    config: {
      type: "bar",
      data: {
        labels: dayparts.map((d) => `${d.daypart} ${d.hours[0]}-${d.hours[1]} h`),
        datasets: [
          { type: "bar", label: "plays", data: dayparts.map((d) => d.plays), backgroundColor: COLOURS.blue, yAxisID: "count" },
          { type: "bar", label: "skips", data: dayparts.map((d) => d.skips), backgroundColor: COLOURS.orange, yAxisID: "count" },
          {
            type: "line",
            label: "skip rate",
            data: dayparts.map((d) => d.skipRate),
            borderColor: COLOURS.red,
            backgroundColor: COLOURS.red,
            yAxisID: "rate",
          },
        ],
      },
      options: {
        scales: {
          count: axis("plays", { type: "linear", position: "left", min: 0 }),
          rate: axis("skip rate", { type: "linear", position: "right", min: 0, max: 1, grid: { drawOnChartArea: false } }),
        },
      },
    },
  };
}

/** Every chart of the report, in page order. */
export function reportCharts(data: ReportData): ChartSpec[] {
  const curves = data.runs
    .filter((r) => r.curves.steps.length || r.curves.epochs.length)
    .flatMap((r) => (r.probabilistic ? [lossChart(r), latentChart(r)] : [lossChart(r)]));
  return [...curves, ...movementCharts(data), correlationChart(data), daypartChart(data)];
}
