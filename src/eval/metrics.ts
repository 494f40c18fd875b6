/**
 * The paper's metrics plus ranking quality of the neighbour search.
 *
 * For each evaluated row with prediction p and true next track y (embedding e_y):
 *   l2      ||p - e_y||                               (mean over rows)
 *   cosine  1 - p.e_y / (||p|| ||e_y||), 1 if either is 0   (mean over rows)
 *   rank    1 + #catalogue tracks strictly nearer to p than y by L2, plus the
 *           tracks at exactly y's distance that come earlier in the catalogue
 *           (what a stable sort of the exact search shows). Candidates: every
 *           catalogue track with an embedding (hasEmbedding: a stored zero vector
 *           is none), the user's own past plays included.
 *   hr10    1 if rank <= 10
 *   ndcg10  1 / log2(rank + 1) if rank <= 10, else 0 (one relevant item: IDCG = 1)
 *   mrr     1 / rank over the FULL ranking (not truncated at 10)
 *
 * And two diagnostics that are not scores: predictionNorm, the mean ||p||, and
 * targetNorm, the mean ||e_y||. A prediction much shorter than the targets is a
 * model shrinking towards the mean (or zero): it shows at a glance.
 */
import type { Catalogue } from "../features/history";
import { targetTime, type Dataset } from "../features/dataset";

export interface Metrics {
  l2: number;
  cosine: number;
  hr10: number;
  ndcg10: number;
  mrr: number;
  /** Mean L2 norm of the predictions ||p||. Absent from metrics stored before it existed. */
  predictionNorm?: number;
  /** Mean L2 norm of the true next tracks' embeddings ||e_y||. Absent from metrics stored before it existed. */
  targetNorm?: number;
  /** When the earliest evaluated target (next play) was played (ms): where the test period starts. Absent from metrics stored before it existed. */
  from?: number;
  /** Rows evaluated. */
  n: number;
}

export const METRIC_NAMES = ["l2", "cosine", "hr10", "ndcg10", "mrr"] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export const METRIC_LABELS: Record<MetricName, string> = { l2: "L2", cosine: "cosine", hr10: "HR@10", ndcg10: "NDCG@10", mrr: "MRR" };
/** Distances are better low, ranking scores high. */
export const LOWER_IS_BETTER: Record<MetricName, boolean> = { l2: true, cosine: true, hr10: false, ndcg10: false, mrr: false };
/** Decimals each metric is printed with. */
export const DIGITS: Record<MetricName, number> = { l2: 3, cosine: 3, hr10: 3, ndcg10: 3, mrr: 4 };

/** Candidate rows of the catalogue (tracks with an embedding) and their squared norms. */
function candidates(catalogue: Catalogue): { rows: Int32Array; norms: Float64Array } {
  const rows: number[] = [];
  for (let i = 0; i < catalogue.hasEmbedding.length; i++) if (catalogue.hasEmbedding[i]) rows.push(i);
  const { dim, embeddings } = catalogue;
  const norms = Float64Array.from(rows, (r) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += embeddings[r * dim + j] ** 2;
    return s;
  });
  return { rows: Int32Array.from(rows), norms };
}

/**
 * Rank (1 = nearest) of each true track among all candidates by L2 distance to
 * its prediction. Exact; predictions are taken 4 at a time so each catalogue
 * row is read once per 4 predictions.
 */
