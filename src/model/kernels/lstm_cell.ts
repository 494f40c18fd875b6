/**
 * Fused LSTM cell kernels for the wasm backend (docs/kernels.md, "The LSTM").
 *
 * One call does everything of one time step between two matMuls, over the
 * whole batch, on the wasm heap:
 *
 *   RubatoLstmCell      z = xproj[:, t] + hw;  i, f, o = sigmoid, g = tanh;
 *                       c' = f*c + i*g;  h' = o*tanh(c');
 *                       h_t = h + m*(h' - h),  c_t = c + m*(c' - c)   (m = mask[:, t])
 *                       and, in training, the cache [i, f, g, o, tanh(c')] for the backward step.
 *   RubatoLstmCellGrad  the same step backwards: dz (all four gates, pre-activation),
 *                       the part of dh that the mask carries to h_{t-1}, and dc_{t-1}.
 *
 * The stock alternative is ~17 kernels per step forward (split, 3 sigmoid,
 * 2 tanh, mul/add, the mask's sub/mul/add twice, the output activation) and
 * about twice that backward, each a pass over the batch plus engine work.
 *
 * src/model/lstm.ts drives them (input projection for all steps in one
 * matMul, one matMul h·W_h per step for all four gates, a tf.customGrad whose
 * gradient runs these backwards). They exist for 'wasm' only; other backends
 * run the plain-op LSTM, which is also the reference the tests compare with.
 *
 * The arithmetic runs in SIMD wasm when the runtime has it (kernels/simd.ts),
 * else in the plain JS below. sigmoid(x) = (1 + tanh(x/2)) / 2 with the same
 * rational tanh as the Tanh kernel (kernels/tanh.ts), in both.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { NONE, simdLstmKernels, simdMatMulTransposeA, type SimdLstmKernels } from './simd';
import type { CellBackwardArgs, CellForwardArgs } from './lstm_cell_args';
import { rationalTanh } from './tanh';
import { asWasmBackend, floatOffset, heapF32, type WasmBackendLike, type WasmKernelArgs } from './wasm_heap';

export const LSTM_CELL = 'RubatoLstmCell';
export const LSTM_CELL_GRAD = 'RubatoLstmCellGrad';
export const LSTM_RECURRENT_GRAD = 'RubatoLstmRecurrentGrad';

/** Offsets below are float indices into the heap (of element 0); NONE = absent. */
export { NONE };

function sigmoidR(x: number): number {
  return 0.5 + 0.5 * rationalTanh(0.5 * x);
}

/** The forward step in plain JS over a Float32Array of the whole heap. */
export function lstmCellForwardJs(heap: Float32Array, a: CellForwardArgs): void {
  const H = a.units;
  for (let r = 0; r < a.rows; r++) {
    const x0 = a.xp + r * a.xpStride;
    const w0 = a.hw === NONE ? NONE : a.hw + r * 4 * H;
    const s0 = r * H;
    const m = a.mask === NONE ? 1 : heap[a.mask + r * a.maskStride];
    const k0 = a.cache === NONE ? NONE : a.cache + r * 5 * H;
    for (let j = 0; j < H; j++) {
      let zi = heap[x0 + j];
      let zf = heap[x0 + H + j];
      let zg = heap[x0 + 2 * H + j];
      let zo = heap[x0 + 3 * H + j];
      if (w0 !== NONE) {
        zi += heap[w0 + j];
        zf += heap[w0 + H + j];
        zg += heap[w0 + 2 * H + j];
        zo += heap[w0 + 3 * H + j];
      }
      const i = sigmoidR(zi);
      const f = sigmoidR(zf);
      const g = rationalTanh(zg);
      const o = sigmoidR(zo);
      const cPrev = a.c === NONE ? 0 : heap[a.c + s0 + j];
      const hPrev = a.h === NONE ? 0 : heap[a.h + s0 + j];
      const cNew = f * cPrev + i * g;
      const tc = rationalTanh(cNew);
      const hNew = o * tc;
      heap[a.cOut + s0 + j] = cPrev + m * (cNew - cPrev);
      heap[a.hOut + s0 + j] = hPrev + m * (hNew - hPrev);
      if (k0 !== NONE) {
        heap[k0 + j] = i;
        heap[k0 + H + j] = f;
        heap[k0 + 2 * H + j] = g;
        heap[k0 + 3 * H + j] = o;
        heap[k0 + 4 * H + j] = tc;
      }
    }
  }
}

