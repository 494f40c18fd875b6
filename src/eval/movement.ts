/**
 * How far a user's embedding moves over time (the paper's Figures 6 and 7).
 *
 * A time step is one play: a user's embedding at step i is their state after
 * play i (what predicts play i + 1). For each user we have the embeddings at
 * some steps (ascending, not necessarily contiguous); the change after k steps
 * is measured between the embeddings at steps i and i + k whenever both exist:
 *
 *   L2 change      ||e(i + k) - e(i)||
 *   cosine change  1 - e(i).e(i + k) / (||e(i)|| ||e(i + k)||), 1 if either is 0
 *
 * Pure: plain arrays in, arrays, summaries and histograms out.
 */

/** One user's embeddings at consecutive or gapped steps. */
export interface EmbeddingSequence {
  /** Play index of each embedding, strictly ascending. */
  steps: ArrayLike<number>;
  /** [steps.length, dim] row-major. */
  vectors: Float32Array;
  dim: number;
}

export interface Changes {
  l2: number[];
  cosine: number[];
}

export const CHANGE_KINDS = ["l2", "cosine"] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** L2 and cosine change between every pair of embeddings exactly `lag` steps apart, user after user. */
export function changesAfter(sequences: readonly EmbeddingSequence[], lag: number): Changes {
  if (!Number.isInteger(lag) || lag < 1) throw new RangeError(`movement: a lag is a positive whole number of steps, got ${lag}`);
  const out: Changes = { l2: [], cosine: [] };
  for (const s of sequences) {
    const { steps, vectors, dim } = s;
    if (vectors.length !== steps.length * dim)
      throw new Error(`movement: a sequence has ${vectors.length} values for ${steps.length} steps of dimension ${dim}`);
    // steps ascend: walk a second pointer to the step lag later
    for (let a = 0, b = 0; a < steps.length; a++) {
      if (a > 0 && steps[a] <= steps[a - 1]) throw new Error(`movement: steps must ascend, got ${steps[a - 1]} then ${steps[a]}`);
      const target = steps[a] + lag;
      if (b <= a) b = a + 1;
      while (b < steps.length && steps[b] < target) b++;
      if (b >= steps.length || steps[b] !== target) continue;
      let dd = 0,
        dot = 0,
        aa = 0,
        bb = 0;
      for (let j = 0, x = a * dim, y = b * dim; j < dim; j++) {
        const u = vectors[x + j];
        const v = vectors[y + j];
        dd += (v - u) ** 2;
        dot += u * v;
        aa += u * u;
        bb += v * v;
      }
      out.l2.push(Math.sqrt(dd));
      out.cosine.push(aa > 0 && bb > 0 ? 1 - dot / Math.sqrt(aa * bb) : 1);
    }
  }
  return out;
}

export interface Summary {
  n: number;
  mean: number;
  std: number;
  min: number;
  p10: number;
  p25: number;
  median: number;
  p75: number;
  p90: number;
  max: number;
}

/** The q-quantile (0..1) of ascending values, linearly interpolated between order statistics (R's type 7). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Mean, sample std, and quantiles; NaN everywhere for no values. */
export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  const sorted = Float64Array.from(values).sort();
  const mean = n ? values.reduce((a, b) => a + b, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : n ? 0 : NaN;
  const q = (p: number) => quantileSorted(sorted, p);
  return { n, mean, std, min: q(0), p10: q(0.1), p25: q(0.25), median: q(0.5), p75: q(0.75), p90: q(0.9), max: q(1) };
}

export interface Histogram {
  /** bins + 1 ascending edges; bin b is [edges[b], edges[b + 1]); the first bin also holds what is below, the last what is above. */
  edges: number[];
  /** log: the edges are spaced evenly on a log scale (the groups' changes differ by orders of magnitude). */
  scale: "linear" | "log";
}

/** Above this ratio between the largest and the smallest typical change, bins are log-spaced. */
export const LOG_BINS_RATIO = 30;

/**
 * Bins shared by several groups of changes, so their histograms overlay.
 * Typical range: the smallest 1st percentile to the largest 99th percentile
 * of the groups (one far outlier does not flatten the rest). Equal-width bins
 * from 0 to the top, unless the range spans more than LOG_BINS_RATIO (e.g. a
 * latent embedding against the track-space Average): then log-spaced bins
 * from the bottom to the top, where every group's shape stays visible.
 */
