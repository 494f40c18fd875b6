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
import { HAS_EMBEDDING, getEmbeddingDim, getEventStats } from "../store/catalog";
import { Conflict, NotFound, RubatoError } from "../errors";
import { decodeCursor, pageSize, toPage, type Page, type PageArgs } from "../store/page";
import { cancelRun, enqueueRun, queuePosition, type RunStatus } from "./queue";

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
  const [data] = await store.sql.query<{ cutoff: Date | string | null; tracks: number }>(
    `SELECT (SELECT max(played_at) FROM listening_event) AS cutoff,
            (SELECT count(*)::int FROM track WHERE ${HAS_EMBEDDING}) AS tracks`,
  );
  if (data.cutoff === null || data.tracks === 0) {
    throw new Conflict("no data to train on: load tracks with embeddings and listening events first (rubato demo-data, or rubato import)");
  }
  const dataCutoff = new Date(data.cutoff);
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
  const embeddingDim = (await getEmbeddingDim(store.sql)) ?? 80;
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
export async function storedSpec(store: Store, name: string): Promise<string | null> {
  const rows = await store.sql.query<{ spec_yaml: string }>(
    `SELECT spec_yaml FROM run WHERE model_name = $1 ORDER BY created_at DESC LIMIT 1`,
    [name],
  );
  return rows.length ? rows[0].spec_yaml : null;
}

export interface RunView {
  id: string;
  modelName: string;
  status: RunStatus;
  seed: number;
  specHash: string;
  specYaml: string;
  dataCutoff: Date | null;
  progress: unknown;
  metrics: unknown;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  heartbeatAt: Date | null;
  attempts: number;
  active: boolean;
  hasCheckpoint: boolean;
  hasArtifact: boolean;
  queuePosition: number | null;
}

const RUN_COLUMNS = `r.id, r.model_name, r.status, r.seed, r.spec_hash, r.spec_yaml, r.data_cutoff, r.progress, r.metrics, r.error,
  r.created_at, r.started_at, r.finished_at, r.heartbeat_at, r.attempts, r.active,
  r.checkpoint IS NOT NULL AS has_checkpoint,
  EXISTS (SELECT 1 FROM model_artifact a WHERE a.run_id = r.id) AS has_artifact`;

type RunRow = Record<string, unknown>;
const date = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string));

function toView(r: RunRow, position: number | null): RunView {
  return {
    id: r.id as string,
    modelName: r.model_name as string,
    status: r.status as RunStatus,
    seed: r.seed as number,
    specHash: r.spec_hash as string,
    specYaml: r.spec_yaml as string,
    dataCutoff: date(r.data_cutoff),
    progress: r.progress ?? null,
    metrics: r.metrics ?? null,
    error: (r.error as string | null) ?? null,
    createdAt: date(r.created_at)!,
    startedAt: date(r.started_at),
    finishedAt: date(r.finished_at),
    heartbeatAt: date(r.heartbeat_at),
    attempts: r.attempts as number,
    active: r.active as boolean,
    hasCheckpoint: r.has_checkpoint as boolean,
    hasArtifact: r.has_artifact as boolean,
    queuePosition: position,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function getRun(store: Store, id: string): Promise<RunView> {
  if (!UUID.test(id)) throw new NotFound(`no run ${JSON.stringify(id)}: run ids are UUIDs`);
  const rows = await store.sql.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM run r WHERE r.id = $1`, [id]);
  if (!rows.length) throw new NotFound(`no run ${id}`);
  return toView(rows[0], await queuePosition(store.sql, id));
}

/** The newest runs (the first page of pageRuns). */
export async function listRuns(store: Store, options: { status?: RunStatus; limit?: number } = {}): Promise<RunView[]> {
  const page = await pageRuns(store, { status: options.status, first: options.limit ?? 50 });
  return page.items.map((item) => item.node);
}

/** Runs newest first, as a page of a connection. */
export async function pageRuns(store: Store, args: PageArgs & { status?: RunStatus | null }): Promise<Page<RunView>> {
  const first = pageSize(args.first);
  const [createdAt, id] = args.after ? decodeCursor("run", args.after, ["time", "uuid"]) : [null, null];
  const rows = await store.sql.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM run r
      WHERE ($1::run_status IS NULL OR r.status = $1::run_status)
        AND ($2::timestamptz IS NULL OR (r.created_at, r.id) < ($2::timestamptz, $3::uuid))
      ORDER BY r.created_at DESC, r.id DESC LIMIT $4`,
    [args.status ?? null, createdAt, id, first + 1],
  );
  const positions = await Promise.all(rows.map((r) => (r.status === "QUEUED" ? queuePosition(store.sql, r.id as string) : null)));
  const withPosition = rows.map((r, i) => ({ r, position: positions[i] }));
  return toPage(
    "run",
    withPosition,
    first,
    ({ r }) => [new Date(r.created_at as string).toISOString(), r.id],
    ({ r, position }) => toView(r, position),
  );
}

/** Cancels a run: at once when QUEUED, within one step when RUNNING; an ended run is a Conflict (a cancelled one stays cancelled). */
export async function cancel(store: Store, id: string): Promise<RunStatus> {
  if (!UUID.test(id)) throw new NotFound(`no run ${JSON.stringify(id)}: run ids are UUIDs`);
  const status = await cancelRun(store.sql, id);
  if (status === null) throw new NotFound(`no run ${id}`);
  if (status === "SUCCEEDED" || status === "FAILED")
    throw new Conflict(`run ${id} already ended (${status}); there is nothing to cancel`, { status });
  return status;
}

/** A run's curves: every persisted step and epoch report, in order. */
export async function runCurves(
  store: Store,
  id: string,
): Promise<{ seq: number; kind: string; epoch: number; step: number; values: unknown; at: Date }[]> {
  const rows = await store.sql.query<{ seq: number; kind: string; epoch: number; step: number; values: unknown; at: Date }>(
    `SELECT seq, kind, epoch, step, "values", at FROM run_progress WHERE run_id = $1 ORDER BY seq`,
    [id],
  );
  return rows;
}

/**
 * On a store that has data but no model and no run on the way, queues the
 * given models in order (npm start: a one-epoch starter that answers within
 * minutes, then the full model, which replaces it when it succeeds). Returns
 * the runs queued: none when there was nothing to do.
 */
export async function ensureDefaultRuns(store: Store, models: readonly string[]): Promise<StartedRun[]> {
  const [state] = await store.sql.query<{ pending: boolean; data: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM run WHERE status IN ('QUEUED', 'RUNNING', 'SUCCEEDED')) AS pending,
            EXISTS (SELECT 1 FROM listening_event) AS data`,
  );
  if (state.pending || !state.data) return [];
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
  await store.transaction(async (tx) => {
    await tx.query(`UPDATE run SET active = false WHERE active`);
    await tx.query(`UPDATE run SET active = true WHERE id = $1`, [id]);
  });
  return getRun(store, id);
}
