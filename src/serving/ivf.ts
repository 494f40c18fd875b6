/**
 * An inverted-file (IVF) index over the catalogue, in process: the vectors
 * are clustered by k-means into about sqrt(n) lists and a query scans only
 * the lists whose centroids are near it. How near is decided per query: every
 * list whose centroid is within tau x (the lists' typical squared radius) of
 * the nearest centroid's squared distance. A query inside a cluster scans a
 * few lists; one between clusters (a decoded user state pulled toward the
 * catalogue's mean) scans many. tau is calibrated when the index is built:
 * the smallest that reaches the target recall@10 against an exhaustive scan
 * on sample queries of both kinds. A catalogue below `exactBelow` vectors is
 * one list: its search is exhaustive, exact.
 *
 * The scan itself is a WebAssembly SIMD kernel (dots.ts), with a JavaScript
 * fallback. A probed scan reads int8 codes of the vectors (a quarter of the
 * bytes of float32) and re-ranks its best RERANK x k candidates with the
 * exact vectors, so the distances returned are exact; the exhaustive search
 * (tau = Infinity, or one list) stays exact in float32.
 *
 * Why not pgvector's HNSW: on PGlite it runs on this same thread at ~2-8 ms
 * a query for 100,000 tracks (one query at a time), and Debian's PostgreSQL
 * has no pgvector; bench/nearest.ts has the figures.
 */
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../random";
import { DotKernel, Int8DotKernel } from "./dots";

export type Metric = "l2" | "cosine";

export interface IvfOptions {
  /** Below this many vectors the index is one list: exhaustive search (default 20,000). */
  exactBelow?: number;
  /** Calibrate the probing to at least this recall@10 on sample queries (default 0.98). */
  targetRecall?: number;
  /** Seed of the k-means initialisation and the calibration queries. */
  seed?: number;
  /** Called between build steps so the event loop can breathe (default: setImmediate). */
  yieldFn?: () => Promise<void>;
}

export interface IvfHit {
  /** Row of the vector in the matrix the index was built from. */
  row: number;
  distance: number;
}

/** Catalogues smaller than this are one list: exhaustive, exact search. */
export const EXACT_SEARCH_BELOW = 20_000;

/** How serving searches a catalogue of `vectors` tracks: what /health and `rubato status` report. */
export function searchMethod(vectors: number, exactBelow = EXACT_SEARCH_BELOW): { method: "exact" | "ivf"; exactBelow: number } {
  return { method: vectors < exactBelow || vectors < 4 ? "exact" : "ivf", exactBelow };
}

