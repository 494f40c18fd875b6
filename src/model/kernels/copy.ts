/**
 * Pure typed-array routines behind the fast kernels: strided block copies,
 * cache-blocked transposes and leading-axis sums. They work on any row-major
 * array (tests run them on plain arrays; the kernels on wasm heap views).
 */
import type { HeapArray } from './wasm_heap';

/** Below this many elements a hand loop beats `TypedArray.set(subarray)`. */
const SET_THRESHOLD = 48;
/** Tile edge of the blocked 2-D transpose: 32x32 floats = 4 KiB per tile side. */
const TILE = 32;

export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

function product(xs: readonly number[], from = 0, to = xs.length): number {
  let p = 1;
  for (let i = from; i < to; i++) p *= xs[i];
  return p;
}

function copyRun(src: HeapArray, s: number, dst: HeapArray, d: number, n: number): void {
  if (n >= SET_THRESHOLD) {
    dst.set(src.subarray(s, s + n), d);
  } else {
    for (let k = 0; k < n; k++) dst[d + k] = src[s + k];
  }
}

/**
 * Copies the block `begin .. begin+size` of `src` (row-major, shape `srcShape`)
 * into `dst` starting at `dstOffset`, contiguous. Trailing axes taken in full
 * are merged with the last partial axis, so slicing along leading axes is one
 * `set` of a subarray and slicing along axis 1 of [B, T, D] is B runs of D.
 */
export function copySlice(
  src: HeapArray,
  srcShape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  dst: HeapArray,
  dstOffset = 0,
): void {
  const rank = srcShape.length;
  const strides = stridesOf(srcShape);
  let base = 0;
  for (let i = 0; i < rank; i++) base += begin[i] * strides[i];
  // Find the contiguous run: axes k..rank-1 where every axis after k is full.
  let run = 1;
  let k = rank - 1;
  for (; k >= 0; k--) {
    run *= size[k];
    if (size[k] !== srcShape[k]) break;
  }
  const outer = k <= 0 ? 0 : k; // number of outer axes iterated explicitly
  const count = product(size, 0, outer);
  if (count === 0 || run === 0) return;
  const idx = new Array<number>(outer).fill(0);
  let s = base;
  let d = dstOffset;
  for (let it = 0; it < count; it++) {
    copyRun(src, s, dst, d, run);
    d += run;
    // Odometer increment over the outer axes.
    for (let a = outer - 1; a >= 0; a--) {
      idx[a]++;
      s += strides[a];
      if (idx[a] < size[a]) break;
      s -= size[a] * strides[a];
      idx[a] = 0;
    }
  }
}

/** Blocked transpose of a rows x cols matrix at `s` into cols x rows at `d`. */
export function transpose2d(src: HeapArray, s: number, dst: HeapArray, d: number, rows: number, cols: number): void {
  for (let i0 = 0; i0 < rows; i0 += TILE) {
    const i1 = Math.min(i0 + TILE, rows);
    for (let j0 = 0; j0 < cols; j0 += TILE) {
      const j1 = Math.min(j0 + TILE, cols);
      for (let j = j0; j < j1; j++) {
        // Writes along a destination row (sequential), reads down a column
        // of the tile (which stays in L1 for the whole tile).
        const dRow = d + j * rows;
        let sIdx = s + i0 * cols + j;
        for (let i = i0; i < i1; i++) {
          dst[dRow + i] = src[sIdx];
          sIdx += cols;
        }
      }
    }
  }
}

/**
 * Drops size-1 axes and merges input axes that stay adjacent and in order
 * under `perm`. E.g. [A,B,C] with perm [2,0,1] becomes [A*B, C] with [1,0].
 */
