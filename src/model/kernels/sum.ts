/**
 * Sum over a contiguous block of non-innermost axes (bias gradients: axis 0
 * of [batch, units]) by direct row accumulation. The stock kernel first
 * transposes the reduced axes to the end with its slow generic transpose.
 * Inner-axis and scattered-axis reductions go to the stock kernel, which
 * handles them without a transpose or is rare for us. Float32 blocks whose
 * rows are a multiple of 4 wide run in SIMD wasm (kernels/simd.ts).
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { backend_util, util } from '@tensorflow/tfjs-core';
import { sumMiddleAxis } from './copy';
import { simdColumnSum } from './simd';
import { asWasmBackend, callKernel, floatOffset, heapView, type WasmKernelArgs } from './wasm_heap';

/** [start, end) if the sorted axes are contiguous and not the trailing axes; else null. */
export function leadingOrMiddleBlock(axes: number[], rank: number): [number, number] | null {
  if (axes.length === 0) return null;
  const sorted = [...axes].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) if (sorted[i] !== sorted[i - 1] + 1) return null;
  const start = sorted[0];
  const end = sorted[sorted.length - 1] + 1;
  return end < rank ? [start, end] : null;
}

export function makeSumConfig(stock: KernelConfig): KernelConfig {
  return {
    ...stock,
    kernelFunc: (params) => {
      const args = params as unknown as WasmKernelArgs;
      const x = args.inputs.x as TensorInfo;
      if ((x.dtype !== 'float32' && x.dtype !== 'int32') || util.sizeFromShape(x.shape) === 0) {
        return callKernel(stock, args);
      }
      const axes = util.parseAxisParam(args.attrs?.axis as number | number[], x.shape);
      const block = leadingOrMiddleBlock(axes, x.shape.length);
      if (block == null) return callKernel(stock, args);
      const [start, end] = block;
      const outer = util.sizeFromShape(x.shape.slice(0, start));
      const rows = util.sizeFromShape(x.shape.slice(start, end));
      const cols = util.sizeFromShape(x.shape.slice(end));
      let outShape = x.shape.filter((_, i) => i < start || i >= end);
      if (args.attrs?.keepDims) outShape = backend_util.expandShapeToKeepDim(outShape, axes);
      const backend = asWasmBackend(args.backend);
      const out = backend.makeOutput(outShape, x.dtype);
      const simd = x.dtype === 'float32' && cols % 4 === 0 ? simdColumnSum(backend) : null;
      if (simd) {
        // Same float32 sums as sumMiddleAxis, four columns at a time.
        const src = floatOffset(backend, x);
        const dst = floatOffset(backend, out);
        for (let o = 0; o < outer; o++) simd(rows, cols, src + o * rows * cols, dst + o * cols);
      } else {
        sumMiddleAxis(heapView(backend, x), outer, rows, cols, heapView(backend, out));
      }
      return out;
    },
  };
}
