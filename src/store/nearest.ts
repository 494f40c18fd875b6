import type { Store } from "./store";
import { getCatalogVersion, getEmbeddingDim, HAS_EMBEDDING } from "./catalog";
import { pgArray } from "./sql";

export type Metric = "l2" | "cosine";

export interface NearestOptions {
  metric?: Metric;
  /** Track external ids to leave out (e.g. the query track, or the user's last plays). */
  exclude?: readonly string[];
  /** auto: the HNSW index where the database has pgvector, else exact; exact: always in-process. */
  method?: "auto" | "exact" | "index";
}

export interface Neighbour {
  externalId: string;
  distance: number;
}

/** The catalogue's embeddings held in memory: the exact search and ground truth. */
export class TrackMatrix {
  constructor(
    readonly externalIds: string[],
    readonly dim: number,
    /** Row-major, externalIds.length x dim. */
    readonly vectors: Float32Array,
    readonly norms: Float32Array,
    readonly version: number,
  ) {}

  nearest(query: ArrayLike<number>, k: number, metric: Metric = "l2", exclude: ReadonlySet<string> = new Set()): Neighbour[] {
    const { dim, vectors, norms } = this;
    let qNorm = 0;
    for (let j = 0; j < dim; j++) qNorm += query[j] * query[j];
    qNorm = Math.sqrt(qNorm);
    const n = this.externalIds.length;
    const distances = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let dot = 0;
      const off = i * dim;
      for (let j = 0; j < dim; j++) dot += vectors[off + j] * query[j];
      distances[i] =
        metric === "l2" ? Math.sqrt(Math.max(0, norms[i] * norms[i] + qNorm * qNorm - 2 * dot)) : 1 - dot / (norms[i] * qNorm || 1);
    }
    return topK(distances, k, (i) => !exclude.has(this.externalIds[i])).map((i) => ({
      externalId: this.externalIds[i],
      distance: distances[i],
    }));
  }
}

/** Indices of the k smallest values that pass the filter, nearest first. */
function topK(values: Float64Array, k: number, keep: (i: number) => boolean): number[] {
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (best.length === k && values[i] >= values[best[k - 1]]) continue;
    if (!keep(i)) continue;
    let pos = best.length;
    while (pos > 0 && values[best[pos - 1]] > values[i]) pos--;
    best.splice(pos, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

const matrices = new WeakMap<Store, TrackMatrix>();

/** The in-memory catalogue, reloaded only when the catalogue version moved. */
export async function trackMatrix(store: Store): Promise<TrackMatrix> {
  const version = await getCatalogVersion(store);
  const cached = matrices.get(store);
  if (cached && cached.version === version) return cached;
  const dim = (await getEmbeddingDim(store)) ?? 0;
  const rows = await store.sql.query<{ external_id: string; embedding: number[] }>(
    `SELECT external_id, embedding FROM track WHERE ${HAS_EMBEDDING} ORDER BY id`,
  );
  const vectors = new Float32Array(rows.length * dim);
  const norms = new Float32Array(rows.length);
  rows.forEach((r, i) => {
    vectors.set(r.embedding, i * dim);
    norms[i] = Math.hypot(...r.embedding);
  });
  const matrix = new TrackMatrix(
    rows.map((r) => r.external_id),
    dim,
    vectors,
    norms,
    version,
  );
  matrices.set(store, matrix);
  return matrix;
}

const OPS: Record<Metric, { op: string; opclass: string }> = {
  l2: { op: "<->", opclass: "vector_l2_ops" },
  cosine: { op: "<=>", opclass: "vector_cosine_ops" },
};

/**
 * Creates the HNSW indexes over track embeddings where pgvector is available.
 * Only nearestTracks' "index" and "auto" methods use them (bench/nearest.ts
 * compares them with serving's in-process search): import, demo-data and
 * embed-tracks no longer build them, since serving does not read them.
 */
export async function ensureVectorIndex(store: Store): Promise<boolean> {
  if (!store.hasVector) return false;
  const dim = await getEmbeddingDim(store);
  if (!dim) return false;
  for (const [metric, { opclass }] of Object.entries(OPS)) {
    // The index is over an expression, so the column stays a plain real[] on every backend.
    await store.sql.query(
      `CREATE INDEX IF NOT EXISTS track_embedding_hnsw_${metric}_${dim}
         ON track USING hnsw ((embedding::vector(${dim})) ${opclass})`,
    );
  }
  return true;
}

/** The k catalogue tracks nearest to `vector`; one interface over pgvector's HNSW and exact search. */
export async function nearestTracks(
  store: Store,
  vector: ArrayLike<number>,
  k: number,
  options: NearestOptions = {},
): Promise<Neighbour[]> {
  const metric = options.metric ?? "l2";
  const exclude = new Set(options.exclude ?? []);
  const method = options.method ?? "auto";
  if (method === "index" && !store.hasVector) throw new Error("nearestTracks: this database has no vector extension; use method exact");
  const dim = await getEmbeddingDim(store);
  if (dim === null) return [];
  if (vector.length !== dim) throw new Error(`nearestTracks: query has ${vector.length} values; expected ${dim}`);
  if (method === "exact" || !store.hasVector) return (await trackMatrix(store)).nearest(vector, k, metric, exclude);
  await ensureVectorIndex(store);
  const { op } = OPS[metric];
  const expr = `embedding::vector(${dim})`;
  return store.transaction(async (tx) => {
    await tx.query("SET LOCAL hnsw.ef_search = 200");
    const rows = await tx.query<{ external_id: string; distance: number }>(
      `SELECT external_id, ${expr} ${op} $1::vector(${dim}) AS distance
         FROM track WHERE ${HAS_EMBEDDING}
        ORDER BY ${expr} ${op} $1::vector(${dim}) LIMIT $2`,
      [`[${pgArray(vector).slice(1, -1)}]`, k + exclude.size],
    );
    return rows
      .filter((r) => !exclude.has(r.external_id))
      .slice(0, k)
      .map((r) => ({ externalId: r.external_id, distance: Number(r.distance) }));
  });
}
