/**
 * Backend selection: default order (wasm; tfjs-node only on request, and it
 * is not installable here), the RUBATO_TF_BACKEND override, idempotence, the
 * fast-kernel switch, gradient registration, and the threaded-SIMD loader.
 */
import * as tf from '@tensorflow/tfjs-core';
import { currentBackend, initBackend } from '../../src/model/backend';
import { fastKernelsRegistered } from '../../src/model/kernels';

const savedEnv = { ...process.env };
afterEach(() => {
  for (const k of ['RUBATO_TF_BACKEND', 'RUBATO_WASM_THREADS', 'RUBATO_WASM_FAST_KERNELS']) {
    if (savedEnv[k] == null) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});
beforeEach(() => {
  delete process.env.RUBATO_TF_BACKEND;
  delete process.env.RUBATO_WASM_THREADS;
  delete process.env.RUBATO_WASM_FAST_KERNELS;
});

function tfjsNodeInstalled(): boolean {
  try {
    require.resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

const noNode = tfjsNodeInstalled() ? it.skip : it;

describe('initBackend', () => {
  it('uses wasm with the fast kernels by default, without trying tfjs-node, and logs it', async () => {
    const lines: string[] = [];
    const info = await initBackend(undefined, { logger: (m) => lines.push(m) });
    expect(lines.join('\n')).not.toMatch(/node/);
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(['simd', 'plain', 'threaded-simd']).toContain(info.wasmVariant);
    expect(info.fastKernels).toEqual(expect.arrayContaining(['BatchMatMul', 'Transpose', 'Slice', 'SplitV', 'Unpack', 'Identity', 'Sum']));
    expect(fastKernelsRegistered()).toBe(true);
    expect(lines.at(-1)).toMatch(/^tfjs backend: wasm \(/);
    expect(currentBackend()).toBe(info);
  });

  it('is idempotent: a second call returns the same result without logging', async () => {
    const first = await initBackend('wasm', { logger: () => undefined });
    const lines: string[] = [];
    const again = await Promise.all([initBackend(undefined, { logger: (m) => lines.push(m) }), initBackend('wasm', { logger: (m) => lines.push(m) })]);
    expect(again[0]).toBe(first);
    expect(again[1]).toBe(first);
    expect(lines).toEqual([]);
  });

  it('registers the tfjs-core gradients the CommonJS build leaves out', async () => {
    await initBackend('wasm', { logger: () => undefined });
    for (const k of ['Sum', 'BatchMatMul', 'Sigmoid', 'Tanh', 'SplitV', 'Unpack', 'Concat', 'LeakyRelu']) {
      expect(tf.getGradient(k)).toBeDefined();
    }
  });

  it('RUBATO_TF_BACKEND forces a backend over the preference', async () => {
    process.env.RUBATO_TF_BACKEND = 'cpu';
    const info = await initBackend('wasm', { logger: () => undefined });
    expect(info).toEqual({ name: 'cpu', tfBackend: 'cpu' });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('rejects an unknown RUBATO_TF_BACKEND', async () => {
    process.env.RUBATO_TF_BACKEND = 'gpu';
    await expect(initBackend()).rejects.toThrow(/unknown backend 'gpu'/);
  });

  noNode('RUBATO_TF_BACKEND=node: when tfjs-node cannot start, says why and uses wasm instead (once)', async () => {
    await initBackend('cpu', { logger: () => undefined });
    process.env.RUBATO_TF_BACKEND = 'node';
    const lines: string[] = [];
    const info = await initBackend(undefined, { logger: (m) => lines.push(m) });
    expect(info.name).toBe('wasm');
    expect(lines[0]).toMatch(/^RUBATO_TF_BACKEND=node, but tfjs-node is unavailable \(not installed: Cannot find module '@tensorflow\/tfjs-node'.*\); using wasm instead$/);
    expect(lines.at(-1)).toMatch(/^tfjs backend: wasm \(/);
    // Asked again, the fallback stands: no second attempt, no second line.
    expect(await initBackend(undefined, { logger: (m) => lines.push(m) })).toBe(info);
    expect(lines).toHaveLength(2);
  });

  it('tfjs-node is opt-in: preferring it in code does not try it', async () => {
    await initBackend('wasm', { logger: () => undefined });
    const lines: string[] = [];
    const info = await initBackend('node', { logger: (m) => lines.push(m) });
    expect(info.name).toBe('wasm');
    expect(lines).toEqual([expect.stringMatching(/^tfjs-node is opt-in \(RUBATO_TF_BACKEND=node\); using the default order/)]);
  });

  it('switches back to wasm from cpu, and can turn the fast kernels off and on', async () => {
    await initBackend('cpu', { logger: () => undefined });
    const stock = await initBackend('wasm', { logger: () => undefined, fastKernels: false });
    expect(stock.fastKernels).toEqual([]);
    expect(fastKernelsRegistered()).toBe(false);
    await initBackend('cpu', { logger: () => undefined });
    const fast = await initBackend('wasm', { logger: () => undefined });
    expect(fast.fastKernels!.length).toBeGreaterThan(0);
    expect(tf.tidy(() => Array.from(tf.matMul(tf.tensor2d([1, 2], [1, 2]), tf.tensor2d([3, 4], [1, 2]), false, true).dataSync()))).toEqual([11]);
  });

  it('loads the threaded SIMD binary in Node when threads are requested', async () => {
    if (!(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))) return;
    await initBackend('cpu', { logger: () => undefined });
    const lines: string[] = [];
    const info = await initBackend('wasm', { logger: (m) => lines.push(m), threads: 2 });
    expect(info.wasmVariant).toBe('threaded-simd');
    // Explicit requests may exceed tfjs's default cap of half the logical cores.
    expect(info.threads).toBe(2);
    const got = tf.tidy(() => Array.from(tf.matMul(tf.ones([3, 4]), tf.ones([4, 2])).dataSync()));
    expect(got).toEqual([4, 4, 4, 4, 4, 4]);
    // A product big enough to be split across the pool.
    const big = tf.tidy(() => tf.sum(tf.matMul(tf.ones([256, 64]), tf.ones([64, 128]))).dataSync()[0]);
    expect(big).toBe(256 * 64 * 128);
  });
});