export function ranks(pred: Float32Array, trueRows: Int32Array, catalogue: Catalogue): Int32Array {
  const { dim, embeddings } = catalogue;
  const { rows: cand, norms } = candidates(catalogue);
  const n = trueRows.length;
  const out = new Int32Array(n);
  // ||c||^2 - 2 p.c orders candidates by distance to p (||p||^2 is the same for all).
  const score = new Float64Array(4 * cand.length);
  const q = new Float64Array(4 * dim);
  for (let b = 0; b < n; b += 4) {
    const m = Math.min(4, n - b);
    q.fill(0);
    for (let k = 0; k < m * dim; k++) q[k] = pred[b * dim + k];
    for (let c = 0; c < cand.length; c++) {
      const co = cand[c] * dim;
      let d0 = 0,
        d1 = 0,
        d2 = 0,
        d3 = 0;
      for (let j = 0; j < dim; j++) {
        const v = embeddings[co + j];
        d0 += v * q[j];
        d1 += v * q[dim + j];
        d2 += v * q[2 * dim + j];
        d3 += v * q[3 * dim + j];
      }
      score[c] = norms[c] - 2 * d0;
      score[cand.length + c] = norms[c] - 2 * d1;
      score[2 * cand.length + c] = norms[c] - 2 * d2;
      score[3 * cand.length + c] = norms[c] - 2 * d3;
    }
    for (let k = 0; k < m; k++) {
      const t = trueRows[b + k];
      const pos = lowerBound(cand, t);
      if (pos >= cand.length || cand[pos] !== t) throw new Error(`true track row ${t} has no embedding`);
      const base = k * cand.length;
      const s = score[base + pos];
      let rank = 1;
      for (let c = 0; c < cand.length; c++) {
        const v = score[base + c];
        if (v < s || (v === s && c < pos)) rank++;
      }
      out[b + k] = rank;
    }
  }
  return out;
}

function lowerBound(a: Int32Array, x: number): number {
  let lo = 0,
    hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Metrics of predictions for the given dataset rows: pred is [rows.length, dim],
 * pred row k belongs to dataset row rows[k].
 */
export function evaluatePredictions(pred: Float32Array, dataset: Dataset, catalogue: Catalogue, rows: ArrayLike<number>): Metrics {
  const { dim } = dataset;
  const n = rows.length;
  if (pred.length !== n * dim) throw new Error(`evaluatePredictions: pred has ${pred.length} values; expected ${n} rows x ${dim}`);
  if (n === 0) return { l2: NaN, cosine: NaN, hr10: NaN, ndcg10: NaN, mrr: NaN, predictionNorm: NaN, targetNorm: NaN, n: 0 };
  let l2 = 0,
    cosine = 0,
    predictionNorm = 0,
    targetNorm = 0,
    from = Infinity;
  const trueRows = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const r = rows[k];
    trueRows[k] = dataset.targetIndex[r];
    from = Math.min(from, targetTime(dataset, r));
    let dd = 0,
      dot = 0,
      pp = 0,
      yy = 0;
    for (let j = 0; j < dim; j++) {
      const p = pred[k * dim + j];
      const y = dataset.catalogue.embeddings[trueRows[k] * dim + j];
      dd += (p - y) ** 2;
      dot += p * y;
      pp += p * p;
      yy += y * y;
    }
    l2 += Math.sqrt(dd);
    predictionNorm += Math.sqrt(pp);
    targetNorm += Math.sqrt(yy);
    cosine += pp > 0 && yy > 0 ? 1 - dot / Math.sqrt(pp * yy) : 1;
  }
  let hr = 0,
    ndcg = 0,
    mrr = 0;
  for (const rank of ranks(pred, trueRows, catalogue)) {
    if (rank <= 10) {
      hr++;
      ndcg += 1 / Math.log2(rank + 1);
    }
    mrr += 1 / rank;
  }
  return {
    l2: l2 / n,
    cosine: cosine / n,
    hr10: hr / n,
    ndcg10: ndcg / n,
    mrr: mrr / n,
    predictionNorm: predictionNorm / n,
    targetNorm: targetNorm / n,
    from,
    n,
  };
}

export interface MeanStd {
  mean: number;
  /** Sample standard deviation (n - 1); 0 for a single run. */
  std: number;
  runs: number;
}

/** Mean +- sample std of values (e.g. one per seed); std 0 for a single value. */
export function meanStd(v: readonly number[]): MeanStd {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, std, runs: v.length };
}

/** Mean +- std of each metric over runs (e.g. seeds). */
export function aggregateMetrics(runs: readonly Metrics[]): Record<MetricName, MeanStd> {
  const out = {} as Record<MetricName, MeanStd>;
  for (const name of METRIC_NAMES) out[name] = meanStd(runs.map((m) => m[name]));
  return out;
}

/** "3.18 ± 0.02" */
export function formatMeanStd(m: MeanStd, digits = 3): string {
  return `${m.mean.toFixed(digits)} ± ${m.std.toFixed(digits)}`;
}
