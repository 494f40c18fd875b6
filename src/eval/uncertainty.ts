/**
 * What a probabilistic model's posterior width says (pure: arrays in, plain
 * data out). For each test point: sigma, the mean over latent units of the
 * posterior's standard deviation q(z | x); its L2 error; and its history
 * length, the user's plays up to the point. If sigma means "the model is
 * unsure", it should rank with the error (Spearman's rho > 0), and fall as the
 * history grows.
 */

export interface UncertaintyBin {
  /** Points in the bin. */
  rows: number;
  /** Mean sigma, L2 error and history length of its points. */
  sigma: number;
  l2: number;
  history: number;
}

export interface UncertaintyReport {
  rows: number;
  /** Spearman's rank correlation of sigma with the point's L2 error. */
  sigmaVsError: number;
  /** Spearman's rank correlation of sigma with the history length. */
  sigmaVsHistory: number;
  /** Spearman's rank correlation of the L2 error with the history length (for scale: how much history alone explains). */
  errorVsHistory: number;
  /** The points in five equal groups by sigma, lowest first. */
  bySigma: UncertaintyBin[];
  /** The points by history length: [lo, hi) plays of HISTORY_BINS. */
  byHistory: (UncertaintyBin & { from: number; to: number | null })[];
}

/** History-length bins (plays up to the point), fixed so data sets compare: 1-4, 5-19, 20-99, 100-499, 500+. */
export const HISTORY_BINS = [1, 5, 20, 100, 500] as const;

/** Ranks 1..n, ties given their mean rank. */
export function ranksOf(v: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const out = new Float64Array(v.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && v[order[j + 1]] === v[order[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[order[k]] = rank;
    i = j + 1;
  }
  return out;
}

/** Pearson's correlation; NaN when either side is constant or empty. */
function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0,
    mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : NaN;
}

/** Spearman's rho: Pearson's correlation of the ranks (ties at their mean rank). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`spearman: ${a.length} values against ${b.length}`);
  return pearson(ranksOf(a), ranksOf(b));
}

function bin(indices: readonly number[], sigma: ArrayLike<number>, l2: ArrayLike<number>, history: ArrayLike<number>): UncertaintyBin {
  const mean = (v: ArrayLike<number>) => (indices.length ? indices.reduce((s, i) => s + v[i], 0) / indices.length : NaN);
  return { rows: indices.length, sigma: mean(sigma), l2: mean(l2), history: mean(history) };
}

/** The report over points i = 0..n-1: sigma[i], l2[i] and history[i] of each. */
export function uncertaintyReport(sigma: ArrayLike<number>, l2: ArrayLike<number>, history: ArrayLike<number>): UncertaintyReport {
  const n = sigma.length;
  if (l2.length !== n || history.length !== n) throw new Error(`uncertaintyReport: ${n} sigmas, ${l2.length} errors, ${history.length} histories`);
  const bySigmaOrder = Array.from({ length: n }, (_, i) => i).sort((a, b) => sigma[a] - sigma[b]);
  const bySigma = Array.from({ length: 5 }, (_, q) =>
    bin(bySigmaOrder.slice(Math.floor((q * n) / 5), Math.floor(((q + 1) * n) / 5)), sigma, l2, history),
  );
  const byHistory = HISTORY_BINS.map((from, k) => {
    const to = HISTORY_BINS[k + 1] ?? null;
    const inside = bySigmaOrder.filter((i) => history[i] >= from && (to === null || history[i] < to));
    return { from, to, ...bin(inside, sigma, l2, history) };
  }).filter((b) => b.rows > 0);
  return {
    rows: n,
    sigmaVsError: spearman(sigma, l2),
    sigmaVsHistory: spearman(sigma, history),
    errorVsHistory: spearman(l2, history),
    bySigma,
    byHistory,
  };
}
