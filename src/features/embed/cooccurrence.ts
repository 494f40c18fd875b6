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

  /** Whether release() dropped the pair table. */
  get released(): boolean {
    return this.mask < 0;
  }

  /**
   * Drops the pair table (the largest thing embed-tracks holds: about 16 bytes
   * per slot, up to 2.7 slots per distinct pair) once the matrix is built;
   * plays, histories, totalPlays and pairs stay readable. Counting, get and
   * forEachPair throw afterwards.
   */
  release(): void {
    this.first = new Int32Array(0);
    this.second = new Int32Array(0);
    this.counts = new Float64Array(0);
    this.mask = -1;
  }

  private live(): void {
    if (this.released) throw new Error("co-occurrence: the pair table was released (release()); count again to read pairs");
  }

  /**
   * One user's plays in time order (catalogue rows). Every two plays at most
   * `window` apart add 1 to their pair; a track next to itself counts nothing.
   * With `sessionStart` (1 where a play begins a session, see sessionStarts),
   * windows stop at session boundaries.
   */
  addHistory(trackIndex: ArrayLike<number>, sessionStart?: ArrayLike<number>): void {
    this.live();
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
    this.live();
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
    this.live();
    const slot = this.slotOf(Math.min(a, b), Math.max(a, b));
    return this.first[slot] === EMPTY ? 0 : this.counts[slot];
  }

  /** Calls fn(i, j, count) for every pair, i < j, in table order. */
  forEachPair(fn: (i: number, j: number, count: number) => void): void {
    this.live();
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
 * in the matrix, or -1 to leave it out. Each pair is written straight into its
 * two rows, then every row is sorted by column, so the matrix does not depend
 * on the table's order. Beside the table it holds only the matrix (12 bytes per
 * entry, two per pair) and one row's sort keys.
 */
export function cooccurrenceMatrix(counts: CooccurrenceCounts, row: Int32Array, size: number): Csr {
  const rowPtr = new Int32Array(size + 1);
  counts.forEachPair((i, j) => {
    const a = row[i];
    const b = row[j];
    if (a < 0 || b < 0) return;
    rowPtr[a + 1]++;
    rowPtr[b + 1]++;
  });
  let longest = 0;
  for (let r = 0; r < size; r++) {
    longest = Math.max(longest, rowPtr[r + 1]);
    rowPtr[r + 1] += rowPtr[r];
  }
  const nnz = rowPtr[size];
  const colIndex = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  const at = rowPtr.slice(0, size);
  counts.forEachPair((i, j, count) => {
    const a = row[i];
    const b = row[j];
    if (a < 0 || b < 0) return;
    colIndex[at[a]] = b;
    values[at[a]++] = count;
    colIndex[at[b]] = a;
    values[at[b]++] = count;
  });
  sortRows({ rows: size, cols: size, rowPtr, colIndex, values }, longest);
  return { rows: size, cols: size, rowPtr, colIndex, values };
}

/**
 * Sorts each row's entries by column, in place (columns are distinct within a
 * row). Keys col * len + k (k the entry's place in the row, len the row's
 * length) are distinct and order by column; a typed array sorts them natively.
 * Needs cols * longest < 2^53.
 */
function sortRows(m: Csr, longest: number): void {
  const keys = new Float64Array(longest);
  const cols = new Int32Array(longest);
  const vals = new Float64Array(longest);
  for (let r = 0; r < m.rows; r++) {
    const start = m.rowPtr[r];
    const len = m.rowPtr[r + 1] - start;
    let sorted = true;
    for (let k = 1; k < len && sorted; k++) sorted = m.colIndex[start + k - 1] < m.colIndex[start + k];
    if (sorted) continue;
    const key = keys.subarray(0, len);
    for (let k = 0; k < len; k++) key[k] = m.colIndex[start + k] * len + k;
    key.sort();
    for (let q = 0; q < len; q++) {
      const k = key[q] % len;
      cols[q] = m.colIndex[start + k];
      vals[q] = m.values[start + k];
    }
    m.colIndex.set(cols.subarray(0, len), start);
    m.values.set(vals.subarray(0, len), start);
  }
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
  // log(x) > 0 exactly when x > 1: a first pass counts the entries kept, so the
  // output is allocated at its size (no second copy of the matrix to trim it).
  const ratio = (r: number, k: number) => (values[k] * z) / (total[r] * smoothed[colIndex[k]]);
  let kept = 0;
  for (let r = 0; r < rows; r++) for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) if (ratio(r, k) > 1) kept++;
  const outPtr = new Int32Array(rows + 1);
  const outCol = new Int32Array(kept);
  const outVal = new Float64Array(kept);
  let at = 0;
  for (let r = 0; r < rows; r++) {
    for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
      const x = ratio(r, k);
      if (x > 1) {
        outCol[at] = colIndex[k];
        outVal[at++] = Math.log(x);
      }
    }
    outPtr[r + 1] = at;
  }
  return { rows, cols: counts.cols, rowPtr: outPtr, colIndex: outCol, values: outVal };
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
