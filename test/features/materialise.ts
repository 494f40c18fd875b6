/**
 * Every row of a compact dataset assembled up front, as the dataset held them
 * before it became compact: [n, w, d_s] x_s, [n, w] mask, [n, d_n] x_n,
 * [n, dim] targets and each row's time. Tests only (it costs ~2 KB a row).
 */
import { pointTime, writePoint, type Dataset } from "../../src/features/dataset";

export interface Materialised {
  fast: Float32Array;
  mask: Float32Array;
  slow: Float32Array;
  target: Float32Array;
  time: Float64Array;
}

export function materialise(ds: Dataset): Materialised {
  const out = {
    fast: new Float32Array(ds.n * ds.window * ds.fastStep),
    mask: new Float32Array(ds.n * ds.window),
    slow: new Float32Array(ds.n * ds.slowDim),
    target: new Float32Array(ds.n * ds.dim),
  };
  for (let r = 0; r < ds.n; r++) writePoint(ds, r, out, r);
  return { ...out, time: Float64Array.from({ length: ds.n }, (_, r) => pointTime(ds, r)) };
}