const KMEANS_ITERATIONS = 8;
const SAMPLE_PER_LIST = 48;
const CALIBRATION_QUERIES = 96;
const CHUNK = 8192;
/** Lists always scanned, however far the second-nearest centroid is. */
const MIN_LISTS = 2;
/** A probed scan keeps this many candidates per neighbour asked for (at least 32 in all) for the exact re-ranking. */
const RERANK = 4;
const TAUS = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 4, 6, 8, 12, Infinity];

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class IvfIndex {
  /** Rows of the source matrix, grouped by list. */
  private readonly rows: Int32Array;
  /** The vectors in `rows` order (contiguous per list). */
  private readonly vectors: Float32Array;
  private readonly sqNorms: Float64Array;
  private readonly centroidSqNorms: Float64Array;
  private readonly centroidKernel: DotKernel | null;
  private readonly kernel: DotKernel | null;
  /** For probed (approximate) scans of a catalogue in several lists. */
  private readonly codes: Int8DotKernel | null;
  /** The typical squared distance of a vector to its list's centroid (the median over lists). */
  private readonly spread: number;
  /** The probing threshold (see the file comment); Infinity scans every list. */
  tau = Infinity;
  /** recall@10 the calibrated tau reached on the calibration queries. */
  recall = 1;

  private constructor(
    readonly metric: Metric,
    readonly dim: number,
    readonly size: number,
    private readonly centroids: Float32Array,
    /** List l holds rows[starts[l] .. starts[l + 1]). */
    private readonly starts: Int32Array,
    rows: Int32Array,
    source: Float32Array,
  ) {
    this.rows = rows;
    this.vectors = new Float32Array(rows.length * dim);
    for (let i = 0; i < rows.length; i++) this.vectors.set(source.subarray(rows[i] * dim, (rows[i] + 1) * dim), i * dim);
    this.sqNorms = squaredNorms(this.vectors, dim);
    this.centroidSqNorms = squaredNorms(centroids, dim);
    this.centroidKernel = starts.length > 2 ? DotKernel.create(centroids, starts.length - 1, dim) : null;
    this.kernel = DotKernel.create(this.vectors, rows.length, dim);
    this.codes = starts.length > 2 ? Int8DotKernel.create(this.vectors, rows.length, dim) : null;
    this.spread = this.medianSpread();
  }

  get lists(): number {
    return this.starts.length - 1;
  }

  /**
   * Builds the index over the given rows of a row-major matrix (n x dim).
   * For cosine the vectors are normalised first (l2 order on unit vectors is
   * cosine order); distances are then 1 - cos.
   */
  static async build(matrix: Float32Array, dim: number, rows: Int32Array, metric: Metric, options: IvfOptions = {}): Promise<IvfIndex> {
    const pause = options.yieldFn ?? nextTurn;
    const source = metric === "cosine" ? normalised(matrix, dim, rows) : matrix;
    const n = rows.length;
    if (searchMethod(n, options.exactBelow).method === "exact") {
      return new IvfIndex(metric, dim, n, new Float32Array(dim), Int32Array.of(0, n), rows.slice(), source);
    }
    const lists = Math.max(2, Math.round(Math.sqrt(n)));
    const rng = new Rng(options.seed ?? 1, 0x1f);
    const centroids = await kmeans(source, dim, rows, lists, rng, pause);
    const assignment = await assign(source, dim, rows, centroids, lists, pause);
    const starts = new Int32Array(lists + 1);
    for (let i = 0; i < n; i++) starts[assignment[i] + 1]++;
    for (let l = 0; l < lists; l++) starts[l + 1] += starts[l];
    const ordered = new Int32Array(n);
    const fill = starts.slice(0, lists);
    for (let i = 0; i < n; i++) ordered[fill[assignment[i]]++] = rows[i];
    const index = new IvfIndex(metric, dim, n, centroids, starts, ordered, source);
    await index.calibrate(options.targetRecall ?? 0.98, rng, pause);
    return index;
  }

  /**
   * The k nearest vectors to `query`, nearest first, leaving out `exclude`
   * (source rows). `tau` overrides the calibrated probing (Infinity: exhaustive).
   */
  search(query: ArrayLike<number>, k: number, exclude?: ReadonlySet<number>, tau = this.tau): IvfHit[] {
    const { dim, vectors, sqNorms, rows } = this;
    const q = Float64Array.from({ length: dim }, (_, j) => query[j]);
    let qq = 0;
    for (let j = 0; j < dim; j++) qq += q[j] * q[j];
    if (this.metric === "cosine" && qq > 0) {
      const s = 1 / Math.sqrt(qq);
      for (let j = 0; j < dim; j++) q[j] *= s;
      qq = 1;
    }
    const lists = this.probe(q, tau);
    const top =
      this.codes && lists.length < this.lists
        ? this.approximateCandidates(q, lists, k, exclude)
        : this.exactCandidates(q, lists, k, exclude);
    // Exact distances (float64) for the few found; the kernel's float32 sums only chose them.
    const hits = top.map((i) => {
      const qx = dot(vectors, i * dim, q, dim);
      const distance = this.metric === "l2" ? Math.sqrt(Math.max(0, sqNorms[i] + qq - 2 * qx)) : 1 - qx;
      return { i, row: rows[i], distance };
    });
    hits.sort((a, b) => a.distance - b.distance || a.i - b.i);
    return hits.slice(0, k).map(({ row, distance }) => ({ row, distance }));
  }

  /** The k best of the given lists by |x|^2 - 2 q.x (the squared distance less |q|^2), in float32. */
  private exactCandidates(q: Float64Array, lists: Int32Array, k: number, exclude?: ReadonlySet<number>): number[] {
    const { dim, vectors, sqNorms, rows, starts, kernel } = this;
    const top = new TopK(k);
    kernel?.setQuery(q);
    for (const l of lists) {
      const from = starts[l];
      const to = starts[l + 1];
      if (kernel) {
        kernel.scan(from, to);
        const dots = kernel.out;
        for (let i = from; i < to; i++) {
          const d = sqNorms[i] - 2 * dots[i];
          if (d < top.worst && !(exclude && exclude.has(rows[i]))) top.add(d, i);
        }
      } else {
        for (let i = from, o = from * dim; i < to; i++, o += dim) {
          const d = sqNorms[i] - 2 * dot(vectors, o, q, dim);
          if (d < top.worst && !(exclude && exclude.has(rows[i]))) top.add(d, i);
        }
      }
    }
    return top.ids();
  }

  /** The RERANK x k best of the given lists by the same measure from the int8 codes: candidates for the exact re-ranking. */
  private approximateCandidates(q: Float64Array, lists: Int32Array, k: number, exclude?: ReadonlySet<number>): number[] {
    const { sqNorms, rows, starts } = this;
    const codes = this.codes!;
    const top = new TopK(Math.max(RERANK * k, 32));
    codes.setQuery(q);
    const { out, queryOffset, queryStep } = codes;
    for (const l of lists) {
      const from = starts[l];
      const to = starts[l + 1];
      codes.scan(from, to);
      for (let i = from; i < to; i++) {
        const d = sqNorms[i] - 2 * (queryOffset + queryStep * out[i]);
        if (d < top.worst && !(exclude && exclude.has(rows[i]))) top.add(d, i);
      }
    }
    return top.ids();
  }

  /** The lists to scan for q: within tau x spread of the nearest centroid (squared distances), at least MIN_LISTS. */
  private probe(q: Float64Array, tau: number): Int32Array {
    const { lists, dim, centroids, centroidSqNorms, centroidKernel } = this;
    if (lists === 1 || tau === Infinity) return Int32Array.from({ length: lists }, (_, l) => l);
    const d = new Float64Array(lists);
    let nearest = Infinity;
    centroidKernel?.setQuery(q);
    centroidKernel?.scan(0, lists);
    for (let l = 0; l < lists; l++) {
      d[l] = centroidSqNorms[l] - 2 * (centroidKernel ? centroidKernel.out[l] : dot(centroids, l * dim, q, dim)); // |q - c|^2 - |q|^2
      if (d[l] < nearest) nearest = d[l];
    }
    const bar = nearest + tau * this.spread;
    const chosen: number[] = [];
    for (let l = 0; l < lists; l++) if (d[l] <= bar) chosen.push(l);
    if (chosen.length < MIN_LISTS) {
      const top = new TopK(MIN_LISTS);
      for (let l = 0; l < lists; l++) if (d[l] < top.worst) top.add(d[l], l);
      return Int32Array.from(top.ids());
    }
    // nearest first: the best candidates come early, and fewer later rows pass the bar
    return Int32Array.from(chosen.sort((a, b) => d[a] - d[b]));
  }

  private medianSpread(): number {
    const { lists, starts, vectors, centroids, dim } = this;
    if (lists === 1) return 0;
    const spreads: number[] = [];
    for (let l = 0; l < lists; l++) {
      let sum = 0;
      for (let i = starts[l]; i < starts[l + 1]; i++)
        for (let j = 0; j < dim; j++) {
          const x = vectors[i * dim + j] - centroids[l * dim + j];
          sum += x * x;
        }
      if (starts[l + 1] > starts[l]) spreads.push(sum / (starts[l + 1] - starts[l]));
    }
    spreads.sort((a, b) => a - b);
    return spreads[spreads.length >> 1];
  }

  /**
   * Sample queries shaped like what is served: catalogue vectors with a
   * little noise (neighbours of a track), mixtures of a few tracks, and
   * tracks pulled toward the catalogue's mean or mixtures of many (a decoded
   * user state trained by squared error regresses toward the mean).
   */
  private async calibrate(target: number, rng: Rng, pause: () => Promise<void>): Promise<void> {
    const { dim, size, vectors } = this;
    const mean = new Float64Array(dim);
    for (let i = 0; i < size; i++) for (let j = 0; j < dim; j++) mean[j] += vectors[i * dim + j] / size;
    const noise = Math.sqrt(this.spread / dim);
    const track = () => {
      const i = rng.int(size);
      return vectors.subarray(i * dim, (i + 1) * dim);
    };
    const mixture = (parts: number) => {
      const q = new Float64Array(dim);
      for (let p = 0; p < parts; p++) {
        const i = rng.int(size);
        for (let j = 0; j < dim; j++) q[j] += vectors[i * dim + j] / parts;
      }
      return q;
    };
    const queries: Float64Array[] = [];
    for (let c = 0; c < CALIBRATION_QUERIES; c++) {
      const kind = c % 4;
      if (kind === 0) queries.push(Float64Array.from(track(), (v) => v + rng.normal() * 0.3 * noise));
      else if (kind === 1) queries.push(mixture(2 + rng.int(4)));
      else if (kind === 2) {
        const x = track();
        const a = 0.2 + 0.6 * rng.float();
        queries.push(Float64Array.from(mean, (m, j) => m + a * (x[j] - m)));
      } else queries.push(mixture(16));
    }
    const truth: Set<number>[] = [];
    for (const q of queries) {
      truth.push(new Set(this.search(q, 10, undefined, Infinity).map((h) => h.row)));
      await pause();
    }
    for (const tau of TAUS) {
      let hits = 0;
      queries.forEach((q, i) => {
        for (const h of this.search(q, 10, undefined, tau)) if (truth[i].has(h.row)) hits++;
      });
      const recall = hits / (queries.length * 10);
      if (recall >= target || tau === Infinity) {
        this.tau = tau;
        this.recall = recall;
        return;
      }
      await pause();
    }
  }
}

