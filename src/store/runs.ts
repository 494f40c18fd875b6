/**
 * Table `run` (and its `run_progress` curves): the plain reads and writes, through
 * the Prisma client. The queue's atomic statements (claim, heartbeat, re-queue,
 * finish) are raw SQL in run-queue.ts.
 */
import type { Prisma } from "../generated/prisma/client";
import { RunStatus } from "../generated/prisma/enums";
import { decodeCursor, pageSize, toPage, type Page, type PageArgs } from "./page";
import type { Store } from "./store";

/** Where a run stands: Prisma's enum (schema.prisma, `enum RunStatus`), the one definition. */
export { RunStatus };

/** The statuses of a run that has ended (what a worker's outcome writes). */
export type EndedStatus = Exclude<RunStatus, "QUEUED" | "RUNNING">;
export const ENDED_STATUSES: readonly EndedStatus[] = [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED];

/** Whether a run of this status has ended. */
export const hasEnded = (status: RunStatus): status is EndedStatus => (ENDED_STATUSES as readonly RunStatus[]).includes(status);

/** A run as the CLI and the API show it. */
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
  /** A checkpoint is stored (a RUNNING or interrupted run resumes from it). */
  hasCheckpoint: boolean;
  /** A model artifact is stored (model_artifact). */
  hasArtifact: boolean;
  /** 1 for the next run to be claimed; null when the run is not QUEUED. */
  queuePosition: number | null;
}

/** Every column of a run but the checkpoint (a blob: only whether there is one is read, by hasCheckpoints). */
const VIEW = {
  id: true,
  modelName: true,
  status: true,
  seed: true,
  specHash: true,
  specYaml: true,
  dataCutoff: true,
  progress: true,
  metrics: true,
  error: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
  heartbeatAt: true,
  attempts: true,
  active: true,
  artifact: { select: { runId: true } },
} satisfies Prisma.RunSelect;

/** A row as VIEW selects it. */
type ViewRow = Prisma.RunGetPayload<{ select: typeof VIEW }>;

async function toViews(store: Store, rows: ViewRow[]): Promise<RunView[]> {
  const ids = rows.map((r) => r.id);
  const withCheckpoint = ids.length
    ? new Set(
        (await store.prisma.run.findMany({ where: { id: { in: ids }, checkpoint: { not: null } }, select: { id: true } })).map((r) => r.id),
      )
    : new Set<string>();
  const positions = await Promise.all(rows.map((r) => (r.status === RunStatus.QUEUED ? positionOf(store, r) : null)));
  return rows.map(({ artifact, ...r }, i) => ({
    ...r,
    progress: r.progress ?? null,
    metrics: r.metrics ?? null,
    hasCheckpoint: withCheckpoint.has(r.id),
    hasArtifact: artifact !== null,
    queuePosition: positions[i],
  }));
}

/** A QUEUED run's place in the queue: claims take the oldest first (created_at, then id). */
function positionOf(store: Store, run: { id: string; createdAt: Date }): Promise<number> {
  return store.prisma.run.count({
    where: { status: RunStatus.QUEUED, OR: [{ createdAt: { lt: run.createdAt } }, { createdAt: run.createdAt, id: { lte: run.id } }] },
  });
}

/** A run by id; null when there is none (the id must be a UUID). */
export async function findRun(store: Store, id: string): Promise<RunView | null> {
  const row = await store.prisma.run.findUnique({ where: { id }, select: VIEW });
  return row ? (await toViews(store, [row]))[0] : null;
}

/** Runs newest first (created_at, then id), optionally of one status, as a page of a connection. */
export async function pageRuns(store: Store, args: PageArgs & { status?: RunStatus | null }): Promise<Page<RunView>> {
  const first = pageSize(args.first);
  const [createdAt, id] = args.after ? decodeCursor("run", args.after, ["time", "uuid"]) : [null, null];
  const where: Prisma.RunWhereInput = {};
  if (args.status) where.status = args.status;
  if (createdAt !== null) {
    const at = new Date(createdAt as string);
    where.OR = [{ createdAt: { lt: at } }, { createdAt: at, id: { lt: id as string } }];
  }
  const rows = await store.prisma.run.findMany({ where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: first + 1, select: VIEW });
  const views = await toViews(store, rows);
  return toPage("run", views, first, (r) => [r.createdAt.toISOString(), r.id], (r) => r);
}

/**
 * Cancels a run: a QUEUED run at once, a RUNNING one by request (its worker stops
 * within one step and keeps its last checkpoint). Returns the status after the call,
 * or null when there is no such run.
 *
 * Each write is conditional on the status just read, so a run that moved meanwhile
 * (claimed, re-queued, finished) is read again rather than written wrongly.
 */
