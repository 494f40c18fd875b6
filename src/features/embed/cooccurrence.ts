/**
 * Co-occurrence of tracks in users' listening windows, the first step of
 * learning track embeddings where the data has none: two plays co-occur when
 * they are at most `window` plays apart in one user's chronological history.
 *
 * Counts live in an open-addressing hash table keyed by the pair (i < j), so
 * memory grows with the distinct pairs seen, never with tracks^2; they become
 * a symmetric sparse matrix (CSR) and are then weighted (PPMI, or raw counts).
 */
import { mix32 } from "../features";

/** A sparse matrix in compressed sparse row form: row r's entries are [rowPtr[r], rowPtr[r+1]), columns ascending. */
export interface Csr {
  rows: number;
  cols: number;
  rowPtr: Int32Array;
  colIndex: Int32Array;
  values: Float64Array;
}

const EMPTY = -1;

/** Play counts and pair co-occurrence counts, filled one user's history at a time. */
export class CooccurrenceCounts {
  /** Plays of each track (catalogue row). */
  readonly plays: Float64Array;
  /** Histories added. */
  histories = 0;
  /** Plays added. */
  totalPlays = 0;
  private first: Int32Array;
  private second: Int32Array;
  private counts: Float64Array;
  private mask: number;
  private used = 0;

  constructor(
    /** Catalogue size: plays name rows 0..tracks-1. */
    readonly tracks: number,
    /** Plays at most this many positions apart co-occur. */
    readonly window: number,
    initialCapacity = 1 << 16,
  ) {
    if (!Number.isInteger(window) || window < 1) throw new Error(`co-occurrence window: expected a positive integer, got ${window}`);
    this.plays = new Float64Array(tracks);
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.first = new Int32Array(capacity).fill(EMPTY);
    this.second = new Int32Array(capacity);
    this.counts = new Float64Array(capacity);
    this.mask = capacity - 1;
  }

  /** Distinct pairs of different tracks seen together. */
  get pairs(): number {
    return this.used;
  }

  /**
   * One user's plays in time order (catalogue rows). Every two plays at most
   * `window` apart add 1 to their pair; a track next to itself counts nothing.
   * With `sessionStart` (1 where a play begins a session, see sessionStarts),
   * windows stop at session boundaries.
   */
  addHistory(trackIndex: ArrayLike<number>, sessionStart?: ArrayLike<number>): void {
    const n = trackIndex.length;
    if (sessionStart && sessionStart.length !== n) {
      throw new Error(`co-occurrence: history ${this.histories} has ${n} plays but ${sessionStart.length} session marks`);
    }
    let begin = 0; // the first play of the current session
    for (let p = 0; p < n; p++) {
      const a = trackIndex[p];
      if (!(a >= 0 && a < this.tracks) || !Number.isInteger(a)) {
        throw new Error(`co-occurrence: play ${p} of history ${this.histories} names track row ${a}; expected 0..${this.tracks - 1}`);
      }
      this.plays[a]++;
      if (sessionStart?.[p]) begin = p;
      for (let d = 1; d <= this.window && d <= p - begin; d++) {
        const b = trackIndex[p - d];
        if (a !== b) this.add(a, b, 1);
      }
    }
    this.histories++;
    this.totalPlays += n;
  }

  /** Adds w to the symmetric pair {a, b} (a != b). */
  add(a: number, b: number, w: number): void {
    const i = a < b ? a : b;
    const j = a < b ? b : a;
    let slot = this.slotOf(i, j);
    if (this.first[slot] === EMPTY) {
      if ((this.used + 1) * 4 > this.first.length * 3) {
        this.grow();
        slot = this.slotOf(i, j);
      }
      this.first[slot] = i;
      this.second[slot] = j;
      this.used++;
    }
    this.counts[slot] += w;
  }

  /** The count of the pair {a, b} (0 when never seen, and for a = b). */
  get(a: number, b: number): number {
    if (a === b) return 0;
    const slot = this.slotOf(Math.min(a, b), Math.max(a, b));
    return this.first[slot] === EMPTY ? 0 : this.counts[slot];
  }

  /** Calls fn(i, j, count) for every pair, i < j, in table order. */
  forEachPair(fn: (i: number, j: number, count: number) => void): void {
    for (let s = 0; s < this.first.length; s++) if (this.first[s] !== EMPTY) fn(this.first[s], this.second[s], this.counts[s]);
  }

  /** The slot holding (i, j), or the empty slot where it belongs (linear probing). */
  private slotOf(i: number, j: number): number {
    let slot = mix32(Math.imul(i, 0x9e3779b1) ^ j) & this.mask;
    while (this.first[slot] !== EMPTY && (this.first[slot] !== i || this.second[slot] !== j)) slot = (slot + 1) & this.mask;
    return slot;
  }

