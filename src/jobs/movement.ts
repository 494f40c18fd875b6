/**
 * The movement analysis of a trained run (src/eval/movement.ts): for a
 * deterministic sample of users, the run's user embedding (mu of q(z | x),
 * through the serving feature path; with both branches also its fast part
 * z_s and slow part z_n) and the Average baseline's (the mean embedding of the
 * tracks played so far) at every step of the held-out period, and how far each
 * moves after 1 and after 7 steps.
 *
 * The held-out period of a user is their prediction points in the run's test
 * split (split by time: the last plays before the cut-off; split by user: all
 * plays of a test user), built by the same dataset code as training. The step
 * of a prediction point is the index of its current play.
 */
import { BadUserInput, Conflict } from "../errors";
import { buildDataset } from "../features/dataset";
import { hashSeed } from "../features/features";
import type { Catalogue, UserHistory } from "../features/history";
import { concatRows, featuresForServing } from "../features/serving";
import { baselinePredictions } from "../eval/baselines";
import { movementAnalysis, type EmbeddingSequence, type MovementAnalysis } from "../eval/movement";
import { forwardBatch } from "../serving/forward";
import { ModelCache, type ServedModel } from "../serving/models";
import { loadCatalogue, streamHistories } from "../store/history";
import type { Store } from "../store/store";
import { usersWithPlays } from "../store/users";
import { getRun } from "./runs";

export interface RunMovementOptions {
  /** Users in the sample (default 200): the first users, in the order of a hash of (the run's seed, their id), with held-out steps. */
  users?: number;
  /** Step counts to measure the change after (default 1 and 7). */
  lags?: number[];
  /** Histogram bins (default 30). */
  bins?: number;
  /** Embeddings per forward pass (default 1,024). */
  batchSize?: number;
}

export interface RunMovement {
  runId: string;
  modelName: string;
  seed: number;
  dataCutoff: string | null;
  /** Users in the sample (each has at least two held-out steps), and the candidates read to find them. */
  users: number;
  candidates: number;
  /** Embeddings computed per method. */
  steps: number;
  /**
   * Methods: the run's model name (its user embedding, mu), then with both
   * branches "NAME z_s (fast)" and "NAME z_n (slow)" (each branch's part of
   * mu), then "average".
   */
  analysis: MovementAnalysis;
  seconds: number;
}

export const AVERAGE = "average";
/** The fast branch's part of the user embedding (mu of q(z_s | x_s)) and the slow branch's (mu of q(z_n | x_n)). */
export const FAST_PART = "z_s (fast)";
export const SLOW_PART = "z_n (slow)";

function checkOptions(o: RunMovementOptions): Required<RunMovementOptions> {
  const users = o.users ?? 200;
  const lags = o.lags ?? [1, 7];
  const bins = o.bins ?? 30;
  if (!Number.isInteger(users) || users < 1) throw new BadUserInput(`movement: users must be a positive whole number, got ${users}`);
  if (!lags.length || lags.some((l) => !Number.isInteger(l) || l < 1))
    throw new BadUserInput(`movement: steps must be positive whole numbers, e.g. 1,7; got ${lags.join(",") || "none"}`);
  if (!Number.isInteger(bins) || bins < 1) throw new BadUserInput(`movement: bins must be a positive whole number, got ${bins}`);
  return { users, lags, bins, batchSize: o.batchSize ?? 1024 };
}

