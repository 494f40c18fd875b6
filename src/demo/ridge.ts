/**
 * Closed-form ridge regression over accumulated sufficient statistics
 * (X'X and X'Y), plain Float64Array math. Column 0 of X must be a constant 1
 * (the intercept); it is not penalised.
 */

/**
 * Accumulates the upper triangle of X'X and all of X'Y row by row. Rows are
 * buffered in blocks (stored column-major) so the products run over contiguous
 * memory; call `flush()` (or read through `fitRidge`, which flushes) before use.
 */
export class NormalEquations {
  readonly xtx: Float64Array;
  readonly xty: Float64Array;
  rows = 0;
  private readonly bx: Float64Array;
  private readonly by: Float64Array;
  private pending = 0;
  private static readonly BLOCK = 64;

  constructor(
    readonly p: number,
    readonly q: number,
  ) {
    this.xtx = new Float64Array(p * p);
    this.xty = new Float64Array(p * q);
    this.bx = new Float64Array(p * NormalEquations.BLOCK);
    this.by = new Float64Array(q * NormalEquations.BLOCK);
  }

  add(x: ArrayLike<number>, y: ArrayLike<number>): void {
    const B = NormalEquations.BLOCK;
    const b = this.pending;
    for (let i = 0; i < this.p; i++) this.bx[i * B + b] = x[i];
    for (let k = 0; k < this.q; k++) this.by[k * B + b] = y[k];
    this.rows++;
    if (++this.pending === B) this.flush();
  }

  flush(): void {
    const n = this.pending;
    if (n === 0) return;
    const { p, q, xtx, xty, bx, by } = this;
    const B = NormalEquations.BLOCK;
    for (let i = 0; i < p; i++) {
      const ai = i * B;
      const base = i * p;
      let j = i;
      for (; j + 3 < p; j += 4) {
        const a0 = j * B;
        const a1 = a0 + B;
        const a2 = a1 + B;
        const a3 = a2 + B;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let r = 0; r < n; r++) {
          const v = bx[ai + r];
          s0 += v * bx[a0 + r];
          s1 += v * bx[a1 + r];
          s2 += v * bx[a2 + r];
          s3 += v * bx[a3 + r];
        }
        xtx[base + j] += s0;
        xtx[base + j + 1] += s1;
        xtx[base + j + 2] += s2;
        xtx[base + j + 3] += s3;
      }
      for (; j < p; j++) {
        const aj = j * B;
        let s = 0;
        for (let r = 0; r < n; r++) s += bx[ai + r] * bx[aj + r];
        xtx[base + j] += s;
      }
      const yb = i * q;
      for (let k = 0; k < q; k++) {
        const ak = k * B;
        let s = 0;
        for (let r = 0; r < n; r++) s += bx[ai + r] * by[ak + r];
        xty[yb + k] += s;
      }
    }
    this.pending = 0;
  }
}

export interface RidgeModel {
  /** Columns of X the model uses (column 0, the intercept, excluded). */
  columns: Int32Array;
  /** Weights, columns.length x q, row-major. */
  weights: Float64Array;
  intercept: Float64Array;
  q: number;
}

/**
 * Fits ridge regression on the columns `columns` (indices into X, without 0):
 * minimises mean ||y - b - W'x||^2 + lambda * sum_j var(x_j) * ||W_j||^2,
 * i.e. ridge on standardised features with the intercept left free.
 */
export function fitRidge(ne: NormalEquations, columns: ArrayLike<number>, lambda: number): RidgeModel {
  ne.flush();
  const { p, q, xtx, xty } = ne;
  const n = ne.rows;
  if (n === 0) throw new Error("ridge: no training rows");
  const cols = Int32Array.from(columns);
  const m = cols.length;
  const at = (i: number, j: number): number => (i <= j ? xtx[i * p + j] : xtx[j * p + i]);
  const mean = new Float64Array(m);
  for (let a = 0; a < m; a++) mean[a] = at(0, cols[a]) / n;
  const yMean = new Float64Array(q);
  for (let k = 0; k < q; k++) yMean[k] = xty[k] / n;

  // Centred covariance with a variance-scaled ridge on the diagonal.
  const A = new Float64Array(m * m);
  for (let a = 0; a < m; a++) {
    for (let b = a; b < m; b++) {
      const v = at(cols[a], cols[b]) / n - mean[a] * mean[b];
      A[a * m + b] = v;
      A[b * m + a] = v;
    }
  }
  for (let a = 0; a < m; a++) A[a * m + a] += lambda * Math.max(A[a * m + a], 0) + 1e-9;
  const B = new Float64Array(m * q);
  for (let a = 0; a < m; a++) {
    for (let k = 0; k < q; k++) B[a * q + k] = xty[cols[a] * q + k] / n - mean[a] * yMean[k];
  }
  choleskySolveInPlace(A, m, B, q);
  const intercept = Float64Array.from(yMean);
  for (let a = 0; a < m; a++) {
    for (let k = 0; k < q; k++) intercept[k] -= mean[a] * B[a * q + k];
  }
  return { columns: cols, weights: B, intercept, q };
}

/** Prediction of a ridge model for one full feature row x (column 0 ignored). */
export function predictRidge(model: RidgeModel, x: Float64Array, out: Float64Array): Float64Array {
  const { columns, weights, q } = model;
  out.set(model.intercept);
  for (let a = 0; a < columns.length; a++) {
    const xa = x[columns[a]];
    if (xa === 0) continue;
    const base = a * q;
    for (let k = 0; k < q; k++) out[k] += xa * weights[base + k];
  }
  return out;
}

/**
 * Solves A X = B for symmetric positive-definite A (m x m) and B (m x q), both
 * row-major. Overwrites A with its Cholesky factor and B with the solution.
 */
export function choleskySolveInPlace(A: Float64Array, m: number, B: Float64Array, q: number): void {
  for (let j = 0; j < m; j++) {
    let d = A[j * m + j];
    for (let k = 0; k < j; k++) d -= A[j * m + k] ** 2;
    if (!(d > 0)) throw new Error(`ridge: matrix not positive definite at column ${j}`);
    const ljj = Math.sqrt(d);
    A[j * m + j] = ljj;
    for (let i = j + 1; i < m; i++) {
      let s = A[i * m + j];
      for (let k = 0; k < j; k++) s -= A[i * m + k] * A[j * m + k];
      A[i * m + j] = s / ljj;
    }
  }
  // Forward substitution L Z = B, then back substitution L' X = Z.
  for (let i = 0; i < m; i++) {
    const lii = A[i * m + i];
    for (let k = 0; k < i; k++) {
      const lik = A[i * m + k];
      if (lik === 0) continue;
      for (let c = 0; c < q; c++) B[i * q + c] -= lik * B[k * q + c];
    }
    for (let c = 0; c < q; c++) B[i * q + c] /= lii;
  }
  for (let i = m - 1; i >= 0; i--) {
    for (let k = i + 1; k < m; k++) {
      const lki = A[k * m + i];
      if (lki === 0) continue;
      for (let c = 0; c < q; c++) B[i * q + c] -= lki * B[k * q + c];
    }
    const lii = A[i * m + i];
    for (let c = 0; c < q; c++) B[i * q + c] /= lii;
  }
}
