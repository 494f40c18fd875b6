/**
 * How much memory a run of a spec needs, estimated from the spec alone (and
 * the catalogue's embedding width and the store's play count, when known),
 * against a budget: `rubato validate` and `startTraining` refuse a spec whose
 * estimate exceeds it, before it is queued, instead of a run (or the server
 * with it) running out of memory later. Pure: the budget is passed in
 * (memoryBudget reads the machine and RUBATO_MEMORY_BUDGET).
 *
 * The estimate is deliberately coarse: what grows with the spec's sizes, not
 * an allocator's exact bookkeeping.
 */
import os from "node:os";
import { specDimensions } from "./dimensions";
import { CONTEXT_SIGNALS, perPlayWidth } from "./vocabulary";
import type { SpecError } from "./errors";
import type { ModelSpec, ModelType } from "./schema";

const FLOAT = 4;

/** Plays per stored prefix sum of the bag of plays (src/features/bag.ts's BAG_BLOCK, which reads it from here). */
export const BAG_BLOCK = 64;

/**
 * Bytes the training dataset (src/features/dataset.ts) holds per play: the
 * play's track row, time and flags (4 + 8 + 1), its prediction point's target
 * row, user, position, split and place in a split's row list (4 + 4 + 4 + 1 +
 * 4), and x_n (4 per slow feature); plus 8 bytes a user, not counted here.
 * test/features/dataset.test.ts holds a built dataset to it.
 */
export function bytesPerPlay(slowDim: number): number {
  return 13 + 17 + 4 * slowDim;
}

/** Optimizer state per parameter, in copies of the parameters: Adam keeps two moments, RMSprop one. */
const OPTIMIZER_COPIES: Record<ModelSpec["training"]["optimizer"], number> = { adam: 2, rmsprop: 1, sgd: 0 };

/**
 * Floats a recurrent step keeps per unit for the backward pass: each gate's
 * pre-activation, activation and product (3 per gate) plus the cell and
 * hidden state.
 */
const recurrentFloatsPerUnit = (gates: number) => 3 * gates + 2;
/** A dense layer keeps its pre-activation, its activation and its dropout output. */
const DENSE_FLOATS_PER_UNIT = 3;
/** The backward pass holds a gradient for each kept activation while it runs. */
const BACKWARD_FACTOR = 2;

export interface MemoryEstimate {
  /** All of the below, in bytes. */
  total: number;
  params: number;
  /** Weights, their gradients, and the optimizer's state (Adam: 2 × the weights); 3 more copies per data-parallel helper thread. */
  parameterBytes: number;
  /** One batch's activations, kept for the backward pass, and their gradients. */
  activationBytes: number;
  /** The training data: `bytesPerPlay` × the store's plays (0 when the count is unknown). */
  datasetBytes: number;
  events: number | null;
  /** The spec key the largest part grows with, for the error's path. */
  largest: { part: "parameters" | "activations" | "dataset"; path: string };
}

export interface MemoryContext {
  /** The catalogue's embedding width (80 when the store has none yet). */
  embeddingDim: number;
  /** Plays in the store, when known. */
  events?: number | null;
}

/** Parameters of a dense stack; returns [params, output width]. */
function denseStack(inDim: number, layers: number, units: number): [number, number] {
  let params = 0;
  for (let l = 0; l < layers; l++) params += (l === 0 ? inDim : units) * units + units;
  return [params, layers > 0 ? units : inDim];
}

/**
 * A learned type's parameters (in groups named by the spec path that sizes them), activations per example,
 * and bytes per play its inputs add to the dataset (e.g. vae-cf's prefix sums of the bag of plays).
 */
type NetworkEstimate = (
  spec: ModelSpec,
  dims: ReturnType<typeof specDimensions>,
) => { groups: { path: string; params: number }[]; floats: number; datasetBytesPerPlay?: number };

function fsVaeNetwork(spec: ModelSpec, dims: ReturnType<typeof specDimensions>): ReturnType<NetworkEstimate> {
  const K = spec.latent.size;
  const heads = spec.latent.probabilistic ? 2 : 1;
  const groups: { path: string; params: number }[] = [];
  let floats = 0; // activations of one example
  const fast = spec.features.fast.enabled ? spec.encoders.fast : null;
  if (fast) {
    const w = spec.features.fast.window;
    let params = 0;
    let width: number;
    floats += w * (dims.fastStep + 1);
    if (fast.type === "mean") {
      [params, width] = denseStack(dims.fastStep, fast.layers, fast.units);
      floats += fast.layers * fast.units * DENSE_FLOATS_PER_UNIT;
    } else {
      const gates = fast.type === "lstm" ? 4 : 1;
      for (let l = 0; l < fast.layers; l++)
        params += ((l === 0 ? dims.fastStep : fast.units) + fast.units) * gates * fast.units + gates * fast.units;
      floats += fast.layers * w * fast.units * recurrentFloatsPerUnit(gates);
      width = fast.units;
    }
    params += heads * (width * K + K);
    floats += K * (2 * heads + 1);
    groups.push({ path: "encoders.fast.units", params });
  }
  if (spec.features.slow.enabled) {
    const slow = spec.encoders.slow;
    const [stack, width] = denseStack(dims.slow, slow.layers, slow.units);
    floats += dims.slow + slow.layers * slow.units * DENSE_FLOATS_PER_UNIT + K * (2 * heads + 1);
    groups.push({ path: "encoders.slow.units", params: stack + heads * (width * K + K) });
  }
  const d = spec.decoder;
  const [stack, hidden] = denseStack(dims.latent, d.layers, d.units);
  let params = stack + hidden * dims.output + dims.output;
  if (spec.loss.reconstruction === "gaussian_learned") params += dims.output;
  if (d.skip && spec.features.fast.enabled) params += spec.features.fast.window;
  floats += dims.latent + d.layers * d.units * DENSE_FLOATS_PER_UNIT + 2 * dims.output;
  groups.push({ path: "decoder.units", params });
  return { groups, floats };
}

