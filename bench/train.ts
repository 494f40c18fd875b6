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
 *
 * Then the training loop's own path, from a dataset (batches assembled from a
 * random catalogue and random histories, as trainModel does): one thread
 * (`train_samples_per_s_dataset_1_thread`) and data-parallel on every core
 * (`train_samples_per_s_dataset_N_threads`, src/train/parallel.ts), and, with
 * the peer, PyTorch on 1 and N threads with the best of them as the ratio's base
 * (`ratio_train_threads_vs_torch_best`). --threads=N sets N (default: the cores).
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
import { buildDataset } from "../src/features/dataset";
import type { Catalogue, UserHistory } from "../src/features/history";
import { SpecSchema } from "../src/spec/schema";
import { BatchBuilder, disposeBatch, epochOrder } from "../src/train/batches";
import { DataParallel, resolveThreads } from "../src/train/parallel";
import { recorder } from "./record";

const args = process.argv.slice(2);
const QUICK = args.includes("--quick");
const NO_TORCH = args.includes("--no-torch");
const arg = (name: string, dflt: number) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
const STEPS = arg("steps", QUICK ? 5 : 20);
const REPEATS = arg("repeats", QUICK ? 2 : 5);
const INFER_REPEATS = arg("infer-repeats", QUICK ? 3 : 7);
const THREADS = arg("threads", resolveThreads("auto"));
const rec = recorder("train", args);

const W = 5;
const D_S = 82;
const D_N = 6;
const K = 80;
const DIM = 80;
const TRAIN_BATCH = arg("batch", 512);
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
  const backend = await initBackend(undefined, { logger: (m) => rec.note(m) });
  const model = createFsVae(BENCH_CONFIG, 1);
  rec.note(
    `FS-VAE: LSTM(128) x2 over w=${W} x d_s=${D_S}, dense 64 x2 over d_n=${D_N}, K=${K}, decoder 128 x2 -> ${DIM}; ${parameterCount(model).toLocaleString("en-US")} parameters`,
  );
  const lstmPath =
    process.env.RUBATO_LSTM_FUSED === "0" || backend.name !== "wasm" || !backend.fastKernels?.length
      ? "plain tfjs ops"
      : `fused cell kernels (${lstmCellImpl(tf.backend())})`;
  rec.note(`training batch ${TRAIN_BATCH}, inference batch ${INFER_BATCH}; LSTM: ${lstmPath}; node ${process.version}`);

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
  rec.note(`training: ${rates.map((r) => Math.round(r)).join(", ")} samples/s; per CPU second ${Math.round(median(cpuRates))}`);
  rec.figure("train_samples_per_s", trainRate);

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
  rec.note(`inference: ${inferRates.map((r) => Math.round(r)).join(", ")} per s`);
  rec.figure("infer_per_s", inferRate);
  rec.note(`goals: >= 3000 training samples/s, >= 8000 inferences/s (${backend.name})`);
  const torch = NO_TORCH ? null : torchPeer(trainRate, inferRate);

  const dataset = await benchDataset();
  const rate1 = await datasetRate(dataset, 1, backend.name);
  rec.figure("train_samples_per_s_dataset_1_thread", rate1);
  if (THREADS > 1) {
    const rateN = await datasetRate(dataset, THREADS, backend.name);
    rec.figure(`train_samples_per_s_dataset_${THREADS}_threads`, rateN);
    rec.figure("ratio_threads_vs_1_thread", rateN / rate1, 2);
    if (torch) {
      const torchN = torchTrain(THREADS);
      const best = Math.max(torch.train, torchN ?? 0);
      if (torchN) rec.figure(`torch_train_samples_per_s_${THREADS}_threads`, torchN);
      rec.figure("ratio_train_threads_vs_torch_best", rateN / best, 2);
    }
  }
}

/**
 * A dataset of the bench graph's shape (d_s 82 = an 80-d embedding, skipped and
 * liked; d_n 6): random embeddings and histories, 400 users x 250 plays.
 */
async function benchDataset() {
  const tracks = 5000;
  const catalogue: Catalogue = {
    externalIds: Array.from({ length: tracks }, (_, i) => `t${i}`),
    trackIds: Int32Array.from({ length: tracks }, (_, i) => i + 1),
    dim: DIM,
    embeddings: normals(tracks * DIM, 3),
    hasEmbedding: new Uint8Array(tracks).fill(1),
  };
  const draws = normals(400 * 250 * 2, 4);
  const histories: UserHistory[] = Array.from({ length: 400 }, (_, u) => {
    const at = (i: number) => draws[(u * 250 + i) * 2];
    return {
      userId: u + 1,
      userExternalId: `u${u}`,
      trackIndex: Int32Array.from({ length: 250 }, (_, i) => Math.floor(Math.abs(at(i)) * 1e4) % tracks),
      playedAt: Float64Array.from({ length: 250 }, (_, i) => Date.UTC(2026, 0, 1) + i * 240_000),
      flags: Uint8Array.from({ length: 250 }, (_, i) => (draws[(u * 250 + i) * 2 + 1] > 1 ? 1 : 0)),
    };
  });
  const spec = SpecSchema.parse({
    name: "bench",
    type: "fs-vae",
    features: { fast: { window: W, per_play: ["track_embedding", "skipped", "liked"] } },
    training: { batch_size: TRAIN_BATCH, split: { train: 1, validation: 0, test: 0 } },
  });
  return buildDataset(histories, catalogue, spec);
}

