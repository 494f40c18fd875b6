/**
 * The run service: what the CLI and the API call. Starting a run validates and
 * resolves the spec (the YAML after `extends`, with its hash), fixes the data
 * cut-off (the newest play), and queues it.
 */
import fs from "node:fs";
import path from "node:path";
import {
  applyOverrides,
  checkMemory,
  formatSpecError,
  loadSpec,
  memoryBudget,
  parseSpec,
  type ModelSpec,
  type SpecError,
  type SpecResult,
} from "../spec";
import { SHIPPED_MODELS_DIR } from "../spec/load";
import { SPEC_NAME } from "../spec/schema";
import type { Store } from "../store/store";
import { getEmbeddingDim, getEventStats } from "../store/catalog";
import { hasPlays, trainingData } from "../store/plays";
import { runCurves as storedCurves, type CurvePoint } from "../store/run-progress";
import { enqueueRun } from "../store/run-queue";
import {
  cancelRun,
  findRun,
  hasPendingOrSucceededRun,
  newestSpec,
  pageRuns,
  setActiveRun,
  type RunStatus,
  type RunView,
} from "../store/runs";
import { Conflict, NotFound, RubatoError } from "../errors";

export class SpecInvalid extends RubatoError {
  constructor(readonly errors: SpecError[]) {
    super("SPEC_INVALID", `invalid spec:\n${errors.map(formatSpecError).join("\n")}`, { errors });
  }
}

export { NotFound };

export interface StartRunInput {
  /** A shipped spec's name (models/NAME.yaml), a stored one's, or (with `files`) a path to a spec file. */
  model?: string;
  /** `model` may be a path to a spec file on this machine: the command line's runs only, never the API's. */
  files?: boolean;
  /** YAML text of a spec (may `extends` a shipped spec). */
  spec?: string;
  /** Changes to the resolved spec, e.g. { training: { epochs: 3 } }. */
  overrides?: unknown;
  seed?: number;
}

export interface StartedRun {
  id: string;
  modelName: string;
  specHash: string;
  seed: number;
  dataCutoff: Date;
  warnings: string[];
  /** The resolved spec (what the run stores as YAML). */
  spec: ModelSpec;
}

function shippedResolver(modelsDir: string) {
  return (name: string) => {
    const file = path.join(modelsDir, `${name}.yaml`);
    return fs.existsSync(file) ? { text: fs.readFileSync(file, "utf8"), file: path.relative(process.cwd(), file) } : undefined;
  };
}

export function resolveRunSpec(input: StartRunInput, modelsDir = SHIPPED_MODELS_DIR): SpecResult {
  if ((input.model ? 1 : 0) + (input.spec ? 1 : 0) !== 1) {
    return {
      ok: false,
      errors: [{ file: "<input>", line: 0, column: 0, path: "", message: "give exactly one of model (a spec name) or spec (YAML text)" }],
      warnings: [],
    };
  }
  let result = input.model
    ? loadSpec(input.model, { modelsDir: input.model.includes("/") || input.model.endsWith(".yaml") ? undefined : modelsDir })
    : parseSpec(input.spec!, { file: "<spec>", resolveParent: shippedResolver(modelsDir) });
  if (result.ok && input.overrides !== undefined && input.overrides !== null) result = applyOverrides(result.spec, input.overrides);
  if (result.ok && input.seed !== undefined) result = applyOverrides(result.spec, { training: { seed: input.seed } });
  return result;
}

/**
 * Validates, resolves and queues a run; throws SpecInvalid with every error, or Error when there is no data.
 * heldBy: the run is queued already claimed by that worker (rubato train trains it in its own process).
 */
export async function startRun(
  store: Store,
  input: StartRunInput,
  modelsDir = SHIPPED_MODELS_DIR,
  options: { heldBy?: string } = {},
): Promise<StartedRun> {
  if (input.model && !input.files && !SPEC_NAME.test(input.model)) {
    const message = `expected a spec name (lowercase letters, digits, '.', '_' or '-'), got ${JSON.stringify(input.model.slice(0, 80))}; send a spec's text as spec`;
    throw new SpecInvalid([{ file: "<input>", line: 0, column: 0, path: "model", message }]);
  }
  const result = resolveRunSpec(await withStoredSpec(store, input, modelsDir), modelsDir);
  if (!result.ok) throw new SpecInvalid(result.errors);
  const tooBig = await memoryProblem(store, result.spec);
  if (tooBig) throw new SpecInvalid([tooBig]);
  const data = await trainingData(store);
  if (data.cutoff === null || data.tracks === 0) {
    throw new Conflict("no data to train on: load tracks with embeddings and listening events first (rubato demo-data, or rubato import)");
  }
  const dataCutoff = data.cutoff;
  const id = await enqueueRun(store.sql, {
    modelName: result.spec.name,
    specYaml: result.yaml,
    specHash: result.hash,
    seed: result.spec.training.seed,
    dataCutoff,
    heldBy: options.heldBy,
  });
  return {
    id,
    modelName: result.spec.name,
    specHash: result.hash,
    seed: result.spec.training.seed,
    dataCutoff,
    warnings: result.warnings.map(formatSpecError),
    spec: result.spec,
  };
}

