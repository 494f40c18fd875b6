/**
 * The arguments of one LSTM cell step (kernels/lstm_cell.ts), shared by its JS
 * and SIMD implementations (kernels/simd.ts). Offsets are float indices into
 * the wasm heap (of element 0); NONE (kernels/simd.ts) = absent.
 */
export interface CellForwardArgs {
  rows: number;
  units: number;
  /** z pre-activations from the input projection: row r starts at xp + r * xpStride. */
  xp: number;
  xpStride: number;
  /** h_{t-1} · W_h, [rows, 4 units] contiguous, or NONE (t = 0). */
  hw: number;
  /** c_{t-1}, h_{t-1}: [rows, units] contiguous, or NONE (zero state). */
  c: number;
  h: number;
  /** mask value of row r at mask + r * maskStride, or NONE (all 1). */
  mask: number;
  maskStride: number;
  hOut: number;
  cOut: number;
  /** [rows, 5 units]: i, f, g, o, tanh(c'), or NONE (inference). */
  cache: number;
}

export interface CellBackwardArgs {
  rows: number;
  units: number;
  /** The forward cache of this step, [rows, 5 units]. */
  cache: number;
  /** c_{t-1} or NONE (t = 0). */
  c: number;
  /** h_t (the state this step output), read for the output activation's slope; NONE when alpha = 1. */
  h: number;
  /** dL/d(act(h_t)): row r at dy + r * dyStride, or NONE. */
  dy: number;
  dyStride: number;
  /** Slope of the output activation for h_t <= 0 (1 = linear, 0 = relu). */
  alpha: number;
  /** Gradient reaching h_t from step t+1 through the mask, or NONE. */
  carry: number;
  /** Gradient reaching h_t from step t+1 through the recurrent matMul (dz_{t+1} · W_hᵀ), or NONE. */
  dhw: number;
  /** dL/dc_t, or NONE. */
  dc: number;
  mask: number;
  maskStride: number;
  /** Outputs: dz [rows, 4 units]; carry to h_{t-1} and dc_{t-1} [rows, units], or NONE to skip (t = 0). */
  dz: number;
  carryOut: number;
  dcOut: number;
}