/** The backward step in plain JS. */
export function lstmCellBackwardJs(heap: Float32Array, a: CellBackwardArgs): void {
  const H = a.units;
  const alpha = a.alpha;
  for (let r = 0; r < a.rows; r++) {
    const k0 = a.cache + r * 5 * H;
    const s0 = r * H;
    const z0 = a.dz + r * 4 * H;
    const y0 = a.dy === NONE ? NONE : a.dy + r * a.dyStride;
    const m = a.mask === NONE ? 1 : heap[a.mask + r * a.maskStride];
    const keep = 1 - m;
    for (let j = 0; j < H; j++) {
      let dh = 0;
      if (y0 !== NONE) {
        const d = heap[y0 + j];
        dh = alpha === 1 || heap[a.h + s0 + j] > 0 ? d : alpha * d;
      }
      if (a.carry !== NONE) dh += heap[a.carry + s0 + j];
      if (a.dhw !== NONE) dh += heap[a.dhw + s0 + j];
      const dc = a.dc === NONE ? 0 : heap[a.dc + s0 + j];
      const i = heap[k0 + j];
      const f = heap[k0 + H + j];
      const g = heap[k0 + 2 * H + j];
      const o = heap[k0 + 3 * H + j];
      const tc = heap[k0 + 4 * H + j];
      const cPrev = a.c === NONE ? 0 : heap[a.c + s0 + j];
      const dhNew = m * dh;
      const dcNew = m * dc + dhNew * o * (1 - tc * tc);
      heap[z0 + j] = dcNew * g * i * (1 - i);
      heap[z0 + H + j] = dcNew * cPrev * f * (1 - f);
      heap[z0 + 2 * H + j] = dcNew * i * (1 - g * g);
      heap[z0 + 3 * H + j] = dhNew * tc * o * (1 - o);
      if (a.carryOut !== NONE) heap[a.carryOut + s0 + j] = keep * dh;
      if (a.dcOut !== NONE) heap[a.dcOut + s0 + j] = keep * dc + dcNew * f;
    }
  }
}

// ------------------------------------------------------------------ kernels

/** Which implementation the kernels use, per backend instance: SIMD when the runtime runs our module, else JS. */
const impls = new WeakMap<object, SimdLstmKernels | null>();
let forceJs = process.env.RUBATO_LSTM_CELL_IMPL === 'js';

/** For tests and benchmarks: force the plain-JS arithmetic (true) or allow SIMD again (false). */
export function useJsLstmCells(js: boolean): void {
  forceJs = js;
}

function simd(backend: WasmBackendLike, units: number): SimdLstmKernels | null {
  if (forceJs || units % 4 !== 0) return null;
  if (!impls.has(backend)) impls.set(backend, simdLstmKernels(backend));
  return impls.get(backend)!;
}

/** 'simd' or 'js': what the cell kernels run on `backend` for this width. */
export function lstmCellImpl(backend: unknown, units = 128): 'simd' | 'js' {
  return simd(asWasmBackend(backend), units) ? 'simd' : 'js';
}

function off(backend: WasmBackendLike, x: TensorInfo | undefined): number {
  return x == null ? NONE : floatOffset(backend, x);
}

function checkFloat(name: string, ...xs: (TensorInfo | undefined)[]): void {
  for (const x of xs) if (x != null && x.dtype !== 'float32') throw new Error(`${name}: float32 inputs only (got ${x.dtype})`);
}

/**
 * Inputs: xproj [b, T, 4u] (the input projection of every step, bias included),
 * optional hw [b, 4u], c [b, u], h [b, u], mask [b, T]. Attrs: t, units, training.
 * Outputs: [h_t, c_t] and, when training, the cache [b, 5u].
 */
function cellForward(args: WasmKernelArgs): TensorInfo[] {
  const { xproj, hw, c, h, mask } = args.inputs;
  const t = Number(args.attrs?.t);
  const units = Number(args.attrs?.units);
  const training = Boolean(args.attrs?.training);
  if (xproj == null) throw new Error(`${LSTM_CELL}: xproj is required`);
  checkFloat(LSTM_CELL, xproj, hw, c, h, mask);
  const G = 4 * units;
  if (xproj.shape.length !== 3 || xproj.shape[2] !== G || !(t >= 0 && t < xproj.shape[1])) {
    throw new Error(`${LSTM_CELL}: xproj must be [batch, steps, 4*units]; got [${xproj.shape}] for t=${t}, units=${units}`);
  }
  const [rows, steps] = xproj.shape;
  const backend = asWasmBackend(args.backend);
  const hOut = backend.makeOutput([rows, units], 'float32');
  const cOut = backend.makeOutput([rows, units], 'float32');
  const cache = training ? backend.makeOutput([rows, 5 * units], 'float32') : undefined;
  const a: CellForwardArgs = {
    rows,
    units,
    xp: off(backend, xproj) + t * G,
    xpStride: steps * G,
    hw: off(backend, hw),
    c: off(backend, c),
    h: off(backend, h),
    mask: mask == null ? NONE : off(backend, mask) + t,
    maskStride: mask == null ? 0 : mask.shape[1],
    hOut: off(backend, hOut),
    cOut: off(backend, cOut),
    cache: off(backend, cache),
  };
  const s = simd(backend, units);
  if (s) s.forward(a);
  else lstmCellForwardJs(heapF32(backend), a);
  return cache ? [hOut, cOut, cache] : [hOut, cOut];
}

