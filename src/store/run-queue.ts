/**
 * The run queue's statements on table `run`: a run is a row; workers claim QUEUED
 * rows with FOR UPDATE SKIP LOCKED (two workers never get the same run), heartbeat
 * while they hold it, and a run whose heartbeat expired goes back to the queue.
 *
 * Raw SQL, not Prisma (src/store/runs.ts has the plain reads and writes): the claim
 * needs SKIP LOCKED; every statement here is one conditional UPDATE ... RETURNING
 * that must be atomic (CASE over the row's own status); the times come from the
 * database's clock (now()), which heartbeat expiry and the queue's order compare
 * against; and they take a SqlClient, so the run executor's yielding client
 * (src/jobs/execute.ts, yieldingSql) and the test hooks' transactions apply.
 */
import type { Store } from "./store";
import type { SqlClient } from "./sql";
import type { RunStatus } from "../generated/prisma/enums";
import type { EndedStatus } from "./runs";

/** A run as a worker holds it: what executing it needs. */
export interface QueuedRun {
  id: string;
  modelName: string;
  specYaml: string;
  specHash: string;
  seed: number;
  dataCutoff: Date | null;
  attempts: number;
  checkpoint: Buffer | null;
}

export interface NewRun {
  modelName: string;
  specYaml: string;
  specHash: string;
  seed: number;
  dataCutoff: Date | null;
  /** Queue it already claimed by this worker (a run trained by the process that queues it: rubato train). */
  heldBy?: string;
}

export async function enqueueRun(sql: SqlClient, run: NewRun): Promise<string> {
  const [row] = await sql.query<{ id: string }>(
    run.heldBy === undefined
      ? `INSERT INTO run (id, model_name, spec_yaml, spec_hash, seed, data_cutoff, status)
         VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, 'QUEUED') RETURNING id`
      : `INSERT INTO run (id, model_name, spec_yaml, spec_hash, seed, data_cutoff, status, worker_id, attempts, started_at, heartbeat_at)
         VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, 'RUNNING', $6, 1, now(), now()) RETURNING id`,
    [run.modelName, run.specYaml, run.specHash, run.seed, run.dataCutoff, ...(run.heldBy === undefined ? [] : [run.heldBy])],
  );
  return row.id;
}

const CLAIMED = `id, model_name, spec_yaml, spec_hash, seed, data_cutoff, attempts, checkpoint`;

/** The columns CLAIMED selects, as the database returns them. */
type ClaimedRow = {
  id: string;
  model_name: string;
  spec_yaml: string;
  spec_hash: string;
  seed: number;
  data_cutoff: Date | string | null;
  attempts: number;
  checkpoint: Uint8Array | null;
};

function queuedRun(r: ClaimedRow): QueuedRun {
  return {
    id: r.id,
    modelName: r.model_name,
    specYaml: r.spec_yaml,
    specHash: r.spec_hash,
    seed: r.seed,
    dataCutoff: r.data_cutoff === null ? null : new Date(r.data_cutoff),
    attempts: r.attempts,
    checkpoint: r.checkpoint ? Buffer.from(r.checkpoint) : null,
  };
}

/** A run held by this worker (enqueueRun with heldBy), as a claim returns it. */
export async function heldRun(sql: SqlClient, runId: string, workerId: string): Promise<QueuedRun | null> {
  const rows = await sql.query<ClaimedRow>(`SELECT ${CLAIMED} FROM run WHERE id = $1 AND worker_id = $2 AND status = 'RUNNING'`, [
    runId,
    workerId,
  ]);
  return rows.length ? queuedRun(rows[0]) : null;
}

/**
 * Takes one given run for this worker to continue it from its checkpoint: a
 * QUEUED, CANCELLED or FAILED run, or a RUNNING one whose worker is gone
 * (`orphaned`: the store is this process's alone). Null when it is not one of those.
 */
export async function reclaimRun(sql: SqlClient, runId: string, workerId: string, orphaned: boolean): Promise<QueuedRun | null> {
  const rows = await sql.query<ClaimedRow>(
    `UPDATE run SET status = 'RUNNING', worker_id = $2, attempts = attempts + 1, error = NULL, finished_at = NULL,
            cancel_requested = false, started_at = COALESCE(started_at, now()), heartbeat_at = now()
      WHERE id = $1 AND (status IN ('QUEUED', 'CANCELLED', 'FAILED') OR ($3 AND status = 'RUNNING'))
      RETURNING ${CLAIMED}`,
    [runId, workerId, orphaned],
  );
  return rows.length ? queuedRun(rows[0]) : null;
}

