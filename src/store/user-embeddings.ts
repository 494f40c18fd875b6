/** Table `user_embedding`: each user's latent state (mu, sigma) as of a run's data cut-off. */
import type { SqlClient } from "./sql";
import type { Store } from "./store";

/** The columns copyUserEmbeddings loads, in order: run_id, user_id, as_of, mu (real[]), sigma (real[] or empty for NULL). */
export const USER_EMBEDDING_COLUMNS = ["run_id", "user_id", "as_of", "mu", "sigma"] as const;

/** Deletes a run's user embeddings (a resumed run writes them again). */
export async function deleteUserEmbeddings(store: Store, runId: string): Promise<void> {
  await store.prisma.userEmbedding.deleteMany({ where: { runId } });
}

/** Loads rows (CSV lines of USER_EMBEDDING_COLUMNS, src/store/sql.ts csvLine) with COPY: the bulk path, not Prisma. */
export function copyUserEmbeddings(sql: SqlClient, csv: string): Promise<void> {
  return sql.copyCsv("user_embedding", USER_EMBEDDING_COLUMNS, csv);
}
