/**
 * Identity that shares the input's bytes (ref-counted, like Reshape) instead
 * of copying them. The engine clones every tensor it saves for backprop via
 * Identity, so the stock copy costs a full memcpy per saved activation.
 * Safe because no wasm kernel writes into its inputs.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { asWasmBackend, callKernel, isHeapDtype, type WasmKernelArgs } from './wasm_heap';

export function makeIdentityConfig(stock: KernelConfig): KernelConfig {
  return {
    ...stock,
    kernelFunc: (params) => {
      const args = params as unknown as WasmKernelArgs;
      const x = args.inputs.x as TensorInfo;
      if (!isHeapDtype(x.dtype)) return callKernel(stock, args);
      asWasmBackend(args.backend).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
    },
  };
}