function dot(a: Float32Array, at: number, q: Float64Array, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < dim; j += 4) {
    s0 += a[at + j] * q[j];
    s1 += a[at + j + 1] * q[j + 1];
    s2 += a[at + j + 2] * q[j + 2];
    s3 += a[at + j + 3] * q[j + 3];
  }
  for (; j < dim; j++) s0 += a[at + j] * q[j];
  return s0 + s1 + s2 + s3;
}

/** The k smallest values seen, with their ids; `worst` is the bar a new value must beat. */
class TopK {
  private readonly values: Float64Array;
  private readonly idx: Int32Array;
  private n = 0;
  worst = Infinity;
  constructor(private readonly k: number) {
    this.values = new Float64Array(k);
    this.idx = new Int32Array(k);
  }
  add(value: number, id: number): void {
    let pos = this.n < this.k ? this.n++ : this.k - 1;
    while (pos > 0 && this.values[pos - 1] > value) {
      this.values[pos] = this.values[pos - 1];
      this.idx[pos] = this.idx[pos - 1];
      pos--;
    }
    this.values[pos] = value;
    this.idx[pos] = id;
    if (this.n === this.k) this.worst = this.values[this.k - 1];
  }
  /** Ids, smallest value first. */
  ids(): number[] {
    return Array.from(this.idx.subarray(0, this.n));
  }
}