/** Training samples/s of trainModel's loop (batch assembly included) on `threads` threads. */
async function datasetRate(dataset: Awaited<ReturnType<typeof benchDataset>>, threads: number, backend: string): Promise<number> {
  const model = createFsVae(BENCH_CONFIG, 1);
  const optimizer = new Optimizer("adam", 1e-4, model.variables);
  const order = epochOrder(dataset.rows.train, 7, 0);
  const builder = new BatchBuilder(dataset, TRAIN_BATCH);
  const parallel =
    threads > 1 ? await DataParallel.start(model, dataset, { threads, batchSize: TRAIN_BATCH, seed: 7, backend: backend as "wasm" }) : null;
  let step = 0;
  const once = async () => {
    const from = (step * TRAIN_BATCH) % (order.length - TRAIN_BATCH);
    if (parallel) await parallel.step(order, from, from + TRAIN_BATCH, step, 7, optimizer);
    else {
      const b = builder.build(order, from, from + TRAIN_BATCH);
      trainStep(model, optimizer, b.input, b.y, step, 7);
      disposeBatch(b);
    }
    step++;
  };
  try {
    for (let i = 0; i < 3; i++) await once();
    const rates: number[] = [];
    for (let r = 0; r < REPEATS; r++) {
      const t0 = performance.now();
      for (let i = 0; i < STEPS; i++) await once();
      rates.push((STEPS * TRAIN_BATCH) / ((performance.now() - t0) / 1000));
    }
    rec.note(`dataset path, ${threads} thread${threads > 1 ? "s" : ""}: ${rates.map((r) => Math.round(r)).join(", ")} samples/s`);
    return median(rates);
  } finally {
    await parallel?.close();
  }
}

function torchPython(): string | undefined {
  // Debian's python3-torch lives in the system interpreter, which a pyenv python3 on PATH hides.
  // RUBATO_PYTHON, when set, is the only interpreter tried.
  const candidates = process.env.RUBATO_PYTHON ? [process.env.RUBATO_PYTHON] : ["python3", "/usr/bin/python3"];
  return candidates.find((p) => spawnSync(p, ["-c", "import torch"], { encoding: "utf8" }).status === 0);
}

/** bench/torch_fsvae.py on `threads` threads with the same steps and repeats; its stdout, or null. */
function runTorch(threads: number, extra: string[] = []): string | null {
  const python = torchPython();
  if (!python) {
    rec.note("PyTorch peer skipped: no python3 can import torch (Debian: apt-get install -y python3-torch libopenblas0-pthread)");
    return null;
  }
  const script = path.join(__dirname, "torch_fsvae.py");
  const n = String(threads);
  const out = spawnSync(python, [script, `--steps=${STEPS}`, `--repeats=${REPEATS}`, `--infer-repeats=${INFER_REPEATS}`, `--threads=${n}`, ...extra], {
    encoding: "utf8",
    env: { ...process.env, OMP_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, MKL_NUM_THREADS: n },
    timeout: 15 * 60 * 1000,
  });
  if (out.status !== 0) {
    rec.note(`PyTorch peer failed: ${(out.stderr || String(out.error ?? "")).trim().split("\n").pop()}`);
    return null;
  }
  return out.stdout;
}

/** PyTorch on one thread: prints its figures and the ratios, returns its rates. */
function torchPeer(trainRate: number, inferRate: number): { train: number; infer: number } | null {
  const out = runTorch(1);
  if (!out) return null;
  keepTorchLines(out);
  const train = Number(/^torch_train_samples_per_s (\S+)/m.exec(out)?.[1]);
  const infer = Number(/^torch_infer_per_s (\S+)/m.exec(out)?.[1]);
  if (train > 0) rec.figure("ratio_train_vs_torch", trainRate / train, 2);
  if (infer > 0) rec.figure("ratio_infer_vs_torch", inferRate / infer, 2);
  return train > 0 ? { train, infer } : null;
}

/** The peer's `# ...` lines as notes and (unless figures is false) its `name value` lines as figures. */
function keepTorchLines(out: string, figures = true): void {
  for (const line of out.split("\n")) {
    const figure = /^(torch_\w+) (\S+)$/.exec(line);
    if (line.startsWith("# ")) rec.note(line.slice(2));
    else if (figure && figures) rec.figure(figure[1], Number(figure[2]), figure[2].includes(".") ? 2 : 0);
  }
}

/** PyTorch's training rate on `threads` threads (training only). */
function torchTrain(threads: number): number | null {
  const out = runTorch(threads, ["--train-only"]);
  if (!out) return null;
  keepTorchLines(out, false);
  const train = Number(/^torch_train_samples_per_s (\S+)/m.exec(out)?.[1]);
  return train > 0 ? train : null;
}

if (require.main === module) {
  main()
    .then(() => rec.save())
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
