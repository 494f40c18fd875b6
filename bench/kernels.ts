/**
 * Training / inference throughput of the hand-written LSTM on wasm with the
 * stock kernels, wasm with our fast kernels, and the cpu backend; plus
 * micro-benchmarks of each overridden kernel (stock vs fast).
 *
 *   node -r @swc-node/register bench/kernels.ts [--quick] [--profile] [--only=wasm_fast,cpu] [--threads=N]
 *
 * --threads=N loads the threaded-SIMD wasm binary with N XNNPACK threads
 * (default: whatever initBackend picks; one thread on a 2-core machine).
 *
 * Model: 2-layer LSTM(128) over w = 5 steps of 82-dim input, then a dense
 * head 128 -> 80 (next-track embedding), MSE loss, Adam; batch 512 for
 * training, 4096 for inference. Numbers are medians over repeats, because
 * the machine is shared.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/model/backend';
import { registerFastKernels, runStockKernel, unregisterFastKernels } from '../src/model/kernels';
import { createLstmParams, lstm, recurrentVariables } from '../src/model/lstm';

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const PROFILE = args.includes('--profile');
const ONLY = args.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const THREADS = args.find((a) => a.startsWith('--threads='))?.slice(10);

const W = 5;
const D = 82;
const H = 128;
const OUT = 80;
const TRAIN_BATCH = 512;
const INFER_BATCH = 4096;

type Variant = 'wasm_stock' | 'wasm_fast' | 'cpu';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function seconds(f: () => void): number {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function makeModel() {
  const params = createLstmParams(D, H, 2, 1);
  const dense = tf.variable(tf.randomUniform([H, OUT], -0.1, 0.1, 'float32', 2));
  const bias = tf.variable(tf.zeros([OUT]));
  const forward = (x: tf.Tensor3D, mask: tf.Tensor2D) => {
    const h = lstm(params, x, { mask, outputActivation: 'leakyRelu' }).last;
    return tf.add(tf.matMul(h, dense), bias) as tf.Tensor2D;
  };
  const vars = [...recurrentVariables(params), dense, bias];
  return { forward, vars, dispose: () => tf.dispose(vars) };
}

function batch(n: number) {
  return {
    x: tf.randomNormal([n, W, D], 0, 1, 'float32', 3) as tf.Tensor3D,
    // A mix of full and left-padded users.
    mask: tf.tidy(() => tf.cast(tf.greaterEqual(tf.tile(tf.reshape(tf.range(0, W), [1, W]), [n, 1]), tf.randomUniform([n, 1], 0, 3, 'int32', 4)), 'float32')) as tf.Tensor2D,
    y: tf.randomNormal([n, OUT], 0, 1, 'float32', 5) as tf.Tensor2D,
  };
}

function trainThroughput(steps: number, repeats: number): number {
  const m = makeModel();
  const { x, mask, y } = batch(TRAIN_BATCH);
  const opt = tf.train.adam(1e-3);
  const step = () => tf.dispose(opt.minimize(() => tf.losses.meanSquaredError(y, m.forward(x, mask)) as tf.Scalar, true, m.vars) ?? []);
  step();
  step();
  const rates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t = seconds(() => {
      for (let i = 0; i < steps; i++) step();
    });
    rates.push((steps * TRAIN_BATCH) / t);
  }
  opt.dispose();
  tf.dispose([x, mask, y]);
  m.dispose();
  return median(rates);
}

function inferThroughput(iters: number, repeats: number): number {
  const m = makeModel();
  const { x, mask, y } = batch(INFER_BATCH);
  const run = () => tf.tidy(() => m.forward(x, mask).dataSync());
  run();
  const rates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t = seconds(() => {
      for (let i = 0; i < iters; i++) run();
    });
    rates.push((iters * INFER_BATCH) / t);
  }
  tf.dispose([x, mask, y]);
  m.dispose();
  return median(rates);
}

/** Loss and gradients of the training model on one batch, on the active backend. */
function gradients(): { loss: number; grads: Float32Array[] } {
  const m = makeModel();
  const { x, mask, y } = batch(TRAIN_BATCH);
  const { value, grads } = tf.variableGrads(() => tf.losses.meanSquaredError(y, m.forward(x, mask)) as tf.Scalar, m.vars);
  const out = { loss: value.dataSync()[0], grads: m.vars.map((v) => grads[v.name].dataSync() as Float32Array) };
  tf.dispose([value, ...Object.values(grads), x, mask, y]);
  m.dispose();
  return out;
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((g, i) => g.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}

/** Wraps every registered wasm kernel to attribute time per kernel name. */
function withKernelProfile(f: () => void): Map<string, { ms: number; calls: number }> {
  const stats = new Map<string, { ms: number; calls: number }>();
  const originals = tf.getKernelsForBackend('wasm');
  for (const config of originals) {
    tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel({
      ...config,
      kernelFunc: (p) => {
        const t0 = process.hrtime.bigint();
        const out = config.kernelFunc(p);
        const s = stats.get(config.kernelName) ?? { ms: 0, calls: 0 };
        s.ms += Number(process.hrtime.bigint() - t0) / 1e6;
        s.calls++;
        stats.set(config.kernelName, s);
        return out;
      },
    });
  }
  try {
    f();
  } finally {
    for (const config of originals) {
      tf.unregisterKernel(config.kernelName, 'wasm');
      tf.registerKernel(config);
    }
  }
  return stats;
}

function printProfile(label: string, stats: Map<string, { ms: number; calls: number }>): void {
  const total = [...stats.values()].reduce((a, s) => a + s.ms, 0);
  console.log(`# kernel profile (${label}): ${total.toFixed(0)} ms in kernels`);
  for (const [name, s] of [...stats].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
    console.log(`#   ${name.padEnd(16)} ${s.ms.toFixed(1).padStart(8)} ms ${String(s.calls).padStart(6)} calls ${((100 * s.ms) / total).toFixed(1).padStart(5)}%`);
  }
}

function profileInference(label: string): void {
  const m = makeModel();
  const { x, mask, y } = batch(INFER_BATCH);
  const run = () => tf.tidy(() => m.forward(x, mask).dataSync());
  run();
  printProfile(`${label}, inference`, withKernelProfile(() => [0, 1].forEach(run)));
  tf.dispose([x, mask, y]);
  m.dispose();
}

function profileTrainStep(label: string): void {
  const m = makeModel();
  const { x, mask, y } = batch(TRAIN_BATCH);
  const opt = tf.train.adam(1e-3);
  const step = () => tf.dispose(opt.minimize(() => tf.losses.meanSquaredError(y, m.forward(x, mask)) as tf.Scalar, true, m.vars) ?? []);
  step();
  printProfile(label, withKernelProfile(() => [0, 1, 2].forEach(step)));
  opt.dispose();
  tf.dispose([x, mask, y]);
  m.dispose();
}

/** Median seconds per call of `f`, after one warm-up call. */
function perCall(f: () => void, n: number): number {
  f();
  const ts: number[] = [];
  for (let i = 0; i < n; i++) ts.push(seconds(f));
  return median(ts);
}

function microBenchmarks(): void {
  const n = QUICK ? 3 : 7;
  const report = (name: string, stock: number, fast: number, unit: string, scale: number) =>
    console.log(`${name}_stock ${(scale / stock).toFixed(2)}\n${name}_fast ${(scale / fast).toFixed(2)}   # ${unit}, x${(stock / fast).toFixed(1)}`);
  const disposeAll = (t: tf.Tensor | tf.Tensor[]) => tf.dispose(t);
  tf.tidy(() => {
    // Backward products of the first LSTM layer at batch 512: [512,210]x[210,512].
    const [M, K, N] = [TRAIN_BATCH, D + H, 4 * H];
    const flops = (2 * M * K * N) / 1e9;
    const a = tf.randomNormal([M, K]);
    const b = tf.randomNormal([K, N]);
    const aT = tf.transpose(a);
    const bT = tf.transpose(b);
    for (const [ta, tb, A, B] of [
      [true, false, aT, b],
      [false, true, a, bT],
    ] as const) {
      const stock = perCall(() => disposeAll(runStockKernel('BatchMatMul', { a: A, b: B }, { transposeA: ta, transposeB: tb })), QUICK ? 1 : 3);
      const fast = perCall(() => tf.matMul(A, B, ta, tb).dispose(), n);
      report(`matmul_${ta ? 'transposeA' : 'transposeB'}_gflops`, stock, fast, 'GFLOP/s', flops);
    }
    const plain = perCall(() => tf.matMul(a, b).dispose(), n);
    console.log(`matmul_plain_gflops ${(flops / plain).toFixed(2)}   # GFLOP/s, stock XNNPACK path (reference)`);

    const big = tf.randomNormal([2048, 512]);
    const mb = (2048 * 512 * 4) / 1e6;
    report('transpose_mb_per_s', perCall(() => disposeAll(runStockKernel('Transpose', { x: big }, { perm: [1, 0] })), n), perCall(() => tf.transpose(big).dispose(), n), 'MB/s', mb);
    report('sum_axis0_mb_per_s', perCall(() => disposeAll(runStockKernel('Sum', { x: big }, { axis: [0], keepDims: false })), n), perCall(() => tf.sum(big, 0).dispose(), n), 'MB/s', mb);
    report('splitv_4_mb_per_s', perCall(() => disposeAll(runStockKernel('SplitV', { x: big }, { numOrSizeSplits: 4, axis: 1 })), n), perCall(() => disposeAll(tf.split(big, 4, 1)), n), 'MB/s', mb);
    report('slice_rows_mb_per_s', perCall(() => disposeAll(runStockKernel('Slice', { x: big }, { begin: [0, 0], size: [1024, 512] })), n), perCall(() => tf.slice(big, [0, 0], [1024, 512]).dispose(), n), 'MB/s (output)', mb / 2);
    const seq = tf.randomNormal([INFER_BATCH, W, D]);
    const mbSeq = (INFER_BATCH * W * D * 4) / 1e6;
    report('unpack_axis1_mb_per_s', perCall(() => disposeAll(runStockKernel('Unpack', { value: seq }, { axis: 1 })), n), perCall(() => disposeAll(tf.unstack(seq, 1)), n), 'MB/s', mbSeq);
    const act = tf.mul(tf.randomNormal([INFER_BATCH, H]), 2);
    const mbAct = (INFER_BATCH * H * 4) / 1e6;
    report('tanh_mb_per_s', perCall(() => disposeAll(runStockKernel('Tanh', { x: act }, {})), n), perCall(() => tf.tanh(act).dispose(), n), 'MB/s', mbAct);
    report('identity_mb_per_s', perCall(() => disposeAll(runStockKernel('Identity', { x: big }, {})), n), perCall(() => tf.clone(big).dispose(), n), 'MB/s', mb);
  });
}

async function main(): Promise<void> {
  const want = (v: Variant) => ONLY == null || ONLY.includes(v);
  const steps = QUICK ? 2 : 5;
  const repeats = QUICK ? 1 : 3;
  const info = await initBackend('wasm', {
    logger: (m) => console.log(`# ${m}`),
    threads: THREADS ? Number(THREADS) : undefined,
  });
  console.log(`# batch ${TRAIN_BATCH} (train) / ${INFER_BATCH} (inference), LSTM(${H}) x2 over w=${W} steps of ${D}-d input, dense ${H}->${OUT}`);
  console.log(`# wasm ${info.wasmVariant}, ${info.threads} thread(s); node ${process.version}`);

  let fastGrads: { loss: number; grads: Float32Array[] } | null = null;
  if (want('wasm_fast')) {
    registerFastKernels();
    fastGrads = gradients();
    console.log(`lstm_train_samples_per_s_wasm_fast ${trainThroughput(steps, repeats).toFixed(0)}`);
    console.log(`lstm_infer_samples_per_s_wasm_fast ${inferThroughput(steps, repeats).toFixed(0)}`);
    if (PROFILE) profileTrainStep('wasm fast');
    if (PROFILE) profileInference('wasm fast');
    microBenchmarks();
  }
  if (want('wasm_stock')) {
    unregisterFastKernels();
    console.log(`lstm_train_samples_per_s_wasm_stock ${trainThroughput(QUICK ? 1 : 2, repeats).toFixed(0)}`);
    console.log(`lstm_infer_samples_per_s_wasm_stock ${inferThroughput(QUICK ? 1 : 2, repeats).toFixed(0)}`);
    if (PROFILE) profileTrainStep('wasm stock');
    if (PROFILE) profileInference('wasm stock');
    registerFastKernels();
  }
  if (want('cpu')) {
    await initBackend('cpu', { logger: () => undefined });
    if (fastGrads) {
      const cpuGrads = gradients();
      const scale = Math.max(...cpuGrads.grads.map((g) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
      console.log(`grad_max_abs_diff_wasm_fast_vs_cpu ${maxAbsDiff(fastGrads.grads, cpuGrads.grads).toExponential(2)}   # largest |grad| ${scale.toExponential(2)}`);
      console.log(`loss_abs_diff_wasm_fast_vs_cpu ${Math.abs(fastGrads.loss - cpuGrads.loss).toExponential(2)}`);
    }
    console.log(`lstm_train_samples_per_s_cpu ${trainThroughput(1, QUICK ? 1 : 2).toFixed(0)}`);
    console.log(`lstm_infer_samples_per_s_cpu ${inferThroughput(1, QUICK ? 1 : 2).toFixed(0)}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