/**
 * A spec error when a run of `spec` on this store's data would not fit the
 * memory budget (src/spec/memory.ts), sized for the catalogue's embedding width
 * (80 before there is one) and the store's plays; null when it fits.
 */
export async function memoryProblem(store: Store, spec: ModelSpec): Promise<SpecError | null> {
  const embeddingDim = (await getEmbeddingDim(store)) ?? 80;
  const { count } = await getEventStats(store.sql);
  return checkMemory(spec, { embeddingDim, events: count }, memoryBudget());
}

/** A model name that is not shipped but was trained before resolves to the spec its newest run stored. */
async function withStoredSpec(store: Store, input: StartRunInput, modelsDir: string): Promise<StartRunInput> {
  const name = input.model;
  if (!name || input.spec || name.includes("/") || name.endsWith(".yaml") || fs.existsSync(path.join(modelsDir, `${name}.yaml`)))
    return input;
  const stored = await storedSpec(store, name);
  return stored === null ? input : { ...input, model: undefined, spec: stored };
}

/** The resolved spec of the newest run of a model name, or null. */
export function storedSpec(store: Store, name: string): Promise<string | null> {
  return newestSpec(store, name);
}

export type { RunView };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function getRun(store: Store, id: string): Promise<RunView> {
  if (!UUID.test(id)) throw new NotFound(`no run ${JSON.stringify(id)}: run ids are UUIDs`);
  const run = await findRun(store, id);
  if (!run) throw new NotFound(`no run ${id}`);
  return run;
}

/** The newest runs (the first page of pageRuns). */
export async function listRuns(store: Store, options: { status?: RunStatus; limit?: number } = {}): Promise<RunView[]> {
  const page = await pageRuns(store, { status: options.status, first: options.limit ?? 50 });
  return page.items.map((item) => item.node);
}

export { pageRuns };

/** Cancels a run: at once when QUEUED, within one step when RUNNING; an ended run is a Conflict (a cancelled one stays cancelled). */
export async function cancel(store: Store, id: string): Promise<RunStatus> {
  if (!UUID.test(id)) throw new NotFound(`no run ${JSON.stringify(id)}: run ids are UUIDs`);
  const status = await cancelRun(store, id);
  if (status === null) throw new NotFound(`no run ${id}`);
  if (status === "SUCCEEDED" || status === "FAILED")
    throw new Conflict(`run ${id} already ended (${status}); there is nothing to cancel`, { status });
  return status;
}

/** A run's curves: every persisted step and epoch report, in order. */
export function runCurves(store: Store, id: string): Promise<CurvePoint[]> {
  return storedCurves(store, id);
}

/**
 * On a store that has data but no model and no run on the way, queues the
 * given models in order (npm start: a one-epoch starter that answers within
 * minutes, then the full model, which replaces it when it succeeds). Returns
 * the runs queued: none when there was nothing to do.
 */
export async function ensureDefaultRuns(store: Store, models: readonly string[]): Promise<StartedRun[]> {
  if ((await hasPendingOrSucceededRun(store)) || !(await hasPlays(store))) return [];
  const started: StartedRun[] = [];
  for (const model of models) started.push(await startRun(store, { model }));
  return started;
}

/** Makes a successful run with a model the one serving uses (Conflict for any other run); returns it. */
export async function activateRun(store: Store, id: string): Promise<RunView> {
  const run = await getRun(store, id);
  if (run.status !== "SUCCEEDED" || !run.hasArtifact)
    throw new Conflict(
      `run ${id} is ${run.status}${run.hasArtifact ? "" : " without a model"}; only a successful run with a model can be active`,
    );
  await setActiveRun(store, id);
  return getRun(store, id);
}