/** JODIE (src/model/jodie.ts): the user RNN over the window, the projection, the static vector and the prediction layer. */
function jodieNetwork(spec: ModelSpec, dims: ReturnType<typeof specDimensions>): ReturnType<NetworkEstimate> {
  const { units, static_units } = spec.jodie;
  const w = spec.features.fast.window;
  const others = Math.max(0, dims.slow - 1); // x_n without hours_since_last
  const ns = others > 0 ? static_units : 0;
  const rnn = (dims.fastStep + units) * units + units;
  const prediction = (units + ns + dims.output) * dims.output + dims.output;
  const floats =
    w * (dims.fastStep + 1) + // x_s and the mask
    w * units * (recurrentFloatsPerUnit(1) + 2) + // each step's update and its normalisation
    dims.slow + 2 * units + // x_n and the projection
    ns * DENSE_FLOATS_PER_UNIT +
    units + ns + dims.output + // the prediction layer's input
    2 * dims.output;
  return {
    groups: [
      { path: "jodie.units", params: rnn + units + prediction },
      { path: "jodie.static_units", params: ns ? others * ns + ns : 0 },
    ],
    floats,
  };
}

/** LatentCross (src/model/latent-cross.ts): the context crosses, the recurrent stack and the head. */
function latentCrossNetwork(spec: ModelSpec, dims: ReturnType<typeof specDimensions>): ReturnType<NetworkEstimate> {
  const { cell, layers, units, head } = spec.latent_cross;
  const w = spec.features.fast.window;
  const D = dims.output;
  const gates = cell === "lstm" ? 4 : 1;
  const perPlay = spec.features.fast.per_play as readonly string[];
  const context = CONTEXT_SIGNALS.filter((s) => perPlay.includes(s)).reduce((n, s) => n + perPlayWidth(s, D), 0);
  const delta = spec.features.slow.enabled && spec.features.slow.aggregates.includes("hours_since_last") ? 1 : 0;
  let rnn = 0;
  for (let l = 0; l < layers; l++) rnn += ((l === 0 ? D : units) + units) * gates * units + gates * units;
  const [stack, hidden] = denseStack(units, head.layers, head.units);
  const floats =
    w * (dims.fastStep + 1) + // x_s and the mask
    w * D * 2 + // the input cross
    layers * w * units * recurrentFloatsPerUnit(gates) +
    units * 2 + // the output cross
    head.layers * head.units * DENSE_FLOATS_PER_UNIT +
    2 * D;
  return {
    groups: [
      { path: "latent_cross.units", params: rnn + context * D + (context + delta) * units },
      { path: "latent_cross.head.units", params: stack + hidden * D + D },
    ],
    floats,
  };
}

/**
 * VAE-CF (src/model/vae-cf.ts): x_b [D] through vae_cf.layers dense layers to mu (and log sigma), the same
 * hidden layers mirrored to the output; the dataset adds the bag's prefix sums, D + 1 floats every
 * BAG_BLOCK plays (src/features/bag.ts).
 */
function vaeCfNetwork(spec: ModelSpec, dims: ReturnType<typeof specDimensions>): ReturnType<NetworkEstimate> {
  const { layers, units } = spec.vae_cf;
  const K = spec.latent.size;
  const D = dims.output;
  const heads = spec.latent.probabilistic ? 2 : 1;
  const [encoder, width] = denseStack(D, layers, units);
  const [decoder, hidden] = denseStack(K, layers, units);
  const out = hidden * D + D + (spec.loss.reconstruction === "gaussian_learned" ? D : 0);
  const floats = 2 * D + 2 * layers * units * DENSE_FLOATS_PER_UNIT + K * (2 * heads + 1) + 2 * D;
  return {
    groups: [
      { path: "vae_cf.units", params: encoder + heads * (width * K + K) + decoder + out },
    ],
    floats,
    datasetBytesPerPlay: (4 * D + 4) / BAG_BLOCK,
  };
}

