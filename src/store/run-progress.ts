/**
 * Table `run_progress`: a run's curves (step and epoch reports, numbered by
 * `seq` per run), and the run's latest report (`run.progress`).
 */
import type { SqlClient } from "./sql";
import type { Store } from "./store";

/** A persisted progress report of a run (a row of run_progress). */
export interface CurvePoint {
  seq: number;
  /** "step" or "epoch". */
  kind: string;
  epoch: number;
  step: number;
  /** The report as JSON: the trainer's progress fields and `kind`. */
  values: unknown;
  at: Date;
}

/** A run's curves after report number `afterSeq` (all of them when absent), in order. */
export function runCurves(store: Store, runId: string, afterSeq?: number): Promise<CurvePoint[]> {
  return store.prisma.runProgress.findMany({
    where: afterSeq === undefined ? { runId } : { runId, seq: { gt: afterSeq } },
    orderBy: { seq: "asc" },
    select: { seq: true, kind: true, epoch: true, step: true, values: true, at: true },
  });
}

/** The number of a run's newest report; 0 when it has none. */
export async function lastCurveSeq(store: Store, runId: string): Promise<number> {
  const { _max } = await store.prisma.runProgress.aggregate({ where: { runId }, _max: { seq: true } });
  return _max.seq ?? 0;
}

/** Drops a run's reports after training step `step` (lost work a resumed run replays). */
export async function dropCurvesAfter(store: Store, runId: string, step: number): Promise<void> {
  await store.prisma.runProgress.deleteMany({ where: { runId, step: { gt: step } } });
}

/**
 * Records report number `seq` of a run: it becomes the run's latest (run.progress)
 * and a row of its curves (a number already stored is kept). Raw SQL through the
 * given client: the run executor writes reports through its yielding client
 * (src/jobs/execute.ts, yieldingSql), which Prisma's client would bypass.
 */
export async function recordProgress(
  sql: SqlClient,
  report: { runId: string; seq: number; kind: string; epoch: number; step: number; json: string },
): Promise<void> {
  await sql.query(`UPDATE run SET progress = $2::jsonb WHERE id = $1`, [report.runId, report.json]);
  await sql.query(
    `INSERT INTO run_progress (run_id, seq, kind, epoch, step, "values") VALUES ($1, $2, $3, $4, $5, $6::jsonb)
     ON CONFLICT (run_id, seq) DO NOTHING`,
    [report.runId, report.seq, report.kind, report.epoch, report.step, report.json],
  );
}

/**
 * Each run's validation reconstruction at its best epoch (the epoch report of
 * `metrics.best.epoch`; null when the run has none): how `rubato eval --beta-grid`
 * compares runs whose losses weight the KL differently.
 */
export async function bestEpochReconstruction(store: Store, runIds: readonly string[]): Promise<Map<string, number | null>> {
  const rows = await store.sql.query<{ id: string; reconstruction: number | null }>(
    `SELECT DISTINCT ON (p.run_id) p.run_id AS id, (p."values"->'validation'->>'reconstruction')::float8 AS reconstruction
       FROM run_progress p JOIN run r ON r.id = p.run_id
      WHERE p.run_id = ANY($1::uuid[]) AND p.kind = 'epoch' AND p.epoch = (r.metrics->'best'->>'epoch')::int
      ORDER BY p.run_id, p.seq DESC`,
    [runIds],
  );
  return new Map(rows.map((r) => [r.id, r.reconstruction === null ? null : Number(r.reconstruction)]));
}