export async function runMovement(store: Store, runId: string, options: RunMovementOptions = {}): Promise<RunMovement> {
  const started = Date.now();
  const o = checkOptions(options);
  const run = await getRun(store, runId);
  if (run.status !== "SUCCEEDED")
    throw new Conflict(`run ${runId} is ${run.status}; the movement analysis needs a SUCCEEDED run with a model`, { runId });
  if (!run.hasArtifact)
    throw new Conflict(`run ${runId} (${run.modelName}) has no model (a non-learned baseline); pick a run of a learned spec`, { runId });
  const cache = new ModelCache(store, 1);
  try {
    const served = await cache.get(runId);
    const catalogue = await loadCatalogue(store);
    const cutoff = run.dataCutoff;
    const model = new ModelEmbeddings(served, catalogue, o.batchSize);
    const average: EmbeddingSequence[] = [];
    let users = 0;
    let candidates = 0;
    for await (const h of sampleHistories(store, catalogue, cutoff, run.seed, o.users)) {
      candidates++;
      const dataset = await buildDataset([h], catalogue, served.spec, { cutoff: cutoff ?? undefined, capacity: h.playedAt.length });
      const rows = dataset.rows.test;
      if (rows.length < 2) continue;
      const steps = Int32Array.from(rows, (r) => dataset.position[r]);
      average.push({ steps, vectors: baselinePredictions("average", dataset, catalogue, rows), dim: catalogue.dim });
      model.add(h, steps);
      if (++users >= o.users) break;
    }
    const parts = model.finish();
    const methods: Record<string, EmbeddingSequence[]> = { [served.modelName]: parts.mu! };
    if (parts.fastMu && parts.slowMu) {
      methods[`${served.modelName} ${FAST_PART}`] = parts.fastMu;
      methods[`${served.modelName} ${SLOW_PART}`] = parts.slowMu;
    }
    methods[AVERAGE] = average;
    const analysis = movementAnalysis(methods, o.lags, o.bins);
    return {
      runId,
      modelName: served.modelName,
      seed: run.seed,
      dataCutoff: cutoff ? cutoff.toISOString() : null,
      users,
      candidates,
      steps: average.reduce((n, s) => n + s.steps.length, 0),
      analysis,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    cache.close();
  }
}

/** A history's first `length` plays. */
const prefix = (h: UserHistory, length: number): UserHistory => ({
  ...h,
  trackIndex: h.trackIndex.subarray(0, length),
  playedAt: h.playedAt.subarray(0, length),
  flags: h.flags.subarray(0, length),
});

/** The posterior means a forward pass gives: the joint user embedding, and the fast and slow branches' own parts of it. */
const PARTS = ["mu", "fastMu", "slowMu"] as const;
type Part = (typeof PARTS)[number];

/**
 * The model's posterior means after each given play of each user (the joint
 * mu, and z_s's and z_n's when the model has both branches), computed in
 * batches through the serving features and forward pass.
 */
class ModelEmbeddings {
  private readonly steps: Int32Array[] = [];
  private readonly vectors = new Map<Part, Float32Array[]>();
  private readonly dims = new Map<Part, number>();
  private pending: { seq: number; k: number; fast: Float32Array; mask: Float32Array; slow: Float32Array; bag: Float32Array }[] = [];

  constructor(
    private readonly served: ServedModel,
    private readonly catalogue: Catalogue,
    private readonly batchSize: number,
  ) {}

  add(h: UserHistory, steps: Int32Array): void {
    const seq = this.steps.push(steps) - 1;
    steps.forEach((i, k) => {
      const f = featuresForServing(prefix(h, i + 1), this.catalogue, this.served.spec, this.served.stats, undefined, {
        bag: (this.served.model.inputs.bagDim ?? 0) > 0,
      });
      if (!f) throw new Error(`movement: user ${h.userExternalId} has no play ${i}`);
      this.pending.push({ seq, k, fast: f.fast, mask: f.mask, slow: f.slow, bag: f.bag });
      if (this.pending.length >= this.batchSize) this.flush();
    });
  }

  /** Sequences per part: mu always; fastMu and slowMu only when both branches exist (else one of them is mu). */
  finish(): Partial<Record<Part, EmbeddingSequence[]>> {
    this.flush();
    const both = this.vectors.has("fastMu") && this.vectors.has("slowMu");
    const out: Partial<Record<Part, EmbeddingSequence[]>> = {};
    for (const part of PARTS) {
      const vectors = this.vectors.get(part);
      if (!vectors || (part !== "mu" && !both)) continue;
      const dim = this.dims.get(part)!;
      out[part] = this.steps.map((steps, seq) => ({ steps, vectors: vectors[seq] ?? new Float32Array(0), dim }));
    }
    out.mu ??= this.steps.map((steps) => ({ steps, vectors: new Float32Array(0), dim: 0 }));
    return out;
  }

  private flush(): void {
    const batch = this.pending;
    if (!batch.length) return;
    this.pending = [];
    const output = forwardBatch(this.served.model, {
      n: batch.length,
      fast: concatRows(batch.map((b) => b.fast)),
      mask: concatRows(batch.map((b) => b.mask)),
      slow: concatRows(batch.map((b) => b.slow)),
      bag: concatRows(batch.map((b) => b.bag)),
    });
    for (const part of PARTS) {
      const values = output[part];
      if (!values) continue;
      const dim = values.length / batch.length;
      this.dims.set(part, dim);
      const vectors = this.vectors.get(part) ?? this.vectors.set(part, []).get(part)!;
      batch.forEach((b, r) => {
        vectors[b.seq] ??= new Float32Array(this.steps[b.seq].length * dim);
        vectors[b.seq].set(values.subarray(r * dim, (r + 1) * dim), b.k * dim);
      });
    }
  }
}

/**
 * Users with plays at or before the cut-off, in the order of hashSeed(seed,
 * external id) (ties by id): a sample that does not depend on ids' order and
 * is the same every time. Histories are read a chunk of candidates at a time.
 */
async function* sampleHistories(
  store: Store,
  catalogue: Catalogue,
  cutoff: Date | null,
  seed: number,
  wanted: number,
): AsyncGenerator<UserHistory> {
  const users = await usersWithPlays(store, cutoff);
  const order = users
    .map((u) => ({ id: u.id, key: hashSeed(seed, u.externalId) }))
    .sort((a, b) => a.key - b.key || a.id - b.id)
    .map((u) => u.id);
  const chunk = Math.max(32, 2 * wanted);
  for (let at = 0; at < order.length; at += chunk) {
    const ids = order.slice(at, at + chunk);
    const byId = new Map<number, UserHistory>();
    for await (const h of streamHistories(store, { catalogue, userIds: ids, upTo: cutoff ?? undefined })) byId.set(h.userId, h);
    for (const id of ids) {
      const h = byId.get(id);
      if (h) yield h;
    }
  }
}
