/**
 * How well track embeddings group tracks by a label they never saw (genre,
 * artist): the share of a track's k nearest neighbours that share at least one
 * label with it, against chance, the same share over all pairs of tracks. A
 * check that needs no model and cannot leak a test target: co-occurrence
 * embeddings never see labels.
 */
import { hashSeed, permutation } from "../features";

export interface NeighbourAgreementOptions {
  /** Neighbours per query (default 10). */
  k?: number;
  /** At most this many query tracks, a seeded sample (default 1,000). */
  maxQueries?: number;
  seed?: number;
  /** Only these rows may be queries (default: every track with a label and a non-zero vector). */
  eligible?: (row: number) => boolean;
  /**
   * Nearest by cosine (default: the rows' directions) or by L2 distance between the
   * vectors as they are, what serving's default metric and the ranking metrics use;
   * the two agree on L2-normalised rows.
   */
  metric?: "cosine" | "l2";
}

export interface NeighbourAgreement {
  k: number;
  queries: number;
  /** Share of (query, neighbour) pairs sharing a label. */
  neighbours: number;
  /** Share of (query, any other candidate) pairs sharing a label: what random neighbours would score. */
  chance: number;
}

/**
 * `labels[row]` lists a track's labels (empty: none known; such tracks are
 * candidates but never queries). Candidates are the tracks with a non-zero vector.
 */
export function neighbourAgreement(
  embeddings: Float32Array,
  dim: number,
  labels: readonly (readonly string[])[],
  options: NeighbourAgreementOptions = {},
): NeighbourAgreement {
  const { k = 10, maxQueries = 1000, seed = 1, eligible = () => true, metric = "cosine" } = options;
  const n = labels.length;
  const candidate: number[] = [];
  const norms: number[] = [];
  for (let t = 0; t < n; t++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += embeddings[t * dim + j] ** 2;
    if (norm > 0) {
      candidate.push(t);
      norms.push(norm);
    }
  }
  // Candidates' vectors (unit vectors for cosine), packed in candidate order, and their squared lengths.
  const vec = new Float64Array(candidate.length * dim);
  const sq = new Float64Array(candidate.length);
  candidate.forEach((t, c) => {
    const scale = metric === "cosine" ? 1 / Math.sqrt(norms[c]) : 1;
    for (let j = 0; j < dim; j++) vec[c * dim + j] = embeddings[t * dim + j] * scale;
    sq[c] = metric === "cosine" ? 1 : norms[c];
  });
  const slot = new Int32Array(n).fill(-1);
  candidate.forEach((t, c) => (slot[t] = c));
  const pool = candidate.filter((t) => labels[t].length > 0 && eligible(t));
  const order = permutation(pool.length, hashSeed(seed, "genre-agreement"));
  const queries = Array.from(order.subarray(0, Math.min(maxQueries, pool.length)), (i) => pool[i]);
  const sets = labels.map((g) => new Set(g));
  const shares = (a: number, b: number) => labels[b].some((g) => sets[a].has(g));

  let agree = 0;
  let pairs = 0;
  const score = new Float64Array(candidate.length);
  for (const q of queries) {
    const query = vec.slice(slot[q] * dim, (slot[q] + 1) * dim);
    for (let c = 0, off = 0; c < candidate.length; c++, off += dim) {
      let d = 0;
      for (let j = 0; j < dim; j++) d += query[j] * vec[off + j];
      // Larger is nearer: the cosine, or minus the squared distance less the query's own length.
      score[c] = metric === "cosine" ? d : 2 * d - sq[c];
    }
    score[slot[q]] = -Infinity;
    for (const c of largest(score, k)) {
      pairs++;
      if (shares(q, candidate[c])) agree++;
    }
  }
  return { k, queries: queries.length, neighbours: pairs ? agree / pairs : 0, chance: chance(queries, candidate, labels) };
}

/** Indices of the k largest finite values, largest first. */
function largest(values: Float64Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === -Infinity || (best.length === k && v <= values[best[k - 1]])) continue;
    let pos = best.length;
    while (pos > 0 && values[best[pos - 1]] < v) pos--;
    best.splice(pos, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

/** Joins a label set into a key; no label contains it (artist names may contain "|"). */
const SEP = "\u0001";

/** Exact chance: for each query, the share of the other candidates sharing a label, averaged (by distinct label sets). */
function chance(queries: number[], candidates: number[], labels: readonly (readonly string[])[]): number {
  if (queries.length === 0 || candidates.length < 2) return 0;
  const groups = new Map<string, { labels: string[]; size: number }>();
  for (const t of candidates) {
    const key = [...new Set(labels[t])].sort().join(SEP);
    const g = groups.get(key);
    if (g) g.size++;
    else groups.set(key, { labels: key ? key.split(SEP) : [], size: 1 });
  }
  const sharing = new Map<string, number>();
  let total = 0;
  for (const q of queries) {
    const key = [...new Set(labels[q])].sort().join(SEP);
    let count = sharing.get(key);
    if (count === undefined) {
      const mine = new Set(key.split(SEP));
      count = 0;
      for (const g of groups.values()) if (g.labels.some((x) => mine.has(x))) count += g.size;
      sharing.set(key, count);
    }
    total += (count - 1) / (candidates.length - 1); // minus the query itself
  }
  return total / queries.length;
}