export async function cancelRun(store: Store, id: string): Promise<RunStatus | null> {
  for (;;) {
    const run = await store.prisma.run.findUnique({ where: { id }, select: { status: true } });
    if (!run) return null;
    if (run.status === RunStatus.QUEUED) {
      const { count } = await store.prisma.run.updateMany({
        where: { id, status: RunStatus.QUEUED },
        data: { status: RunStatus.CANCELLED, finishedAt: new Date() },
      });
      if (count) return RunStatus.CANCELLED;
    } else if (run.status === RunStatus.RUNNING) {
      const { count } = await store.prisma.run.updateMany({ where: { id, status: RunStatus.RUNNING }, data: { cancelRequested: true } });
      if (count) return RunStatus.RUNNING;
    } else return run.status;
  }
}

/** Makes a run the one serving uses (at most one is active), in one transaction. */
export async function setActiveRun(store: Store, id: string): Promise<void> {
  await store.prisma.$transaction([
    store.prisma.run.updateMany({ where: { active: true, NOT: { id } }, data: { active: false } }),
    store.prisma.run.update({ where: { id }, data: { active: true } }),
  ]);
}

/** The run serving uses: the one marked active, else the newest successful run with a model; null when none has one. */
export async function servingRunId(store: Store): Promise<string | null> {
  const run = await store.prisma.run.findFirst({
    where: { status: RunStatus.SUCCEEDED, artifact: { isNot: null } },
    orderBy: [{ active: "desc" }, { finishedAt: { sort: "desc", nulls: "first" } }],
    select: { id: true },
  });
  return run?.id ?? null;
}

/** The resolved spec (YAML) of the newest run of a model name, or null. */
export async function newestSpec(store: Store, modelName: string): Promise<string | null> {
  const run = await store.prisma.run.findFirst({ where: { modelName }, orderBy: { createdAt: "desc" }, select: { specYaml: true } });
  return run?.specYaml ?? null;
}

/** Every model name that has runs, with the spec of its newest run; by name. */
export async function newestSpecs(store: Store): Promise<{ modelName: string; specYaml: string }[]> {
  const runs = await store.prisma.run.findMany({
    orderBy: [{ modelName: "asc" }, { createdAt: "desc" }],
    distinct: ["modelName"],
    select: { modelName: true, specYaml: true },
  });
  return runs;
}

/** The model names that have runs, sorted. */
export async function runModelNames(store: Store): Promise<string[]> {
  return (await newestSpecs(store)).map((r) => r.modelName);
}

/** The newest QUEUED, RUNNING or SUCCEEDED run of a spec, seed and cut-off, a SUCCEEDED one first; null when none. */
export async function reusableRun(store: Store, specHash: string, seed: number, dataCutoff: Date): Promise<string | null> {
  const runs = await store.prisma.run.findMany({
    where: { specHash, seed, dataCutoff, status: { in: [RunStatus.SUCCEEDED, RunStatus.QUEUED, RunStatus.RUNNING] } },
    orderBy: { createdAt: "desc" },
    select: { id: true, status: true },
  });
  return (runs.find((r) => r.status === RunStatus.SUCCEEDED) ?? runs[0])?.id ?? null;
}

/** The states of runs by id, as an evaluation follows them. */
export async function runStates(store: Store, ids: readonly string[]) {
  return store.prisma.run.findMany({
    where: { id: { in: [...ids] } },
    select: { id: true, status: true, error: true, progress: true, metrics: true, startedAt: true, finishedAt: true },
  });
}

/** A run's status and error; null when there is no such run. */
export function runStatus(store: Store, id: string): Promise<{ status: RunStatus; error: string | null } | null> {
  return store.prisma.run.findUnique({ where: { id }, select: { status: true, error: true } });
}

/**
 * Runs waiting ahead of the given ones: QUEUED (and, with `running`, RUNNING) runs
 * not among them, created before the oldest of them.
 */
export async function runsAhead(store: Store, ids: readonly string[], running: boolean): Promise<number> {
  const { _min } = await store.prisma.run.aggregate({ where: { id: { in: [...ids] } }, _min: { createdAt: true } });
  if (!_min.createdAt) return 0;
  return store.prisma.run.count({
    where: {
      status: { in: running ? [RunStatus.QUEUED, RunStatus.RUNNING] : [RunStatus.QUEUED] },
      id: { notIn: [...ids] },
      createdAt: { lt: _min.createdAt },
    },
  });
}

/** Runs QUEUED or RUNNING. */
export function countOpenRuns(store: Store): Promise<number> {
  return store.prisma.run.count({ where: { status: { in: [RunStatus.QUEUED, RunStatus.RUNNING] } } });
}

/** Whether a run is queued, running or has succeeded. */
export async function hasPendingOrSucceededRun(store: Store): Promise<boolean> {
  const run = await store.prisma.run.findFirst({
    where: { status: { in: [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED] } },
    select: { id: true },
  });
  return run !== null;
}
