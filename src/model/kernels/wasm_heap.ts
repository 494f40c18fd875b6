/**
 * Minimal typed view of the tfjs-backend-wasm internals the fast kernels use,
 * plus helpers to read and write tensors in place on the wasm heap.
 *
 * The published typings of `BackendWasm` reference Emscripten types that are
 * not installed here, so we describe just what we touch (tfjs 4.22).
 */
import type { DataId, DataType, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { util } from '@tensorflow/tfjs-core';

export interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: DataType;
  refCount: number;
}

export interface WasmModuleLike {
  HEAPU8: Uint8Array;
  /** Present in the threaded build, where the heap is a growable SharedArrayBuffer. */
  wasmMemory?: { buffer: ArrayBufferLike };
  /** The Emscripten module's exports; `memory` is the heap's WebAssembly.Memory (single-threaded builds). */
  asm?: { memory?: unknown };
}

export interface WasmBackendLike {
  wasm: WasmModuleLike;
  dataIdMap: { get(dataId: DataId): WasmTensorData | undefined; has(dataId: DataId): boolean };
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  disposeData(dataId: DataId, force?: boolean): boolean;
  incRef(dataId: DataId): void;
}

export type HeapArray = Float32Array | Int32Array | Uint8Array;

/** Kernel function signature as tfjs calls it, with the wasm backend typed. */
export type WasmKernelArgs = {
  inputs: Record<string, TensorInfo | undefined>;
  backend: WasmBackendLike;
  attrs?: Record<string, unknown>;
};
export type WasmKernelFunc = (args: WasmKernelArgs) => TensorInfo | TensorInfo[];

export function asWasmBackend(backend: unknown): WasmBackendLike {
  return backend as WasmBackendLike;
}

/** Calls a stock kernel config with our typed arguments. */
export function callKernel(config: KernelConfig, args: WasmKernelArgs): TensorInfo | TensorInfo[] {
  return config.kernelFunc(args as unknown as Parameters<KernelConfig['kernelFunc']>[0]);
}

export function callKernel1(config: KernelConfig, args: WasmKernelArgs): TensorInfo {
  return callKernel(config, args) as TensorInfo;
}

function heapBuffer(wasm: WasmModuleLike): ArrayBufferLike {
  // In the threaded build the heap can grow behind HEAPU8's back; the memory
  // object always has the current buffer.
  return wasm.wasmMemory ? wasm.wasmMemory.buffer : wasm.HEAPU8.buffer;
}

/**
 * A typed array aliasing the tensor's bytes on the wasm heap (no copy).
 * Views are invalidated by any later allocation (the heap may grow), so take
 * them only after all outputs of a kernel are allocated.
 */
export function heapView(backend: WasmBackendLike, info: TensorInfo): HeapArray {
  const data = backend.dataIdMap.get(info.dataId);
  if (data == null) throw new Error('heapView: unknown dataId (tensor disposed?)');
  const size = util.sizeFromShape(info.shape);
  const buffer = heapBuffer(backend.wasm);
  switch (info.dtype) {
    case 'float32':
      return new Float32Array(buffer, data.memoryOffset, size);
    case 'int32':
      return new Int32Array(buffer, data.memoryOffset, size);
    case 'bool':
      return new Uint8Array(buffer, data.memoryOffset, size);
    default:
      throw new Error(`heapView: unsupported dtype ${info.dtype}`);
  }
}

/** A Float32Array over the whole current heap (take it after allocating outputs; see heapView). */
export function heapF32(backend: WasmBackendLike): Float32Array {
  const buffer = heapBuffer(backend.wasm);
  return new Float32Array(buffer, 0, buffer.byteLength >>> 2);
}

/** Index of the tensor's element 0 in heapF32(backend). */
export function floatOffset(backend: WasmBackendLike, info: TensorInfo): number {
  const data = backend.dataIdMap.get(info.dataId);
  if (data == null) throw new Error('floatOffset: unknown dataId (tensor disposed?)');
  if (data.memoryOffset % 4 !== 0) throw new Error('floatOffset: tensor is not 4-byte aligned');
  return data.memoryOffset >>> 2;
}

/** True for the dtypes whose bytes live on the heap (everything but string/complex). */
export function isHeapDtype(dtype: DataType): boolean {
  return dtype === 'float32' || dtype === 'int32' || dtype === 'bool';
}

export function disposeAll(backend: WasmBackendLike, infos: TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}