function squaredNorms(matrix: Float32Array, dim: number): Float64Array {
  const out = new Float64Array(matrix.length / dim);
  for (let i = 0, o = 0; i < out.length; i++, o += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += matrix[o + j] * matrix[o + j];
    out[i] = s;
  }
  return out;
}

function normalised(matrix: Float32Array, dim: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(matrix.length);
  for (const r of rows) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += matrix[r * dim + j] * matrix[r * dim + j];
    const f = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) out[r * dim + j] = matrix[r * dim + j] * f;
  }
  return out;
}

/** Lloyd's k-means on a sample of the rows, seeded from sample points; the products run in tfjs. */
async function kmeans(
  source: Float32Array,
  dim: number,
  rows: Int32Array,
  lists: number,
  rng: Rng,
  pause: () => Promise<void>,
): Promise<Float32Array> {
  const n = rows.length;
  const sampleSize = Math.min(n, lists * SAMPLE_PER_LIST);
  const picked = Int32Array.from(sampleWithoutReplacement(n, sampleSize, rng), (i) => rows[i]);
  const centroids = new Float32Array(lists * dim);
  for (let l = 0; l < lists; l++) centroids.set(source.subarray(picked[l] * dim, (picked[l] + 1) * dim), l * dim);
  for (let it = 0; it < KMEANS_ITERATIONS; it++) {
    const assignment = await assign(source, dim, picked, centroids, lists, pause);
    const sums = new Float64Array(lists * dim);
    const counts = new Int32Array(lists);
    for (let i = 0; i < picked.length; i++) {
      const l = assignment[i];
      counts[l]++;
      for (let j = 0, o = picked[i] * dim; j < dim; j++) sums[l * dim + j] += source[o + j];
    }
    for (let l = 0; l < lists; l++) {
      // An empty list restarts at a random sample point.
      if (counts[l] === 0) {
        const r = picked[rng.int(picked.length)];
        centroids.set(source.subarray(r * dim, (r + 1) * dim), l * dim);
      } else for (let j = 0; j < dim; j++) centroids[l * dim + j] = sums[l * dim + j] / counts[l];
    }
  }
  return centroids;
}

/** The nearest centroid of each row: argmin_l |c_l|^2 - 2 x.c_l, in chunks of rows. */
async function assign(
  source: Float32Array,
  dim: number,
  rows: Int32Array,
  centroids: Float32Array,
  lists: number,
  pause: () => Promise<void>,
): Promise<Int32Array> {
  const out = new Int32Array(rows.length);
  const c = tf.tensor2d(centroids, [lists, dim]);
  const cT = tf.tidy(() => tf.transpose(c));
  const cSq = tf.tidy(() => tf.sum(tf.square(c), 1));
  try {
    for (let start = 0; start < rows.length; start += CHUNK) {
      const end = Math.min(rows.length, start + CHUNK);
      const x = new Float32Array((end - start) * dim);
      for (let i = start; i < end; i++) x.set(source.subarray(rows[i] * dim, (rows[i] + 1) * dim), (i - start) * dim);
      const best = tf.tidy(() => tf.argMin(tf.sub(cSq, tf.mul(2, tf.matMul(tf.tensor2d(x, [end - start, dim]), cT))), 1));
      out.set(best.dataSync() as Int32Array, start);
      best.dispose();
      await pause();
    }
  } finally {
    tf.dispose([c, cT, cSq]);
  }
  return out;
}

/** k distinct indices in [0, n), in random order (partial Fisher-Yates). */
function sampleWithoutReplacement(n: number, k: number, rng: Rng): Int32Array {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = all[i];
    all[i] = all[j];
    all[j] = t;
  }
  return all.subarray(0, k);
}
