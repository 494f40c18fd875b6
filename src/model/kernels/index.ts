/**
 * Registry of the fast wasm kernels (see docs/kernels.md).
 *
 * `registerFastKernels()` swaps the stock tfjs-backend-wasm kernels listed in
 * FAST_KERNELS for our versions, keeping each stock config so that our
 * kernels can delegate to it (e.g. the XNNPACK matMul) and tests can compare
 * against it. Each override keeps the stock `setupFunc`, so registering
 * before or after the wasm backend initialises both work.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, NamedAttrMap, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import { makeIdentityConfig } from './identity';
import { LSTM_CELL, lstmCellKernelConfigs } from './lstm_cell';
import { makeBatchMatMulConfig, makeFusedMatMulConfig } from './matmul';
import { makeSliceConfig, makeSplitVConfig, makeUnpackConfig } from './slice';
import { makeSumConfig } from './sum';
import { makeTanhConfig } from './tanh';
import { makeTransposeConfig } from './transpose';

export { registerTfjsGradients, type GradientRegistration } from './gradients';
export { LSTM_CELL, LSTM_CELL_GRAD, LSTM_RECURRENT_GRAD, lstmCellImpl, useJsLstmCells } from './lstm_cell';

export const WASM = 'wasm';

/** Kernel name -> factory building our override from the stock config. */
export const FAST_KERNELS: Readonly<Record<string, (stock: KernelConfig) => KernelConfig>> = {
  BatchMatMul: makeBatchMatMulConfig,
  _FusedMatMul: makeFusedMatMulConfig,
  Transpose: makeTransposeConfig,
  Slice: makeSliceConfig,
  SplitV: makeSplitVConfig,
  Unpack: makeUnpackConfig,
  Identity: makeIdentityConfig,
  Sum: makeSumConfig,
  Tanh: makeTanhConfig,
};

const stockConfigs = new Map<string, KernelConfig>();
/** Kernels of our own (no stock counterpart) registered with the overrides. */
const ownKernels: string[] = [];

export function fastKernelsRegistered(): boolean {
  return stockConfigs.size > 0;
}

/**
 * Installs the overrides and our own kernels (the fused LSTM kernels; idempotent).
 * Returns the kernel names, overrides first.
 */
export function registerFastKernels(): string[] {
  if (fastKernelsRegistered()) return [...stockConfigs.keys(), ...ownKernels];
  for (const name of Object.keys(FAST_KERNELS)) {
    if (tf.getKernel(name, WASM) == null) {
      throw new Error(`registerFastKernels: no stock '${name}' kernel for wasm; import @tensorflow/tfjs-backend-wasm first`);
    }
  }
  for (const [name, make] of Object.entries(FAST_KERNELS)) {
    const stock = tf.getKernel(name, WASM);
    stockConfigs.set(name, stock);
    tf.unregisterKernel(name, WASM);
    tf.registerKernel(make(stock));
  }
  for (const config of lstmCellKernelConfigs()) {
    if (tf.getKernel(config.kernelName, WASM) != null) tf.unregisterKernel(config.kernelName, WASM);
    tf.registerKernel(config);
    ownKernels.push(config.kernelName);
  }
  return [...stockConfigs.keys(), ...ownKernels];
}

/** True when the fused LSTM cell kernels can run: the active backend is wasm and they are registered. */
export function fusedLstmAvailable(): boolean {
  return tf.getBackend() === WASM && tf.getKernel(LSTM_CELL, WASM) != null;
}

/** Puts the stock kernels back (used by the benchmark and tests). */
export function unregisterFastKernels(): void {
  for (const [name, stock] of stockConfigs) {
    tf.unregisterKernel(name, WASM);
    tf.registerKernel(stock);
  }
  stockConfigs.clear();
  for (const name of ownKernels) tf.unregisterKernel(name, WASM);
  ownKernels.length = 0;
}

/** The stock wasm kernel config for `name` (whether or not it is overridden). */
export function stockKernel(name: string): KernelConfig {
  const config = stockConfigs.get(name) ?? tf.getKernel(name, WASM);
  if (config == null) throw new Error(`No wasm kernel '${name}'`);
  return config;
}

/**
 * Runs the stock wasm kernel directly on tensors of the active (wasm)
 * backend and wraps its outputs as tracked tensors. For tests and benches.
 */
export function runStockKernel(name: string, inputs: Record<string, Tensor>, attrs: NamedAttrMap = {}): Tensor | Tensor[] {
  if (tf.getBackend() !== WASM) throw new Error(`runStockKernel needs the wasm backend, not ${tf.getBackend()}`);
  const engine = tf.engine();
  const out = stockKernel(name).kernelFunc({ inputs, attrs, backend: engine.backend });
  const wrap = (info: TensorInfo) => engine.makeTensorFromTensorInfo(info);
  return Array.isArray(out) ? out.map(wrap) : wrap(out);
}
