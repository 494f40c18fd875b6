/**
 * Reads of the run table that layers below the run service need (serving
 * asks which run to serve without depending on src/jobs).
 */
import type { Store } from "./store";

/** The run serving uses: the one marked active, else the newest successful run with a model; null when none has one. */
export async function servingRunId(store: Store): Promise<string | null> {
  const rows = await store.sql.query<{ id: string }>(
    `SELECT r.id FROM run r JOIN model_artifact a ON a.run_id = r.id
      WHERE r.status = 'SUCCEEDED' ORDER BY r.active DESC, r.finished_at DESC LIMIT 1`,
  );
  return rows.length ? rows[0].id : null;
}
