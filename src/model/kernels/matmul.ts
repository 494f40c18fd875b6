/**
 * BatchMatMul / _FusedMatMul that always reach XNNPACK.
 *
 * The stock wasm kernel uses XNNPACK's fully-connected operator only when
 * neither operand is transposed and both batch sizes are 1; everything else
 * (all backward matMuls: dA = dY·Bᵀ, dB = Aᵀ·dY) runs a naive C++ triple
 * loop at 0.4-2.3 GFLOP/s instead of 16-25. So we transpose the operand in
 * JS (cheap: O(n²) against the O(n³) product) and call the stock kernel with
 * no transposes. Batched products fold the batch into the rows when B is
 * shared, else run one XNNPACK product per batch.
 *
 * XNNPACK caches its packed weights by the B tensor id, so every distinct
 * B matrix we pass is a fresh tensor (ids are never reused).
 *
 * Aᵀ·B with one batch (the weight gradients xᵀ·dy) skips XNNPACK: packing a
 * fresh [2560, 512] gradient costs about as much as a third of the product,
 * and our SIMD kernel (kernels/simd.ts) needs neither the packing nor Aᵀ.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { broadcast_util, util } from '@tensorflow/tfjs-core';
import { stridesOf } from './copy';
import { simdMatMulTransposeA } from './simd';
import { transposeInfo } from './transpose';
import {
  asWasmBackend,
  callKernel,
  callKernel1,
  disposeAll,
  floatOffset,
  heapView,
  type WasmBackendLike,
  type WasmKernelArgs,
} from './wasm_heap';

function swapLastTwo(backend: WasmBackendLike, x: TensorInfo): TensorInfo {
  const r = x.shape.length;
  const perm = [...Array(r - 2).keys(), r - 1, r - 2];
  return transposeInfo(backend, x, perm);
}

/** Maps a flat index over `outDims` to the flat index of the broadcast input with `inDims`. */
function broadcastIndexer(outDims: number[], inDims: number[]): (i: number) => number {
  const r = outDims.length;
  const padded = [...new Array<number>(r - inDims.length).fill(1), ...inDims];
  const inStrides = stridesOf(padded);
  const outStrides = stridesOf(outDims);
  return (i) => {
    let idx = 0;
    let rem = i;
    for (let d = 0; d < r; d++) {
      const q = Math.floor(rem / outStrides[d]);
      rem -= q * outStrides[d];
      if (padded[d] !== 1) idx += q * inStrides[d];
    }
    return idx;
  };
}

/** Copies batch `i` (a contiguous [rows, cols] block) of `x` into a new tensor. */
function batchCopy(backend: WasmBackendLike, x: TensorInfo, i: number, rows: number, cols: number): TensorInfo {
  const out = backend.makeOutput([rows, cols], x.dtype);
  const n = rows * cols;
  heapView(backend, out).set(heapView(backend, x).subarray(i * n, (i + 1) * n));
  return out;
}

