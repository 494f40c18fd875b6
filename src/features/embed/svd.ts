/**
 * Truncated SVD of a sparse matrix by randomized range finding (Halko,
 * Martinsson & Tropp 2011, algorithms 4.4 and 5.1): sample the range with a
 * Gaussian test matrix, sharpen it with a few power iterations
 * (re-orthonormalised at every step), then decompose the small projected
 * matrix exactly. Dense blocks are row-major Float64Array; only the final
 * (k + p) x (k + p) decomposition goes to ml-matrix.
 */
import { Matrix, SingularValueDecomposition } from "ml-matrix";
import { Rng } from "../../random";
import type { Csr } from "./cooccurrence";

export interface SvdOptions {
  /** Extra sampled directions beyond the rank (default 10). */
  oversampling?: number;
  /** Power iterations (default 2): more for slowly decaying spectra. */
  powerIterations?: number;
  /** Seed of the Gaussian test matrix: the result is a function of (matrix, options). */
  seed?: number;
}

export interface TruncatedSvd {
  rank: number;
  /** rows x rank, row-major: left singular vectors. */
  u: Float64Array;
  /** rank singular values, descending. */
  s: Float64Array;
  /** cols x rank, row-major: right singular vectors. */
  v: Float64Array;
}

/** A X for a dense cols x l block X (row-major): rows x l. */
export function multiply(a: Csr, x: Float64Array, l: number): Float64Array {
  const y = new Float64Array(a.rows * l);
  for (let r = 0; r < a.rows; r++) {
    const yr = r * l;
    for (let k = a.rowPtr[r]; k < a.rowPtr[r + 1]; k++) {
      const v = a.values[k];
      const xc = a.colIndex[k] * l;
      for (let j = 0; j < l; j++) y[yr + j] += v * x[xc + j];
    }
  }
  return y;
}

/** A^T X for a dense rows x l block X (row-major): cols x l. */
export function multiplyTransposed(a: Csr, x: Float64Array, l: number): Float64Array {
  const y = new Float64Array(a.cols * l);
  for (let r = 0; r < a.rows; r++) {
    const xr = r * l;
    for (let k = a.rowPtr[r]; k < a.rowPtr[r + 1]; k++) {
      const v = a.values[k];
      const yc = a.colIndex[k] * l;
      for (let j = 0; j < l; j++) y[yc + j] += v * x[xr + j];
    }
  }
  return y;
}

/**
 * Thin QR of an m x l row-major block by modified Gram-Schmidt, each column
 * orthogonalised `passes` times (2: "twice is enough" for an orthonormal Q to
 * working precision; 1 suffices between power iterations, which only need a
 * well-conditioned basis of the same span). A column left with under 1e-12 of
 * its norm is linearly dependent on the previous ones: it becomes zero (and
 * R's diagonal 0), so rank-deficient input gives a projector, not noise.
 */
export function orthonormalize(x: Float64Array, m: number, l: number, passes = 2): { q: Float64Array; r: Float64Array } {
  const cols = new Float64Array(m * l); // column-major working copy
  for (let i = 0; i < m; i++) for (let j = 0; j < l; j++) cols[j * m + i] = x[i * l + j];
  const r = new Float64Array(l * l);
  for (let j = 0; j < l; j++) {
    const c = cols.subarray(j * m, (j + 1) * m);
    const before = Math.sqrt(dot(c, c));
    for (let pass = 0; pass < passes; pass++) {
      for (let i = 0; i < j; i++) {
        const qi = cols.subarray(i * m, (i + 1) * m);
        const d = dot(qi, c);
        if (d === 0) continue;
        for (let t = 0; t < m; t++) c[t] -= d * qi[t];
        r[i * l + j] += d;
      }
    }
    const norm = Math.sqrt(dot(c, c));
    if (before === 0 || norm <= 1e-12 * before) {
      c.fill(0);
    } else {
      for (let t = 0; t < m; t++) c[t] /= norm;
      r[j * l + j] = norm;
    }
  }
  const q = new Float64Array(m * l);
  for (let i = 0; i < m; i++) for (let j = 0; j < l; j++) q[i * l + j] = cols[j * m + i];
  return { q, r };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let t = 0; t < a.length; t++) s += a[t] * b[t];
  return s;
}

/**
 * The rank-k truncated SVD of A: A ~ U diag(s) V^T. Each column pair is
 * signed so that U's largest-magnitude entry is positive, so the output is
 * deterministic up to the floating-point order of the sums.
 */
export function randomizedSvd(a: Csr, rank: number, options: SvdOptions = {}): TruncatedSvd {
  const { oversampling = 10, powerIterations = 2, seed = 1 } = options;
  if (!Number.isInteger(rank) || rank < 1) throw new Error(`randomizedSvd: rank must be a positive integer, got ${rank}`);
  if (rank > Math.min(a.rows, a.cols)) {
    throw new Error(`randomizedSvd: rank ${rank} exceeds the matrix's ${a.rows} x ${a.cols} shape`);
  }
  const l = Math.min(rank + oversampling, a.rows, a.cols);
  const rng = new Rng(seed, 0x5fd);
  const omega = new Float64Array(a.cols * l);
  for (let i = 0; i < omega.length; i++) omega[i] = rng.normal();

  // Range finder: Q spans A (A^T A)^q Omega; only the last Q needs full orthogonality.
  let q = orthonormalize(multiply(a, omega, l), a.rows, l, powerIterations === 0 ? 2 : 1).q;
  for (let it = 0; it < powerIterations; it++) {
    const z = orthonormalize(multiplyTransposed(a, q, l), a.cols, l, 1).q;
    q = orthonormalize(multiply(a, z, l), a.rows, l, it === powerIterations - 1 ? 2 : 1).q;
  }
  // B = Q^T A, through its transpose: B^T = A^T Q = Q2 R, and R = Ur S Vr^T gives A ~ (Q Vr) S (Q2 Ur)^T.
  const { q: q2, r } = orthonormalize(multiplyTransposed(a, q, l), a.cols, l);
  const small = new SingularValueDecomposition(
    new Matrix(Array.from({ length: l }, (_, i) => Array.from(r.subarray(i * l, (i + 1) * l)))),
    {
      autoTranspose: false,
    },
  );
  const ur = small.leftSingularVectors;
  const vr = small.rightSingularVectors;
  const s = Float64Array.from(small.diagonal.slice(0, rank));
  const u = times(q, a.rows, l, vr, rank);
  const v = times(q2, a.cols, l, ur, rank);
  for (let k = 0; k < rank; k++) {
    let big = 0;
    for (let i = 0; i < a.rows; i++) if (Math.abs(u[i * rank + k]) > Math.abs(big)) big = u[i * rank + k];
    if (big >= 0) continue;
    for (let i = 0; i < a.rows; i++) u[i * rank + k] = -u[i * rank + k];
    for (let i = 0; i < a.cols; i++) v[i * rank + k] = -v[i * rank + k];
  }
  return { rank, u, s, v };
}

/** X (m x l, row-major) times the first `rank` columns of the l x l matrix M. */
function times(x: Float64Array, m: number, l: number, mat: Matrix, rank: number): Float64Array {
  const out = new Float64Array(m * rank);
  const small = new Float64Array(l * rank);
  for (let i = 0; i < l; i++) for (let k = 0; k < rank; k++) small[i * rank + k] = mat.get(i, k);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < l; j++) {
      const xij = x[i * l + j];
      if (xij === 0) continue;
      for (let k = 0; k < rank; k++) out[i * rank + k] += xij * small[j * rank + k];
    }
  }
  return out;
}
