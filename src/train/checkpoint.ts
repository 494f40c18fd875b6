/**
 * Training checkpoints as one Buffer: weights, optimizer state (Adam's
 * moments and step), the best weights so far, counters (epoch, batch, step)
 * and everything else the loop needs to continue exactly where it stopped.
 * Randomness is derived from (seed, epoch, step), so the counters are the
 * RNG state.
 *
 * Layout: "RUBATOCK" | u32 format version | u32 header bytes | header (JSON,
 * UTF-8) | zero padding to 4 bytes | float32 little-endian tensor data, in
 * the order of header.tensors.
 */
import { endianness } from "node:os";
import type { OptimizerKind, OptimizerState } from "./optimizers";

const MAGIC = "RUBATOCK";
const LITTLE_ENDIAN = endianness() === "LE";
export const CHECKPOINT_VERSION = 1;

export interface SavedTensor {
  shape: number[];
  values: Float32Array;
}

export type TensorGroup = Map<string, SavedTensor>;

/** The loop's state besides tensors; plain JSON (non-finite numbers survive). */
export interface LoopState {
  /** Must equal the resuming run's: graph, seed, optimizer, batch size, data. */
  fingerprint: string;
  /** 0-based epoch in progress, or the next to start when batch = 0. */
  epoch: number;
  /** Next batch of that epoch. */
  batch: number;
  /** Optimizer steps done. */
  step: number;
  /** Seed of every random stream (init, shuffle, eps, dropout); with epoch and step it is the RNG state. */
  seed: number;
  /** Sums over the epoch in progress. */
  accumulators: { loss: number; reconstruction: number; kl: number; samples: number; seconds: number };
  earlyStopping: { bestLoss: number; bestEpoch: number; badEpochs: number };
  /** Training ended (completed or early-stopped); resuming only evaluates, unless a completed run is given more epochs. */
  finished: boolean;
  status: "running" | "completed" | "early_stopped" | "cancelled";
  /** Per-epoch reports so far (EpochProgress objects). */
  history: unknown[];
}

export interface Checkpoint {
  loop: LoopState;
  weights: TensorGroup;
  best: TensorGroup | null;
  optimizer: OptimizerState;
  /** The tfjs backend that trained it (node, wasm, cpu); absent in older checkpoints. */
  backend?: string;
}

interface Header {
  loop: LoopState;
  backend?: string;
  optimizer: { kind: OptimizerKind; learningRate: number; step: number };
  tensors: { group: "weights" | "best" | "optimizer"; key: string; shape: number[]; length: number }[];
}

const replacer = (_k: string, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? { $number: String(v) } : v);
const reviver = (_k: string, v: unknown) =>
  v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && "$number" in v
    ? Number((v as { $number: string }).$number)
    : v;

export function serializeCheckpoint(c: Checkpoint): Buffer {
  const header: Header = {
    loop: c.loop,
    ...(c.backend ? { backend: c.backend } : {}),
    optimizer: { kind: c.optimizer.kind, learningRate: c.optimizer.learningRate, step: c.optimizer.step },
    tensors: [],
  };
  const blobs: Float32Array[] = [];
  const add = (group: Header["tensors"][number]["group"], tensors: TensorGroup) => {
    for (const [key, t] of tensors) {
      header.tensors.push({ group, key, shape: t.shape, length: t.values.length });
      blobs.push(t.values);
    }
  };
  add("weights", c.weights);
  if (c.best) add("best", c.best);
  add("optimizer", c.optimizer.slots);
  const json = Buffer.from(JSON.stringify(header, replacer), "utf8");
  const start = Math.ceil((16 + json.length) / 4) * 4;
  const total = start + blobs.reduce((n, b) => n + b.length * 4, 0);
  const out = Buffer.alloc(total);
  out.write(MAGIC, 0, "latin1");
  out.writeUInt32LE(CHECKPOINT_VERSION, 8);
  out.writeUInt32LE(json.length, 12);
  json.copy(out, 16);
  let at = start;
  for (const b of blobs) {
    if (LITTLE_ENDIAN) {
      Buffer.from(b.buffer, b.byteOffset, b.byteLength).copy(out, at);
      at += b.byteLength;
    } else for (let i = 0; i < b.length; i++, at += 4) out.writeFloatLE(b[i], at);
  }
  return out;
}

export function deserializeCheckpoint(buf: Buffer): Checkpoint {
  if (buf.length < 16 || buf.toString("latin1", 0, 8) !== MAGIC) throw new Error("not a Rubato training checkpoint");
  const version = buf.readUInt32LE(8);
  if (version !== CHECKPOINT_VERSION) throw new Error(`checkpoint format ${version} is not supported (expected ${CHECKPOINT_VERSION})`);
  const length = buf.readUInt32LE(12);
  const header = JSON.parse(buf.toString("utf8", 16, 16 + length), reviver) as Header;
  let at = Math.ceil((16 + length) / 4) * 4;
  const groups = { weights: new Map() as TensorGroup, best: new Map() as TensorGroup, optimizer: new Map() as TensorGroup };
  let hasBest = false;
  for (const t of header.tensors) {
    if (at + t.length * 4 > buf.length) throw new Error("checkpoint is truncated");
    const values = new Float32Array(t.length);
    if (LITTLE_ENDIAN) {
      buf.copy(Buffer.from(values.buffer), 0, at, at + t.length * 4);
      at += t.length * 4;
    } else for (let i = 0; i < t.length; i++, at += 4) values[i] = buf.readFloatLE(at);
    groups[t.group].set(t.key, { shape: t.shape, values });
    if (t.group === "best") hasBest = true;
  }
  return {
    loop: header.loop,
    weights: groups.weights,
    best: hasBest ? groups.best : null,
    optimizer: { ...header.optimizer, slots: groups.optimizer },
    ...(header.backend ? { backend: header.backend } : {}),
  };
}

/**
 * Refuses to resume a checkpoint made on another tfjs backend: their numerics differ
 * (kernels, summation order, rounding), so the resumed run would match neither an
 * uninterrupted run on the old backend nor one on the new. `force` (default: env
 * RUBATO_RESUME_ANY_BACKEND=1) resumes anyway and logs why that is not exact.
 * A checkpoint that does not say (older ones) resumes anywhere.
 */
export function checkResumeBackend(
  saved: string | undefined,
  current: string,
  options: { force?: boolean; log?: (message: string) => void } = {},
): void {
  if (!saved || saved === current) return;
  const why =
    `the checkpoint was made on the ${saved} tfjs backend and this process trains on ${current}; ` +
    `their numerics differ, so the resumed run would not match an uninterrupted one`;
  const force = options.force ?? ["1", "true", "yes", "on"].includes((process.env.RUBATO_RESUME_ANY_BACKEND ?? "").toLowerCase());
  if (!force) {
    throw new Error(`${why}. Resume it with RUBATO_TF_BACKEND=${saved}, or set RUBATO_RESUME_ANY_BACKEND=1 to resume on ${current} anyway`);
  }
  options.log?.(`resuming on another backend (RUBATO_RESUME_ANY_BACKEND): ${why}`);
}
