/** PostgreSQL advisory locks: no table, a key that cooperating processes agree on. */
import type { SqlClient } from "./sql";

/**
 * Takes the transaction-scoped advisory lock (key, 0) in `tx`, waiting for it when
 * another holds it (onWait is called first). Held until the transaction ends:
 * a process that dies releases it with its connection.
 */
export async function advisoryXactLock(tx: SqlClient, key: number, onWait?: () => void): Promise<void> {
  const [{ free }] = await tx.query<{ free: boolean }>("SELECT pg_try_advisory_xact_lock($1, 0) AS free", [key]);
  if (free) return;
  onWait?.();
  await tx.query("SELECT pg_advisory_xact_lock($1, 0)", [key]);
}