/** The network of each learned type; a type without one (the non-learned baselines) counts only its dataset. */
const NETWORKS: Partial<Record<ModelType, NetworkEstimate>> = {
  "fs-vae": fsVaeNetwork,
  jodie: jodieNetwork,
  "latent-cross": latentCrossNetwork,
  "vae-cf": vaeCfNetwork,
};

export function estimateMemory(spec: ModelSpec, context: MemoryContext): MemoryEstimate {
  const dims = specDimensions(spec, context.embeddingDim);
  const events = context.events ?? null;
  const batch = spec.training.batch_size;
  const { groups, floats, datasetBytesPerPlay = 0 } = NETWORKS[spec.type]?.(spec, dims) ?? { groups: [], floats: 0 };
  const datasetBytes = (events ?? 0) * (bytesPerPlay(dims.slow) + datasetBytesPerPlay);

  const params = groups.reduce((a, g) => a + g.params, 0);
  // Data-parallel helpers each hold a replica, its gradients and their shared slot; the batch's activations are split among them.
  const threads = spec.training.threads === "auto" ? os.availableParallelism() : spec.training.threads;
  const parameterBytes = params * FLOAT * (2 + OPTIMIZER_COPIES[spec.training.optimizer] + 3 * (threads - 1));
  const activationBytes = batch * floats * FLOAT * BACKWARD_FACTOR;
  const biggestGroup = groups.reduce((a, g) => (g.params > a.params ? g : a), { path: "", params: -1 });
  const parts = [
    { part: "parameters" as const, bytes: parameterBytes, path: biggestGroup.path },
    { part: "activations" as const, bytes: activationBytes, path: "training.batch_size" },
    { part: "dataset" as const, bytes: datasetBytes, path: "" },
  ];
  const largest = parts.reduce((a, p) => (p.bytes > a.bytes ? p : a));
  return {
    total: parameterBytes + activationBytes + datasetBytes,
    params,
    parameterBytes,
    activationBytes,
    datasetBytes,
    events,
    largest: { part: largest.part, path: largest.path },
  };
}

export interface MemoryBudget {
  bytes: number;
  /** Where the number comes from, for messages. */
  source: string;
}

/** Of the machine's memory, what one run may plan to use: the server, the store and other runs need the rest. */
export const MEMORY_FRACTION = 0.5;

const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/**
 * RUBATO_MEMORY_BUDGET (bytes, or a number with a unit: 512MiB, 8GB), else
 * MEMORY_FRACTION of the machine's memory. Throws on a value it cannot read.
 */
export function memoryBudget(env: NodeJS.ProcessEnv = process.env, totalMemory = os.totalmem()): MemoryBudget {
  const raw = env.RUBATO_MEMORY_BUDGET?.trim();
  if (raw) {
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw);
    const unit = m ? UNITS[(m[2] || "b").toLowerCase()] : undefined;
    if (!m || unit === undefined || !(Number(m[1]) > 0))
      throw new Error(`RUBATO_MEMORY_BUDGET must be a size such as 8GiB, 512MB or 1000000000 (bytes), got "${raw}"`);
    return { bytes: Number(m[1]) * unit, source: "RUBATO_MEMORY_BUDGET" };
  }
  return {
    bytes: totalMemory * MEMORY_FRACTION,
    source: `${MEMORY_FRACTION * 100}% of this machine's ${formatBytes(totalMemory)}; RUBATO_MEMORY_BUDGET sets another`,
  };
}

export function formatBytes(bytes: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} bytes` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** A spec error when the estimate exceeds the budget (naming both, and what makes up the estimate); null when it fits. */
export function checkMemory(spec: ModelSpec, context: MemoryContext, budget: MemoryBudget, file = `<spec ${spec.name}>`): SpecError | null {
  const e = estimateMemory(spec, context);
  if (e.total <= budget.bytes) return null;
  const parts = [
    `parameters, gradients and ${spec.training.optimizer} state ${formatBytes(e.parameterBytes)} for ${e.params.toLocaleString("en")} parameters`,
    `activations of a batch of ${spec.training.batch_size.toLocaleString("en")}: ${formatBytes(e.activationBytes)}`,
    e.events === null
      ? "the dataset not counted (the store's size is unknown)"
      : `the dataset of ${e.events.toLocaleString("en")} plays: ${formatBytes(e.datasetBytes)}`,
  ];
  const advice =
    e.largest.part === "dataset"
      ? "train on less data (a shorter history) or give the run more memory"
      : e.largest.part === "activations"
        ? "lower training.batch_size (or the window and units)"
        : `lower ${e.largest.path} or the layers`;
  return {
    file,
    line: 0,
    column: 0,
    path: e.largest.path,
    message: `the run needs an estimated ${formatBytes(e.total)} (${parts.join("; ")}), more than the memory budget of ${formatBytes(budget.bytes)} (${budget.source}): ${advice}`,
  };
}
