/**
 * Transpose on the wasm heap in JS. The stock kernel runs a generic C++
 * loop at ~120 MB/s; a tiled 2-D transpose over heap views is several times
 * faster, and no-op permutations share the input instead of copying it.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { simplifyPermutation, transposeArray } from './copy';
import { asWasmBackend, callKernel, heapView, isHeapDtype, type WasmBackendLike, type WasmKernelArgs } from './wasm_heap';

/** Transposes `x` by `perm` into a new tensor (or a shared one for a no-op). */
export function transposeInfo(backend: WasmBackendLike, x: TensorInfo, perm: readonly number[]): TensorInfo {
  const outShape = perm.map((p) => x.shape[p]);
  const simple = simplifyPermutation(x.shape, perm);
  if (simple.perm.every((p, i) => p === i)) {
    // Same memory layout: share the bytes like Reshape does.
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: outShape, dtype: x.dtype };
  }
  const out = backend.makeOutput(outShape, x.dtype);
  transposeArray(heapView(backend, x), x.shape, perm, heapView(backend, out));
  return out;
}

export function makeTransposeConfig(stock: KernelConfig): KernelConfig {
  return {
    ...stock,
    kernelFunc: (params) => {
      const args = params as unknown as WasmKernelArgs;
      const x = args.inputs.x as TensorInfo;
      if (!isHeapDtype(x.dtype)) return callKernel(stock, args);
      return transposeInfo(asWasmBackend(args.backend), x, args.attrs?.perm as number[]);
    },
  };
}