function batchMatMul(stock: KernelConfig, args: WasmKernelArgs): TensorInfo {
  const a = args.inputs.a as TensorInfo;
  const b = args.inputs.b as TensorInfo;
  const transposeA = Boolean(args.attrs?.transposeA);
  const transposeB = Boolean(args.attrs?.transposeB);
  const batchDimsA = a.shape.slice(0, -2);
  const batchDimsB = b.shape.slice(0, -2);
  const batchA = util.sizeFromShape(batchDimsA);
  const batchB = util.sizeFromShape(batchDimsB);
  const plain = !transposeA && !transposeB && batchA <= 1 && batchB <= 1;
  if (plain || a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) {
    return callKernel1(stock, args); // already fast, or let the stock kernel raise its error
  }
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  const m = transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2];
  const k = transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1];
  const kB = transposeB ? b.shape[bRank - 1] : b.shape[bRank - 2];
  const n = transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1];
  util.assert(
    k === kB,
    () =>
      `Error in matMul: inner shapes (${k}) and (${kB}) of Tensors with shapes ${a.shape} and ` +
      `${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
  );
  const outBatchDims = broadcast_util.assertAndGetBroadcastShape(batchDimsA, batchDimsB);
  const outShape = [...outBatchDims, m, n];
  const backend = asWasmBackend(args.backend);
  if (transposeA && !transposeB && batchA <= 1 && batchB <= 1 && n % 4 === 0 && m > 0 && n > 0) {
    // Aᵀ·B (every weight gradient): our SIMD kernel reads both operands in place, where
    // XNNPACK would need Aᵀ materialised and B, a fresh gradient each time, packed.
    const atb = simdMatMulTransposeA(backend);
    if (atb) {
      const out = backend.makeOutput(outShape, 'float32');
      atb(k, m, n, floatOffset(backend, a), floatOffset(backend, b), floatOffset(backend, out));
      return out;
    }
  }
  const temps: TensorInfo[] = [];
  const a2 = transposeA ? swapLastTwo(backend, a) : a; // [...batchA, m, k]
  const b2 = transposeB ? swapLastTwo(backend, b) : b; // [...batchB, k, n]
  if (transposeA) temps.push(a2);
  if (transposeB) temps.push(b2);
  const noTranspose = { transposeA: false, transposeB: false };
  try {
    if (batchB <= 1) {
      // B is shared by every batch: fold A's batch into rows, one product.
      const out = callKernel1(stock, {
        inputs: { a: { ...a2, shape: [batchA * m, k] }, b: { ...b2, shape: [k, n] } },
        attrs: noTranspose,
        backend,
      });
      return { ...out, shape: outShape };
    }
    const out = backend.makeOutput(outShape, 'float32');
    const outBatch = util.sizeFromShape(outBatchDims);
    const indexA = broadcastIndexer(outBatchDims, batchDimsA);
    const indexB = broadcastIndexer(outBatchDims, batchDimsB);
    let aIdx = -1;
    let bIdx = -1;
    let aPart: TensorInfo | null = null;
    let bPart: TensorInfo | null = null;
    for (let i = 0; i < outBatch; i++) {
      const ia = indexA(i);
      const ib = indexB(i);
      if (ia !== aIdx) {
        if (aPart) backend.disposeData(aPart.dataId);
        aPart = batchCopy(backend, a2, ia, m, k);
        aIdx = ia;
      }
      if (ib !== bIdx) {
        if (bPart) backend.disposeData(bPart.dataId);
        bPart = batchCopy(backend, b2, ib, k, n);
        bIdx = ib;
      }
      const part = callKernel1(stock, { inputs: { a: aPart!, b: bPart! }, attrs: noTranspose, backend });
      heapView(backend, out).set(heapView(backend, part), i * m * n);
      backend.disposeData(part.dataId);
    }
    if (aPart) temps.push(aPart);
    if (bPart) temps.push(bPart);
    return out;
  } finally {
    disposeAll(backend, temps);
  }
}

export function makeBatchMatMulConfig(stock: KernelConfig): KernelConfig {
  return { ...stock, kernelFunc: (params) => batchMatMul(stock, params as unknown as WasmKernelArgs) };
}

/**
 * _FusedMatMul (matMul + bias + activation) gets rank-3 operands from the op.
 * Transposed single-batch products are turned into plain ones; batched ones
 * stay on the stock kernel.
 */
export function makeFusedMatMulConfig(stock: KernelConfig): KernelConfig {
  return {
    ...stock,
    kernelFunc: (params) => {
      const args = params as unknown as WasmKernelArgs;
      const a = args.inputs.a as TensorInfo;
      const b = args.inputs.b as TensorInfo;
      const transposeA = Boolean(args.attrs?.transposeA);
      const transposeB = Boolean(args.attrs?.transposeB);
      const single = util.sizeFromShape(a.shape.slice(0, -2)) <= 1 && util.sizeFromShape(b.shape.slice(0, -2)) <= 1;
      if ((!transposeA && !transposeB) || !single || a.dtype !== 'float32' || b.dtype !== 'float32') {
        return callKernel(stock, args);
      }
      const backend = asWasmBackend(args.backend);
      const a2 = transposeA ? swapLastTwo(backend, a) : a;
      const b2 = transposeB ? swapLastTwo(backend, b) : b;
      try {
        return callKernel(stock, {
          inputs: { ...args.inputs, a: a2, b: b2 },
          attrs: { ...args.attrs, transposeA: false, transposeB: false },
          backend,
        });
      } finally {
        if (transposeA) backend.disposeData(a2.dataId);
        if (transposeB) backend.disposeData(b2.dataId);
      }
    },
  };
}
