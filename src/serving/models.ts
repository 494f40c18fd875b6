/**
 * Trained models held in memory for serving: a small LRU of loaded runs (a
 * model is loaded once, never per request) and the active run's id, looked
 * up at most once a second.
 */
import { Conflict, NotFound } from "../errors";
import type { FeatureStats } from "../features/features";
import { loadArtifact, type ArtifactData, type Model } from "../model/registry";
import { log } from "../log";
import { parseSpec } from "../spec";
import type { ModelSpec } from "../spec/schema";
import { servingRunId } from "../store/runs";
import { servableRun } from "../store/artifacts";
import type { Store } from "../store/store";
import { servingBackend } from "./backend";

export interface ServedModel {
  runId: string;
  modelName: string;
  spec: ModelSpec;
  /** The slow features' scaling, fitted when the run trained. */
  stats: FeatureStats;
  model: Model;
  /** Plays in the fast window (the spec's): what the encoder reads and excludeRecent leaves out. */
  window: number;
  /** Set once evicted: the tensors are gone, load the run again. */
  disposed: boolean;
}

export const NO_MODEL_YET = "no trained model yet: start one with startTraining, or wait for the run in progress";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ACTIVE_TTL_MS = 1000;

export class ModelCache {
  private readonly loaded = new Map<string, Promise<ServedModel>>();
  private active: { id: string | null; at: number } | null = null;
  private looking: Promise<unknown> | null = null;
  /** Bumped by invalidate(): a lookup started before it does not count. */
  private generation = 0;

  constructor(
    private readonly store: Store,
    private readonly maxModels = 3,
  ) {}

  /** The run serving uses when none is given; Conflict when no run has a model yet. */
  async activeRunId(): Promise<string> {
    while (!this.active || Date.now() - this.active.at > ACTIVE_TTL_MS) await this.lookUp();
    const id = this.active.id;
    if (id === null) {
      this.active = null; // a first model may appear at any moment: look again next time
      throw new Conflict(NO_MODEL_YET);
    }
    return id;
  }

  /** One lookup shared by every request that arrives meanwhile (so they also land in one batch). */
  private lookUp(): Promise<unknown> {
    if (!this.looking) {
      const generation = this.generation;
      const lookup: Promise<unknown> = servingRunId(this.store)
        .then((id) => {
          if (generation === this.generation) this.active = { id, at: Date.now() };
        })
        .finally(() => {
          if (this.looking === lookup) this.looking = null;
        });
      this.looking = lookup;
    }
    return this.looking;
  }

  /** The model of a run (the active one when runId is absent), loaded once and kept while recently used. */
  async get(runId?: string | null): Promise<ServedModel> {
    const id = runId ?? (await this.activeRunId());
    let entry = this.loaded.get(id);
    if (entry) {
      this.loaded.delete(id); // most recently used last
      this.loaded.set(id, entry);
      return entry;
    }
    entry = this.load(id);
    this.loaded.set(id, entry);
    entry.catch(() => this.loaded.get(id) === entry && this.loaded.delete(id));
    this.evict();
    return entry;
  }

  /** Forget the cached choice of the active run (a run succeeded or was activated). */
  invalidate(): void {
    this.active = null;
    this.looking = null;
    this.generation++;
  }

  close(): void {
    for (const entry of this.loaded.values()) entry.then(dispose, () => undefined);
    this.loaded.clear();
    this.active = null;
  }

  private evict(): void {
    while (this.loaded.size > this.maxModels) {
      const [oldest, entry] = this.loaded.entries().next().value!;
      this.loaded.delete(oldest);
      entry.then(dispose, () => undefined);
    }
  }

  private async load(runId: string): Promise<ServedModel> {
    if (!UUID.test(runId)) throw new NotFound(`no run ${JSON.stringify(runId)}: run ids are UUIDs`, { runId });
    const run = await servableRun(this.store, runId);
    if (!run) throw new NotFound(`no run ${runId}`, { runId });
    if (run.status !== "SUCCEEDED" || !run.artifact) {
      const what = run.status !== "SUCCEEDED" ? `is ${run.status}` : `succeeded without a model (a ${run.modelName} baseline)`;
      throw new Conflict(`run ${runId} ${what}; only a successful run with a model can serve`, { runId, status: run.status });
    }
    const parsed = parseSpec(run.specYaml, { file: `<run ${runId} spec>` });
    if (!parsed.ok) throw new Error(`run ${runId}: its stored spec no longer validates: ${parsed.errors.map((e) => e.message).join("; ")}`);
    await servingBackend();
    const bytes = run.artifact.weights;
    const weights = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const topology = run.artifact.topology as ArtifactData["topology"];
    const model = loadArtifact({ topology, weights });
    const spec = parsed.spec;
    const stored = topology.extra.featureStats as FeatureStats | undefined;
    const stats = stored ?? { transform: spec.features.slow.transform, mean: [], std: [] };
    if (stats.transform === "standardize" && stats.mean.length === 0) {
      model.dispose();
      throw new Error(`run ${runId}: its model artifact lacks the feature scaling (featureStats) that its spec needs`);
    }
    log.info({ runId, model: run.modelName }, "serving: model loaded");
    return { runId, modelName: run.modelName, spec, stats, model, window: spec.features.fast.window, disposed: false };
  }
}

function dispose(served: ServedModel): void {
  if (served.disposed) return;
  served.disposed = true;
  served.model.dispose();
}
