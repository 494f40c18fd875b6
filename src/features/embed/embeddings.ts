/**
 * Track embeddings from co-occurrence: counts -> weighted matrix -> truncated
 * SVD -> U sqrt(S), rows L2-normalised. Tracks below `minCount` plays are
 * left out of the matrix and folded in afterwards.
 */
import { cooccurrenceMatrix, frobenius2, ppmi, type CooccurrenceCounts, type Weighting } from "./cooccurrence";
import { randomizedSvd } from "./svd";

export interface TrackEmbeddingOptions {
  /** Embedding dimension (the SVD's rank). */
  dim: number;
  /** Tracks with fewer plays are folded in rather than factorised (default 1: every played track). */
  minCount?: number;
  /** Default "ppmi". */
  weighting?: Weighting;
  /** PPMI's context-distribution smoothing exponent (default 0.75). */
  smoothing?: number;
  /** Exponent of S in U S^p (default 0.5). */
  singularWeight?: number;
  /** L2-normalise every row (default true). */
  normalize?: boolean;
  seed?: number;
  powerIterations?: number;
  oversampling?: number;
  /**
   * Release the counts' pair table (CooccurrenceCounts.release) as soon as the
   * matrix is built, so the table and the weighted matrix are never held at
   * once (default false: the counts stay readable).
   */
  releaseCounts?: boolean;
}

export interface TrackEmbeddings {
  dim: number;
  /** tracks x dim, row-major, in catalogue row order. */
  embeddings: Float32Array;
  /** Tracks with at least minCount plays: rows of the factorised matrix. */
  factorised: number;
  /** Tracks below minCount seen next to a factorised track: the count-weighted mean of those tracks' vectors. */
  foldedIn: number;
  /** 1 where a track has a vector; 0 where it cannot be placed (its row of `embeddings` is zeros, which is no embedding). */
  hasVector: Uint8Array;
  /** Tracks without a vector, by reason. */
  withoutVector: TracksWithoutVector;
  /** Distinct pairs counted, and entries of the weighted matrix. */
  pairs: number;
  nonzeros: number;
  /** Share of the weighted matrix's squared Frobenius norm the rank-dim SVD keeps. */
  explainedVariance: number;
  singularValues: Float64Array;
}

/** Why tracks have no vector; each track counts once, under the first reason that applies. */
export interface TracksWithoutVector {
  total: number;
  /** No play was counted. */
  unplayed: number;
  /** Played, but never within the window of a different track (in the same session, where sessions bound windows). */
  noCooccurrence: number;
  /** Seen only next to tracks with fewer than minCount plays, which are left out of the matrix. */
  onlyRareNeighbours: number;
  /** In the matrix (or next to a track in it), but the weighting and the rank-dim SVD leave it nothing: e.g. no positive PMI. */
  degenerate: number;
}

/** Learns a dim-d vector for every catalogue row of `counts` that co-occurrence can place. */
export function learnTrackEmbeddings(counts: CooccurrenceCounts, options: TrackEmbeddingOptions): TrackEmbeddings {
  const { dim, minCount = 1, weighting = "ppmi", smoothing = 0.75, singularWeight = 0.5, normalize = true } = options;
  const n = counts.tracks;
  const row = new Int32Array(n).fill(-1);
  let m = 0;
  for (let t = 0; t < n; t++) if (counts.plays[t] >= minCount && counts.plays[t] > 0) row[t] = m++;
  if (m < dim) {
    throw new Error(
      `track embeddings: only ${m} of ${n} tracks have at least ${minCount} play(s); a ${dim}-d embedding needs at least ${dim} (lower the dimension or the minimum count, or load more plays)`,
    );
  }
  // What the fold-in and the reasons need from the pairs, read before the table may go.
  const { seen, rare } = scanPairs(counts, row);
  const matrix = weightedMatrix(counts, row, m, weighting, smoothing, options.releaseCounts ?? false);
  const svd = randomizedSvd(matrix, dim, {
    seed: options.seed,
    powerIterations: options.powerIterations,
    oversampling: options.oversampling,
  });
  const scale = Float64Array.from(svd.s, (s) => Math.pow(s, singularWeight));
  const embeddings = new Float32Array(n * dim);
  for (let t = 0; t < n; t++) {
    if (row[t] < 0) continue;
    for (let k = 0; k < dim; k++) embeddings[t * dim + k] = svd.u[row[t] * dim + k] * scale[k];
  }
  const foldedIn = foldIn(rare, embeddings, dim);
  const hasVector = new Uint8Array(n);
  for (let t = 0; t < n; t++) {
    const v = embeddings.subarray(t * dim, (t + 1) * dim);
    let norm = 0;
    for (const x of v) norm += x * x;
    if (norm === 0) {
      v.fill(0); // no -0 from the SVD's sign flips
      continue;
    }
    hasVector[t] = 1;
    if (normalize) for (let k = 0; k < dim; k++) v[k] /= Math.sqrt(norm);
  }
  let kept = 0;
  for (const s of svd.s) kept += s * s;
  const energy = frobenius2(matrix);
  return {
    dim,
    embeddings,
    factorised: m,
    foldedIn,
    hasVector,
    withoutVector: reasons(counts, seen, hasVector),
    pairs: counts.pairs,
    nonzeros: matrix.values.length,
    explainedVariance: energy > 0 ? kept / energy : 0,
    singularValues: svd.s,
  };
}