/**
 * Inputs: cache [b, 5u]; optional c (c_{t-1}), h (h_t), dy ([b, T, u] with attr t, or [b, u]),
 * carry, dhw, dc [b, u], mask [b, T]. Attrs: t, units, alpha, first (t = 0: no carry/dc outputs).
 * Outputs: [dz [b, 4u], carry [b, u], dc [b, u]] or [dz] when first.
 */
function cellBackward(args: WasmKernelArgs): TensorInfo[] {
  const { cache, c, h, dy, carry, dhw, dc, mask } = args.inputs;
  const t = Number(args.attrs?.t);
  const units = Number(args.attrs?.units);
  const alpha = args.attrs?.alpha == null ? 1 : Number(args.attrs.alpha);
  const first = Boolean(args.attrs?.first);
  if (cache == null) throw new Error(`${LSTM_CELL_GRAD}: cache is required`);
  if (alpha !== 1 && dy != null && h == null) throw new Error(`${LSTM_CELL_GRAD}: h is required for alpha != 1`);
  checkFloat(LSTM_CELL_GRAD, cache, c, h, dy, carry, dhw, dc, mask);
  const rows = cache.shape[0];
  const backend = asWasmBackend(args.backend);
  const dz = backend.makeOutput([rows, 4 * units], 'float32');
  const carryOut = first ? undefined : backend.makeOutput([rows, units], 'float32');
  const dcOut = first ? undefined : backend.makeOutput([rows, units], 'float32');
  const dySeq = dy != null && dy.shape.length === 3;
  const a: CellBackwardArgs = {
    rows,
    units,
    cache: off(backend, cache),
    c: off(backend, c),
    h: off(backend, h),
    dy: dy == null ? NONE : off(backend, dy) + (dySeq ? t * units : 0),
    dyStride: dySeq ? dy.shape[1] * units : units,
    alpha: Math.fround(alpha),
    carry: off(backend, carry),
    dhw: off(backend, dhw),
    dc: off(backend, dc),
    mask: mask == null ? NONE : off(backend, mask) + t,
    maskStride: mask == null ? 0 : mask.shape[1],
    dz: off(backend, dz),
    carryOut: off(backend, carryOut),
    dcOut: off(backend, dcOut),
  };
  const s = simd(backend, units);
  if (s) s.backward(a);
  else lstmCellBackwardJs(heapF32(backend), a);
  return first ? [dz] : [dz, carryOut!, dcOut!];
}

/**
 * dW_h = sum over steps of h_{t-1}ᵀ · dz_t. Inputs h0..h{n-1} [b, u] and dz0..dz{n-1}
 * [b, 4u] (pairs by index); output [u, 4u]. The products accumulate into one
 * output (kernels/simd.ts), with no concatenated copies of the steps. Needs
 * SIMD and 4u % 4 == 0: lstm.ts uses it only when the cells run SIMD.
 */
function recurrentWeightGrad(args: WasmKernelArgs): TensorInfo[] {
  const n = Number(args.attrs?.steps);
  const hs = [...Array(n).keys()].map((i) => args.inputs[`h${i}`]);
  const dzs = [...Array(n).keys()].map((i) => args.inputs[`dz${i}`]);
  if (!(n > 0) || hs.some((x) => x == null) || dzs.some((x) => x == null)) {
    throw new Error(`${LSTM_RECURRENT_GRAD}: needs h0..h${n - 1} and dz0..dz${n - 1}`);
  }
  checkFloat(LSTM_RECURRENT_GRAD, ...hs, ...dzs);
  const [rows, units] = hs[0]!.shape;
  const width = dzs[0]!.shape[1];
  const backend = asWasmBackend(args.backend);
  const atb = width % 4 === 0 ? simdMatMulTransposeA(backend) : null;
  if (!atb) throw new Error(`${LSTM_RECURRENT_GRAD}: needs SIMD and a width that is a multiple of 4`);
  const out = backend.makeOutput([units, width], 'float32');
  const c = floatOffset(backend, out);
  hs.forEach((h, i) => atb(rows, units, width, floatOffset(backend, h!), floatOffset(backend, dzs[i]!), c, i > 0));
  return [out];
}

/** The kernels, for registration on 'wasm' (kernels/index.ts). */
export function lstmCellKernelConfigs(): KernelConfig[] {
  const config = (kernelName: string, f: (args: WasmKernelArgs) => TensorInfo[]): KernelConfig => ({
    kernelName,
    backendName: 'wasm',
    kernelFunc: (params) => f(params as unknown as WasmKernelArgs),
  });
  return [config(LSTM_CELL, cellForward), config(LSTM_CELL_GRAD, cellBackward), config(LSTM_RECURRENT_GRAD, recurrentWeightGrad)];
}