/** Atomically takes the oldest QUEUED run for this worker, or null when there is none. */
export async function claimRun(store: Store, workerId: string): Promise<QueuedRun | null> {
  const rows = await store.sql.query<ClaimedRow>(
    `UPDATE run SET status = 'RUNNING', worker_id = $1, attempts = attempts + 1,
            started_at = COALESCE(started_at, now()), heartbeat_at = now()
      WHERE id = (SELECT id FROM run WHERE status = 'QUEUED' ORDER BY created_at, id
                  FOR UPDATE SKIP LOCKED LIMIT 1)
      RETURNING ${CLAIMED}`,
    [workerId],
  );
  return rows.length ? queuedRun(rows[0]) : null;
}

/**
 * Records that the worker still holds the run; returns what the worker must do:
 * continue, stop because a cancel was requested, or stop because it lost the run
 * (its heartbeat expired and the run was given to another worker).
 */
export async function heartbeat(sql: SqlClient, runId: string, workerId: string): Promise<"continue" | "cancel" | "lost"> {
  const rows = await sql.query<{ cancel_requested: boolean }>(
    `UPDATE run SET heartbeat_at = now() WHERE id = $1 AND worker_id = $2 AND status = 'RUNNING'
     RETURNING cancel_requested`,
    [runId, workerId],
  );
  if (rows.length === 0) return "lost";
  return rows[0].cancel_requested ? "cancel" : "continue";
}

/**
 * What becomes of a RUNNING run nobody holds any more: back in the queue, or CANCELLED
 * when a cancel was requested while it ran (its worker died before it could stop).
 */
const ORPHAN_OUTCOME = `status = CASE WHEN cancel_requested THEN 'CANCELLED'::run_status ELSE 'QUEUED'::run_status END,
        finished_at = CASE WHEN cancel_requested THEN now() ELSE finished_at END,
        worker_id = NULL`;

/** Re-queues (or, when their cancel was requested, cancels) RUNNING runs whose heartbeat is older than the timeout; returns the re-queued ids. */
export async function requeueExpired(sql: SqlClient, timeoutMs: number): Promise<string[]> {
  const rows = await sql.query<{ id: string; status: RunStatus }>(
    `UPDATE run SET ${ORPHAN_OUTCOME}
      WHERE status = 'RUNNING' AND heartbeat_at < now() - make_interval(secs => $1::float8 / 1000)
      RETURNING id, status`,
    [timeoutMs],
  );
  return rows.filter((r) => r.status === "QUEUED").map((r) => r.id);
}

/** With a store no other process uses: every RUNNING run not held by this worker is orphaned (re-queued, or cancelled as requested). */
export async function requeueOrphans(sql: SqlClient, workerId: string): Promise<string[]> {
  const rows = await sql.query<{ id: string; status: RunStatus }>(
    `UPDATE run SET ${ORPHAN_OUTCOME}
      WHERE status = 'RUNNING' AND worker_id IS DISTINCT FROM $1 RETURNING id, status`,
    [workerId],
  );
  return rows.filter((r) => r.status === "QUEUED").map((r) => r.id);
}

/** Stores a checkpoint, only while this worker still holds the run. */
export async function saveCheckpoint(sql: SqlClient, runId: string, workerId: string, checkpoint: Buffer): Promise<boolean> {
  const n = await sql.execute(
    `UPDATE run SET checkpoint = $3, checkpoint_at = now(), heartbeat_at = now()
      WHERE id = $1 AND worker_id = $2 AND status = 'RUNNING'`,
    [runId, workerId, checkpoint],
  );
  return n === 1;
}

export interface Outcome {
  status: EndedStatus;
  metrics?: unknown;
  error?: string;
}

/** Ends a run held by this worker. False when the worker no longer holds it. */
export async function finishRun(sql: SqlClient, runId: string, workerId: string, outcome: Outcome): Promise<boolean> {
  const n = await sql.execute(
    `UPDATE run SET status = $3::run_status, metrics = COALESCE($4::jsonb, metrics), error = $5,
            finished_at = now(), heartbeat_at = now(), worker_id = NULL
      WHERE id = $1 AND worker_id = $2 AND status = 'RUNNING'`,
    [runId, workerId, outcome.status, outcome.metrics === undefined ? null : JSON.stringify(outcome.metrics), outcome.error ?? null],
  );
  return n === 1;
}