  private grow(): void {
    const { first, second, counts } = this;
    this.first = new Int32Array(first.length * 2).fill(EMPTY);
    this.second = new Int32Array(first.length * 2);
    this.counts = new Float64Array(first.length * 2);
    this.mask = this.first.length - 1;
    for (let s = 0; s < first.length; s++) {
      if (first[s] === EMPTY) continue;
      const slot = this.slotOf(first[s], second[s]);
      this.first[slot] = first[s];
      this.second[slot] = second[s];
      this.counts[slot] = counts[s];
    }
  }
}

/**
 * The symmetric count matrix over the kept tracks: `row[t]` is track t's row
 * in the matrix, or -1 to leave it out. Columns ascend within each row (two
 * counting-sort passes), so the matrix does not depend on the table's order.
 */
export function cooccurrenceMatrix(counts: CooccurrenceCounts, row: Int32Array, size: number): Csr {
  const perCol = new Int32Array(size + 1);
  counts.forEachPair((i, j) => {
    const a = row[i];
    const b = row[j];
    if (a < 0 || b < 0) return;
    perCol[a + 1]++;
    perCol[b + 1]++;
  });
  for (let c = 0; c < size; c++) perCol[c + 1] += perCol[c];
  const nnz = perCol[size];
  // Pass 1: entries grouped by column.
  const byColRow = new Int32Array(nnz);
  const byColValue = new Float64Array(nnz);
  const colAt = perCol.slice(0, size);
  const perRow = new Int32Array(size + 1);
  counts.forEachPair((i, j, count) => {
    const a = row[i];
    const b = row[j];
    if (a < 0 || b < 0) return;
    byColRow[colAt[b]] = a;
    byColValue[colAt[b]++] = count;
    byColRow[colAt[a]] = b;
    byColValue[colAt[a]++] = count;
    perRow[a + 1]++;
    perRow[b + 1]++;
  });
  for (let r = 0; r < size; r++) perRow[r + 1] += perRow[r];
  // Pass 2: stable by row, so columns come out ascending.
  const colIndex = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  const rowAt = perRow.slice(0, size);
  for (let c = 0; c < size; c++) {
    for (let k = perCol[c]; k < perCol[c + 1]; k++) {
      const r = byColRow[k];
      colIndex[rowAt[r]] = c;
      values[rowAt[r]++] = byColValue[k];
    }
  }
  return { rows: size, cols: size, rowPtr: perRow, colIndex, values };
}

/** How counts become the matrix that is factorised. */
export type Weighting = "ppmi" | "counts";

/**
 * Positive pointwise mutual information with context-distribution smoothing
 * (Levy, Goldberg & Dagan 2015): PPMI(i, j) = max(0, log(C(i,j) * Z / (c(i) * c(j)^alpha))),
 * c the row sums, Z = sum_j c(j)^alpha. alpha < 1 raises rare contexts' probability,
 * damping PMI's bias towards rare tracks; alpha = 1 is plain PPMI. Entries <= 0 are dropped.
 */
export function ppmi(counts: Csr, alpha = 0.75): Csr {
  const { rows, rowPtr, colIndex, values } = counts;
  const total = rowSums(counts);
  const smoothed = Float64Array.from(total, (c) => Math.pow(c, alpha));
  let z = 0;
  for (const c of smoothed) z += c;
  const outPtr = new Int32Array(rows + 1);
  const outCol = new Int32Array(values.length);
  const outVal = new Float64Array(values.length);
  let at = 0;
  for (let r = 0; r < rows; r++) {
    for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
      const pmi = Math.log((values[k] * z) / (total[r] * smoothed[colIndex[k]]));
      if (pmi > 0) {
        outCol[at] = colIndex[k];
        outVal[at++] = pmi;
      }
    }
    outPtr[r + 1] = at;
  }
  return { rows, cols: counts.cols, rowPtr: outPtr, colIndex: outCol.slice(0, at), values: outVal.slice(0, at) };
}

/** Sum of each row. */
export function rowSums(m: Csr): Float64Array {
  const sums = new Float64Array(m.rows);
  for (let r = 0; r < m.rows; r++) for (let k = m.rowPtr[r]; k < m.rowPtr[r + 1]; k++) sums[r] += m.values[k];
  return sums;
}

/** The squared Frobenius norm: the energy a truncated SVD's singular values are a share of. */
export function frobenius2(m: Csr): number {
  let s = 0;
  for (const v of m.values) s += v * v;
  return s;
}
