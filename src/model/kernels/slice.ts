/**
 * Slice, SplitV and Unpack as direct heap-to-heap block copies.
 *
 * The stock kernels start with `backend.readSync(x)`, which copies the whole
 * input out of the heap for every slice (so unstacking T steps copies the
 * input T times). Here each output is filled straight from a heap view of
 * the input, one `set` per contiguous run.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { backend_util, slice_util, util } from '@tensorflow/tfjs-core';
import { copySlice } from './copy';
import { asWasmBackend, callKernel, heapView, isHeapDtype, type WasmBackendLike, type WasmKernelArgs } from './wasm_heap';

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/** Allocates every output first (allocation may grow the heap and detach views), then copies. */
function copyBlocks(
  backend: WasmBackendLike,
  x: TensorInfo,
  blocks: { begin: number[]; size: number[]; outShape: number[] }[],
): TensorInfo[] {
  const outs = blocks.map((b) => backend.makeOutput(b.outShape, x.dtype));
  const src = heapView(backend, x);
  blocks.forEach((b, i) => {
    if (util.sizeFromShape(b.size) > 0) copySlice(src, x.shape, b.begin, b.size, heapView(backend, outs[i]));
  });
  return outs;
}

export function makeSliceConfig(stock: KernelConfig): KernelConfig {
  return {
    ...stock,
    kernelFunc: (params) => {
      const args = params as unknown as WasmKernelArgs;
      const x = args.inputs.x as TensorInfo;
      if (!isHeapDtype(x.dtype)) return callKernel(stock, args);
      const backend = asWasmBackend(args.backend);
      const [begin, size] = slice_util.parseSliceParams(
        x,
        args.attrs?.begin as number | number[],
        args.attrs?.size as number | number[],
      );
      if (sameShape(size, x.shape)) {
        backend.incRef(x.dataId); // whole tensor: share, like Reshape
        return { dataId: x.dataId, shape: size, dtype: x.dtype };
      }
      return copyBlocks(backend, x, [{ begin, size, outShape: size }])[0];
    },
  };
}

export function makeSplitVConfig(stock: KernelConfig): KernelConfig {
  return {
    ...stock,
    kernelFunc: (params) => {
      const args = params as unknown as WasmKernelArgs;
      const x = args.inputs.x as TensorInfo;
      if (!isHeapDtype(x.dtype)) return callKernel(stock, args);
      const axis = util.parseAxisParam(args.attrs?.axis as number, x.shape)[0];
      const sizes = backend_util.prepareSplitSize(x, args.attrs?.numOrSizeSplits as number | number[], axis);
      const begin = new Array<number>(x.shape.length).fill(0);
      const blocks = sizes.map((s) => {
        const size = x.shape.slice();
        size[axis] = s;
        const block = { begin: begin.slice(), size, outShape: size };
        begin[axis] += s;
        return block;
      });
      return copyBlocks(asWasmBackend(args.backend), x, blocks);
    },
  };
}

export function makeUnpackConfig(stock: KernelConfig): KernelConfig {
  return {
    ...stock,
    kernelFunc: (params) => {
      const args = params as unknown as WasmKernelArgs;
      const value = args.inputs.value as TensorInfo;
      if (!isHeapDtype(value.dtype)) return callKernel(stock, args);
      const rank = value.shape.length;
      let axis = (args.attrs?.axis as number) ?? 0;
      if (axis < 0) axis += rank;
      const outShape = value.shape.filter((_, i) => i !== axis);
      const size = value.shape.slice();
      size[axis] = 1;
      const blocks = [];
      for (let i = 0; i < value.shape[axis]; i++) {
        const begin = new Array<number>(rank).fill(0);
        begin[axis] = i;
        blocks.push({ begin, size, outShape });
      }
      return copyBlocks(asWasmBackend(args.backend), value, blocks);
    },
  };
}
