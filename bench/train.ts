/**
 * FS-VAE training and inference throughput (npm run bench:train).
 *
 *   node -r @swc-node/register bench/train.ts [--quick] [--steps=N] [--repeats=N] [--torch]
 *
 * Graph: the paper's FS-VAE at w = 5, d_s = 82, d_n = 6, K = 80, two LSTM
 * layers of 128 units, a 2 x 64 slow encoder, a 2 x 128 decoder, dropout 0.1,
 * MSE + beta KL; Adam. Training runs the same step as trainModel
 * (src/train/step.ts) at batch 512; inference is the user embedding (both
 * encoders, z = mu, sigma) at batch 4096. Medians over repeats: the machine
 * is shared. With --torch (or when python3 can import torch) the same graph
 * runs in PyTorch on one thread (bench/torch_fsvae.py) for comparison.
 *
 * Prints `train_samples_per_s N` and `infer_per_s N`.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../src/model/backend";
import { createFsVae, embed, type FsVaeConfig } from "../src/model/fsvae";
import { parameterCount } from "../src/model/fsvae";
import { Optimizer } from "../src/train/optimizers";
import { trainStep } from "../src/train/step";
import { normals } from "../src/model/random";

const args = process.argv.slice(2);
const QUICK = args.includes("--quick");
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
  console.log(`# training batch ${TRAIN_BATCH}, inference batch ${INFER_BATCH}; node ${process.version}`);

  const optimizer = new Optimizer("adam", 1e-4, model.variables);
  const train = inputs(TRAIN_BATCH, 10);
  const { x_s, mask, x_n, y } = train;
  let step = 0;
  for (let i = 0; i < 3; i++) trainStep(model, optimizer, { x_s, mask, x_n }, y, step++, 7);
  const before = tf.memory().numTensors;
  const rates: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < STEPS; i++) trainStep(model, optimizer, { x_s, mask, x_n }, y, step++, 7);
    rates.push((STEPS * TRAIN_BATCH) / ((performance.now() - t0) / 1000));
  }
  if (tf.memory().numTensors !== before) console.log(`# WARNING: tensor count moved from ${before} to ${tf.memory().numTensors}`);
  tf.dispose(Object.values(train));
  const trainRate = median(rates);
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
  console.log(`infer_per_s ${Math.round(inferRate)}`);
  console.log(`# goals: >= 3000 training samples/s, >= 8000 inferences/s (${backend.name})`);

  // Debian's python3-torch lives in the system interpreter, which a pyenv python3 on PATH hides.
  const python = [process.env.RUBATO_PYTHON, "python3", "/usr/bin/python3"].find(
    (p) => p && spawnSync(p, ["-c", "import torch"], { encoding: "utf8" }).status === 0,
  );
  if (!python) {
    console.log("# PyTorch comparison skipped: no python3 can import torch (Debian: apt-get install -y python3-torch)");
    return;
  }
  const script = path.join(__dirname, "torch_fsvae.py");
  const out = spawnSync(python, [script, `--steps=${STEPS}`, `--repeats=${REPEATS}`, `--infer-repeats=${INFER_REPEATS}`], {
    encoding: "utf8",
    env: { ...process.env, OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" },
  });
  if (out.status !== 0) {
    console.log(`# PyTorch comparison failed: ${out.stderr.trim().split("\n").pop()}`);
    return;
  }
  process.stdout.write(out.stdout);
  const torchTrain = Number(/torch_train_samples_per_s (\S+)/.exec(out.stdout)?.[1]);
  const torchInfer = Number(/torch_infer_per_s (\S+)/.exec(out.stdout)?.[1]);
  if (torchTrain > 0) console.log(`train_ratio_tfjs_over_torch ${(trainRate / torchTrain).toFixed(2)}`);
  if (torchInfer > 0) console.log(`infer_ratio_tfjs_over_torch ${(inferRate / torchInfer).toFixed(2)}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
