/**
 * How well track embeddings group tracks by genre: the share of a track's k
 * nearest neighbours (cosine) that share at least one genre with it, against
 * chance, the same share over all pairs of tracks. A check that needs no
 * model: co-occurrence embeddings never see genres.
 */
import { hashSeed, permutation } from "../features";

export interface GenreAgreementOptions {
  /** Neighbours per query (default 10). */
  k?: number;
  /** At most this many query tracks, a seeded sample (default 1,000). */
  maxQueries?: number;
  seed?: number;
  /** Only these rows may be queries (default: every track with a genre and a non-zero vector). */
  eligible?: (row: number) => boolean;
}

export interface GenreAgreement {
  k: number;
  queries: number;
  /** Share of (query, neighbour) pairs sharing a genre. */
  neighbours: number;
  /** Share of (query, any other candidate) pairs sharing a genre: what random neighbours would score. */
  chance: number;
}

/**
 * `genres[row]` lists a track's genres (empty: none known; such tracks are
 * candidates but never queries). Candidates are the tracks with a non-zero vector.
 */
export function genreAgreement(
  embeddings: Float32Array,
  dim: number,
  genres: readonly (readonly string[])[],
  options: GenreAgreementOptions = {},
): GenreAgreement {
  const { k = 10, maxQueries = 1000, seed = 1, eligible = () => true } = options;
  const n = genres.length;
  const candidate: number[] = [];
  for (let t = 0; t < n; t++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += embeddings[t * dim + j] ** 2;
    if (norm > 0) candidate.push(t);
  }
  // Candidates' unit vectors, packed in candidate order.
  const unit = new Float64Array(candidate.length * dim);
  candidate.forEach((t, c) => {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += embeddings[t * dim + j] ** 2;
    for (let j = 0; j < dim; j++) unit[c * dim + j] = embeddings[t * dim + j] / Math.sqrt(norm);
  });
  const slot = new Int32Array(n).fill(-1);
  candidate.forEach((t, c) => (slot[t] = c));
  const pool = candidate.filter((t) => genres[t].length > 0 && eligible(t));
  const order = permutation(pool.length, hashSeed(seed, "genre-agreement"));
  const queries = Array.from(order.subarray(0, Math.min(maxQueries, pool.length)), (i) => pool[i]);
  const sets = genres.map((g) => new Set(g));
  const shares = (a: number, b: number) => genres[b].some((g) => sets[a].has(g));

  let agree = 0;
  let pairs = 0;
  const score = new Float64Array(candidate.length);
  for (const q of queries) {
    const query = unit.slice(slot[q] * dim, (slot[q] + 1) * dim);
    for (let c = 0, off = 0; c < candidate.length; c++, off += dim) {
      let d = 0;
      for (let j = 0; j < dim; j++) d += query[j] * unit[off + j];
      score[c] = d;
    }
    score[slot[q]] = -Infinity;
    for (const c of largest(score, k)) {
      pairs++;
      if (shares(q, candidate[c])) agree++;
    }
  }
  return { k, queries: queries.length, neighbours: pairs ? agree / pairs : 0, chance: chance(queries, candidate, genres) };
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

/** Exact chance: for each query, the share of the other candidates sharing a genre, averaged (by distinct genre sets). */
function chance(queries: number[], candidates: number[], genres: readonly (readonly string[])[]): number {
  if (queries.length === 0 || candidates.length < 2) return 0;
  const groups = new Map<string, { genres: string[]; size: number }>();
  for (const t of candidates) {
    const key = [...new Set(genres[t])].sort().join("|");
    const g = groups.get(key);
    if (g) g.size++;
    else groups.set(key, { genres: key ? key.split("|") : [], size: 1 });
  }
  const sharing = new Map<string, number>();
  let total = 0;
  for (const q of queries) {
    const key = [...new Set(genres[q])].sort().join("|");
    let count = sharing.get(key);
    if (count === undefined) {
      const mine = new Set(key.split("|"));
      count = 0;
      for (const g of groups.values()) if (g.genres.some((x) => mine.has(x))) count += g.size;
      sharing.set(key, count);
    }
    total += (count - 1) / (candidates.length - 1); // minus the query itself
  }
  return total / queries.length;
}