/**
 * The matrix that is factorised, built in its own frame so the raw counts
 * matrix is garbage once PPMI has weighted it; with `release`, the counts'
 * pair table goes as soon as the raw matrix exists.
 */
function weightedMatrix(counts: CooccurrenceCounts, row: Int32Array, m: number, weighting: Weighting, smoothing: number, release: boolean) {
  const raw = cooccurrenceMatrix(counts, row, m);
  if (release) counts.release();
  return weighting === "ppmi" ? ppmi(raw, smoothing) : raw;
}

/** Pairs of a factorised track (from) and a rare one (to), in the table's order. */
interface RarePairs {
  n: number;
  from: Int32Array;
  to: Int32Array;
  count: Float64Array;
}

/**
 * One pass over the pairs: for every track, whether it co-occurs with some
 * track (bit 1) and with a track in the matrix (bit 2); and the pairs of a
 * factorised track with a rare one (none when every played track is factorised).
 */
function scanPairs(counts: CooccurrenceCounts, row: Int32Array): { seen: Uint8Array; rare: RarePairs } {
  const seen = new Uint8Array(counts.tracks);
  const rare: RarePairs = { n: 0, from: new Int32Array(16), to: new Int32Array(16), count: new Float64Array(16) };
  const push = (from: number, to: number, c: number) => {
    if (rare.n === rare.from.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      rare.from = grow(rare.from);
      rare.to = grow(rare.to);
      rare.count = grow(rare.count);
    }
    rare.from[rare.n] = from;
    rare.to[rare.n] = to;
    rare.count[rare.n++] = c;
  };
  counts.forEachPair((i, j, c) => {
    seen[i] |= row[j] >= 0 ? 3 : 1;
    seen[j] |= row[i] >= 0 ? 3 : 1;
    if (row[i] >= 0 && row[j] < 0) push(i, j, c);
    else if (row[j] >= 0 && row[i] < 0) push(j, i, c);
  });
  return { seen, rare };
}

/** Gives each rare track the count-weighted mean of the factorised tracks it co-occurred with; returns how many got one. */
function foldIn(rare: RarePairs, embeddings: Float32Array, dim: number): number {
  const sum = new Map<number, { weight: number; v: Float64Array }>();
  for (let p = 0; p < rare.n; p++) {
    const to = rare.to[p];
    const from = rare.from[p];
    const c = rare.count[p];
    let acc = sum.get(to);
    if (!acc) sum.set(to, (acc = { weight: 0, v: new Float64Array(dim) }));
    acc.weight += c;
    for (let k = 0; k < dim; k++) acc.v[k] += c * embeddings[from * dim + k];
  }
  for (const [t, { weight, v }] of sum) for (let k = 0; k < dim; k++) embeddings[t * dim + k] = v[k] / weight;
  return sum.size;
}

/** Counts the tracks without a vector under the first reason that applies (TracksWithoutVector); `seen` as scanPairs gives it. */
function reasons(counts: CooccurrenceCounts, seen: Uint8Array, hasVector: Uint8Array): TracksWithoutVector {
  const out: TracksWithoutVector = { total: 0, unplayed: 0, noCooccurrence: 0, onlyRareNeighbours: 0, degenerate: 0 };
  for (let t = 0; t < counts.tracks; t++) {
    if (hasVector[t]) continue;
    out.total++;
    if (counts.plays[t] === 0) out.unplayed++;
    else if (!seen[t]) out.noCooccurrence++;
    else if (!(seen[t] & 2)) out.onlyRareNeighbours++;
    else out.degenerate++;
  }
  return out;
}