export function simplifyPermutation(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  // Remove size-1 axes, renumbering the rest.
  const keep = shape.map((n) => n !== 1);
  const renumber = new Array<number>(shape.length).fill(-1);
  let next = 0;
  for (let i = 0; i < shape.length; i++) if (keep[i]) renumber[i] = next++;
  const s1 = shape.filter((_, i) => keep[i]);
  const p1 = perm.filter((p) => keep[p]).map((p) => renumber[p]);
  if (s1.length === 0) return { shape: [], perm: [] };
  // Merge runs of consecutive input axes in the output order.
  const groups: number[][] = [];
  for (const p of p1) {
    const last = groups[groups.length - 1];
    if (last != null && last[last.length - 1] + 1 === p) last.push(p);
    else groups.push([p]);
  }
  // Groups sorted by their first input axis define the merged input shape.
  const byInput = groups.map((g, outPos) => ({ g, outPos })).sort((x, y) => x.g[0] - y.g[0]);
  const mergedShape = byInput.map(({ g }) => g.reduce((acc, a) => acc * s1[a], 1));
  const inputIndexOfGroup = new Array<number>(groups.length);
  byInput.forEach(({ outPos }, inputPos) => (inputIndexOfGroup[outPos] = inputPos));
  return { shape: mergedShape, perm: inputIndexOfGroup };
}

/**
 * Transposes row-major `src` (shape `shape`) by `perm` into contiguous `dst`.
 * Leading axes that stay put become an outer loop; a last axis that stays put
 * becomes run copies; the 2-D core is tiled. Anything else falls back to an
 * element loop with an odometer (correct, not fast; rare in our models).
 */
export function transposeArray(src: HeapArray, shape: readonly number[], perm: readonly number[], dst: HeapArray): void {
  const simple = simplifyPermutation(shape, perm);
  transposeRec(src, 0, dst, 0, simple.shape, simple.perm);
}

function transposeRec(src: HeapArray, s: number, dst: HeapArray, d: number, shape: number[], perm: number[]): void {
  const rank = shape.length;
  if (rank <= 1 || perm.every((p, i) => p === i)) {
    copyRun(src, s, dst, d, product(shape));
    return;
  }
  if (perm[0] === 0) {
    const inner = product(shape, 1);
    const subShape = shape.slice(1);
    const subPerm = perm.slice(1).map((p) => p - 1);
    for (let i = 0; i < shape[0]; i++) transposeRec(src, s + i * inner, dst, d + i * inner, subShape, subPerm);
    return;
  }
  if (rank === 2) {
    transpose2d(src, s, dst, d, shape[0], shape[1]);
    return;
  }
  const strides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  const srcStrideOfOut = perm.map((p) => strides[p]);
  if (perm[rank - 1] === rank - 1) {
    // Last axis fixed: copy runs of shape[rank-1] elements.
    const run = shape[rank - 1];
    odometer(outShape, rank - 1, srcStrideOfOut, (off, o) => copyRun(src, s + off, dst, d + o * run, run));
    return;
  }
  const lastN = outShape[rank - 1];
  const lastStride = srcStrideOfOut[rank - 1];
  odometer(outShape, rank - 1, srcStrideOfOut, (off, o) => {
    let si = s + off;
    const di = d + o * lastN;
    for (let k = 0; k < lastN; k++, si += lastStride) dst[di + k] = src[si];
  });
}

/** Visits every index of the first `axes` axes of `shape`, giving the source offset and ordinal. */
function odometer(shape: number[], axes: number, strides: number[], visit: (offset: number, ordinal: number) => void): void {
  const count = product(shape, 0, axes);
  const idx = new Array<number>(axes).fill(0);
  let off = 0;
  for (let o = 0; o < count; o++) {
    visit(off, o);
    for (let a = axes - 1; a >= 0; a--) {
      idx[a]++;
      off += strides[a];
      if (idx[a] < shape[a]) break;
      off -= shape[a] * strides[a];
      idx[a] = 0;
    }
  }
}

/**
 * out[o, c] = sum over r of x[o, r, c] for x viewed as [outer, rows, cols].
 * Rows are added in order, starting from row 0, with one rounding per add
 * (Float32Array store), the same sequence as the stock transpose-then-sum.
 */
export function sumMiddleAxis(src: HeapArray, outer: number, rows: number, cols: number, dst: HeapArray): void {
  for (let o = 0; o < outer; o++) {
    const s0 = o * rows * cols;
    const d0 = o * cols;
    if (rows === 0) {
      dst.fill(0, d0, d0 + cols);
      continue;
    }
    copyRun(src, s0, dst, d0, cols);
    for (let r = 1; r < rows; r++) {
      const sr = s0 + r * cols;
      for (let c = 0; c < cols; c++) dst[d0 + c] += src[sr + c];
    }
  }
}
