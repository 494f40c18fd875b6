/**
 * FS-VAE training and inference throughput (npm run bench:train).
 *
 *   node -r @swc-node/register bench/train.ts [--quick] [--steps=N] [--repeats=N] [--infer-repeats=N] [--no-torch]
 *
 * Graph: the paper's FS-VAE at w = 5, d_s = 82, d_n = 6, K = 80, two LSTM
 * layers of 128 units, a 2 x 64 slow encoder, a 2 x 128 decoder, dropout 0.1,
 * MSE + beta KL; Adam. Training runs the same step as trainModel
 * (src/train/step.ts) at batch 512; inference is the user embedding (both
 * encoders, z = mu, sigma) at batch 4096. The machine is shared, so each
 * figure is the median of its repeats, and a `#` line also gives the rate per
 * second of process CPU time, which other jobs disturb less than wall time.
 *
 * The PyTorch peer: when a python3 can import torch (RUBATO_PYTHON if set,
 * else python3, then /usr/bin/python3, where Debian's python3-torch lives),
 * the same graph runs in PyTorch on one thread right after
 * (bench/torch_fsvae.py), and the ratios are printed. --no-torch skips it.
 *
 * Prints `train_samples_per_s N` and `infer_per_s N`; with the peer also
 * `torch_train_samples_per_s N`, `torch_infer_per_s N`,
 * `ratio_train_vs_torch R` and `ratio_infer_vs_torch R` (ours / torch's).
 * RUBATO_LSTM_FUSED=0 runs the LSTM as plain tfjs ops instead of the fused
 * kernels, RUBATO_LSTM_CELL_IMPL=js the fused kernels without SIMD (for A/B).
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/model/backend";
import { lstmCellImpl } from "../src/model/kernels";
import { createFsVae, embed, type FsVaeConfig } from "../src/model/fsvae";
import { parameterCount } from "../src/model/fsvae";
import { Optimizer } from "../src/train/optimizers";
import { trainStep } from "../src/train/step";
import { normals } from "../src/model/random";

const args = process.argv.slice(2);
const QUICK = args.includes("--quick");
const NO_TORCH = args.includes("--no-torch");
const arg = (name: string, dflt: number) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
const STEPS = arg("steps", QUICK ? 5 : 20);
const REPEATS = arg("repeats", QUICK ? 2 : 5);
const INFER_REPEATS = arg("infer-repeats", QUICK ? 3 : 7);

const W = 5;
const D_S = 82;
const D_N = 6;
const K = 80;
const DIM = 80;
const TRAIN_BATCH = 512;
const INFER_BATCH = 4096;

export const BENCH_CONFIG: FsVaeConfig = {
  encoderS: { type: "lstm", window: W, inputDim: D_S, layers: 2, units: 128, activation: "leaky_relu", dropout: 0.1 },
  encoderN: { inputDim: D_N, layers: 2, units: 64, activation: "leaky_relu", dropout: 0.1 },
  latent: { size: K, probabilistic: true, combine: "concat" },
  decoder: { layers: 2, units: 128, activation: "leaky_relu", dropout: 0.1, outputDim: DIM },
  loss: { reconstruction: "mse", variance: 1, beta: 0.5, freeBits: 0, klWarmupSteps: 0 },
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function inputs(n: number, seed: number) {
  // A mix of full windows and left-padded users (1 to 5 real plays).
  const mask = new Float32Array(n * W);
  for (let i = 0; i < n; i++) for (let t = W - 1 - (i % W); t < W; t++) mask[i * W + t] = 1;
  return {
    x_s: tf.tensor3d(normals(n * W * D_S, seed), [n, W, D_S]),
    mask: tf.tensor2d(mask, [n, W]),
    x_n: tf.tensor2d(normals(n * D_N, seed + 1), [n, D_N]),
    y: tf.tensor2d(normals(n * DIM, seed + 2), [n, DIM]),
  };
}

async function main(): Promise<void> {
  const backend = await initBackend(undefined, { logger: (m) => console.log(`# ${m}`) });
  const model = createFsVae(BENCH_CONFIG, 1);
  console.log(
    `# FS-VAE: LSTM(128) x2 over w=${W} x d_s=${D_S}, dense 64 x2 over d_n=${D_N}, K=${K}, decoder 128 x2 -> ${DIM}; ${parameterCount(model).toLocaleString("en-US")} parameters`,
  );
  const lstmPath =
    process.env.RUBATO_LSTM_FUSED === "0" || backend.name !== "wasm" || !backend.fastKernels?.length
      ? "plain tfjs ops"
      : `fused cell kernels (${lstmCellImpl(tf.backend())})`;
  console.log(`# training batch ${TRAIN_BATCH}, inference batch ${INFER_BATCH}; LSTM: ${lstmPath}; node ${process.version}`);

  const optimizer = new Optimizer("adam", 1e-4, model.variables);
  const train = inputs(TRAIN_BATCH, 10);
  const { x_s, mask, x_n, y } = train;
  let step = 0;
  for (let i = 0; i < 3; i++) trainStep(model, optimizer, { x_s, mask, x_n }, y, step++, 7);
  const before = tf.memory().numTensors;
  const rates: number[] = [];
  const cpuRates: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < STEPS; i++) trainStep(model, optimizer, { x_s, mask, x_n }, y, step++, 7);
    const cpu = process.cpuUsage(c0);
    rates.push((STEPS * TRAIN_BATCH) / ((performance.now() - t0) / 1000));
    cpuRates.push((STEPS * TRAIN_BATCH) / ((cpu.user + cpu.system) / 1e6));
  }
  if (tf.memory().numTensors !== before) console.log(`# WARNING: tensor count moved from ${before} to ${tf.memory().numTensors}`);
  tf.dispose(Object.values(train));
  const trainRate = median(rates);
  console.log(`# training: ${rates.map((r) => Math.round(r)).join(", ")} samples/s; per CPU second ${Math.round(median(cpuRates))}`);
  console.log(`train_samples_per_s ${Math.round(trainRate)}`);

  const infer = inputs(INFER_BATCH, 20);
  const run = () => {
    const e = embed(model, { x_s: infer.x_s, mask: infer.mask, x_n: infer.x_n });
    e.mu.dataSync();
    tf.dispose([e.mu, e.sigma!]);
  };
  run();
  const inferRates: number[] = [];
  for (let r = 0; r < INFER_REPEATS; r++) {
    const t0 = performance.now();
    run();
    inferRates.push(INFER_BATCH / ((performance.now() - t0) / 1000));
  }
  tf.dispose(Object.values(infer));
  const inferRate = median(inferRates);
  console.log(`# inference: ${inferRates.map((r) => Math.round(r)).join(", ")} per s`);
  console.log(`infer_per_s ${Math.round(inferRate)}`);
  console.log(`# goals: >= 3000 training samples/s, >= 8000 inferences/s (${backend.name})`);
  if (NO_TORCH) return;
  torchPeer(trainRate, inferRate);
}

/** Runs bench/torch_fsvae.py with the same steps and repeats, and prints its figures and the ratios. */
function torchPeer(trainRate: number, inferRate: number): void {
  // Debian's python3-torch lives in the system interpreter, which a pyenv python3 on PATH hides.
  // RUBATO_PYTHON, when set, is the only interpreter tried.
  const candidates = process.env.RUBATO_PYTHON ? [process.env.RUBATO_PYTHON] : ["python3", "/usr/bin/python3"];
  const python = candidates.find((p) => spawnSync(p, ["-c", "import torch"], { encoding: "utf8" }).status === 0);
  if (!python) {
    console.log("# PyTorch peer skipped: no python3 can import torch (Debian: apt-get install -y python3-torch libopenblas0-pthread)");
    return;
  }
  const script = path.join(__dirname, "torch_fsvae.py");
  const out = spawnSync(python, [script, `--steps=${STEPS}`, `--repeats=${REPEATS}`, `--infer-repeats=${INFER_REPEATS}`], {
    encoding: "utf8",
    env: { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
    timeout: 15 * 60 * 1000,
  });
  if (out.status !== 0) {
    console.log(`# PyTorch peer failed: ${(out.stderr || String(out.error ?? "")).trim().split("\n").pop()}`);
    return;
  }
  process.stdout.write(out.stdout);
  const torchTrain = Number(/^torch_train_samples_per_s (\S+)/m.exec(out.stdout)?.[1]);
  const torchInfer = Number(/^torch_infer_per_s (\S+)/m.exec(out.stdout)?.[1]);
  if (torchTrain > 0) console.log(`ratio_train_vs_torch ${(trainRate / torchTrain).toFixed(2)}`);
  if (torchInfer > 0) console.log(`ratio_infer_vs_torch ${(inferRate / torchInfer).toFixed(2)}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