export function sharedBins(groups: readonly (readonly number[])[], bins: number): Histogram {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`movement: bins must be a positive whole number, got ${bins}`);
  let top = 0;
  let bottom = Infinity;
  for (const g of groups) {
    const positive = Float64Array.from(g.filter((v) => v > 0)).sort();
    if (!positive.length) continue;
    top = Math.max(top, quantileSorted(positive, 0.99));
    bottom = Math.min(bottom, quantileSorted(positive, 0.01));
  }
  if (!(top > 0)) return { edges: Array.from({ length: bins + 1 }, (_, b) => b / bins), scale: "linear" };
  if (top / bottom <= LOG_BINS_RATIO) return { edges: Array.from({ length: bins + 1 }, (_, b) => (top * b) / bins), scale: "linear" };
  const [lo, hi] = [Math.log(bottom), Math.log(top)];
  return { edges: Array.from({ length: bins + 1 }, (_, b) => Math.exp(lo + ((hi - lo) * b) / bins)), scale: "log" };
}

/** Counts of values per bin of `histogram` (below the first edge: first bin; at or above the last: last bin). */
export function binCounts(values: readonly number[], histogram: Histogram): number[] {
  const { edges } = histogram;
  const bins = edges.length - 1;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) {
    // the last edge <= v, by bisection
    let lo = 0,
      hi = bins - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (edges[mid] <= v) lo = mid;
      else hi = mid - 1;
    }
    counts[lo]++;
  }
  return counts;
}

/** One method's changes of one kind after one lag. */
export interface MethodChanges {
  values: number[];
  summary: Summary;
  /** Counts in the kind's shared bins. */
  counts: number[];
}

export interface LagMovement {
  lag: number;
  /** Per change kind: bins shared by every method (so histograms overlay), and each method's changes. */
  kinds: Record<ChangeKind, Histogram & { methods: Record<string, MethodChanges> }>;
}

export interface MovementAnalysis {
  lags: number[];
  /** Method names, in the order given (e.g. the model, then "average"). */
  methods: string[];
  /** Users per method with embeddings at two steps or more. */
  users: Record<string, number>;
  byLag: LagMovement[];
}

/**
 * The movement of several methods' embeddings over the same users and steps:
 * for each lag and each kind of change, every method's values, summary and
 * histogram counts in bins shared across the methods.
 */
export function movementAnalysis(
  methods: Readonly<Record<string, readonly EmbeddingSequence[]>>,
  lags: readonly number[] = [1, 7],
  bins = 30,
): MovementAnalysis {
  const names = Object.keys(methods);
  const users: Record<string, number> = {};
  for (const name of names) users[name] = methods[name].filter((s) => s.steps.length > 1).length;
  const byLag = lags.map((lag): LagMovement => {
    const changes = Object.fromEntries(names.map((name) => [name, changesAfter(methods[name], lag)]));
    const kinds = {} as LagMovement["kinds"];
    for (const kind of CHANGE_KINDS) {
      const histogram = sharedBins(
        names.map((name) => changes[name][kind]),
        bins,
      );
      kinds[kind] = {
        ...histogram,
        methods: Object.fromEntries(
          names.map((name) => {
            const values = changes[name][kind];
            return [name, { values, summary: summarize(values), counts: binCounts(values, histogram) }];
          }),
        ),
      };
    }
    return { lag, kinds };
  });
  return { lags: [...lags], methods: names, users, byLag };
}

/** The analysis without the raw values (for printing or embedding where only summaries and histograms matter). */
export function withoutValues(analysis: MovementAnalysis): MovementAnalysis {
  const strip = (k: LagMovement["kinds"][ChangeKind]) => ({
    ...k,
    methods: Object.fromEntries(Object.entries(k.methods).map(([name, m]) => [name, { ...m, values: [] }])),
  });
  return {
    ...analysis,
    byLag: analysis.byLag.map((l) => ({ lag: l.lag, kinds: { l2: strip(l.kinds.l2), cosine: strip(l.kinds.cosine) } })),
  };
}

export interface MovementRow {
  lag: number;
  method: string;
  /** Pairs measured. */
  n: number;
  l2: { mean: number; median: number; p90: number };
  cosine: { mean: number; median: number; p90: number };
}

/** One row per lag and method: mean, median and 90th percentile of each kind of change (the CLI's table and the report's). */
export function movementTable(analysis: MovementAnalysis): MovementRow[] {
  const pick = (s: Summary) => ({ mean: s.mean, median: s.median, p90: s.p90 });
  return analysis.byLag.flatMap((l) =>
    analysis.methods.map((method) => ({
      lag: l.lag,
      method,
      n: l.kinds.l2.methods[method].summary.n,
      l2: pick(l.kinds.l2.methods[method].summary),
      cosine: pick(l.kinds.cosine.methods[method].summary),
    })),
  );
}
