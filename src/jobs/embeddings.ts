import type { Catalogue } from "../features/history";
import type { FeatureStats } from "../features/features";
import { concatRows, featuresForServing } from "../features/serving";
import type { ModelSpec } from "../spec/schema";
import { streamHistories } from "../store/history";
import { csvLine, pgArray } from "../store/sql";
import type { Store } from "../store/store";
import { copyUserEmbeddings, deleteUserEmbeddings } from "../store/user-embeddings";
import { testPause } from "../test-hooks";

export type EmbedBatch = (
  n: number,
  fast: Float32Array,
  mask: Float32Array,
  slow: Float32Array,
  /** [n, D]: x_b when the model reads the bag of plays (else empty). */
  bag: Float32Array,
) => Promise<{ mu: Float32Array; sigma: Float32Array | null }>;

/**
 * Every user's latent state (mu, sigma) as of the data cut-off, through the
 * serving feature path, embedded in batches and loaded with COPY.
 *
 * Not one transaction: the rows of a run that has not SUCCEEDED are read by
 * nothing (serving embeds users itself), and the run's earlier rows are deleted
 * first, so a run interrupted here (kill -9, or `signal`) and resumed replaces
 * what it had written instead of colliding with it.
 * `signal` stops it between users and after each batch it stores.
 */
export async function storeUserEmbeddings(
  store: Store,
  runId: string,
  spec: ModelSpec,
  stats: FeatureStats,
  catalogue: Catalogue,
  cutoff: Date | null,
  embed: EmbedBatch,
  { batchSize = 1024, signal, bag: readsBag = false }: { batchSize?: number; signal?: AbortSignal; bag?: boolean } = {},
): Promise<number> {
  let users: { id: number; asOf: Date }[] = [];
  let fast: Float32Array[] = [];
  let mask: Float32Array[] = [];
  let slow: Float32Array[] = [];
  let bag: Float32Array[] = [];
  let stored = 0;
  const flush = async () => {
    if (!users.length) return;
    const n = users.length;
    const { mu, sigma } = await embed(n, concatRows(fast), concatRows(mask), concatRows(slow), concatRows(bag));
    const k = mu.length / n;
    let csv = "";
    for (let i = 0; i < n; i++) {
      csv += csvLine([
        runId,
        users[i].id,
        users[i].asOf,
        pgArray(mu.subarray(i * k, (i + 1) * k)),
        sigma ? pgArray(sigma.subarray(i * k, (i + 1) * k)) : null,
      ]);
    }
    await copyUserEmbeddings(store.sql, csv);
    stored += n;
    await testPause("evaluation", signal);
    signal?.throwIfAborted();
    users = [];
    fast = [];
    mask = [];
    slow = [];
    bag = [];
  };
  await deleteUserEmbeddings(store, runId);
  for await (const history of streamHistories(store, { catalogue, upTo: cutoff ?? undefined })) {
    signal?.throwIfAborted();
    const f = featuresForServing(history, catalogue, spec, stats, cutoff ?? undefined, { bag: readsBag });
    if (!f) continue;
    users.push({ id: history.userId, asOf: cutoff ?? new Date(f.time) });
    fast.push(f.fast);
    mask.push(f.mask);
    slow.push(f.slow);
    bag.push(f.bag);
    if (users.length >= batchSize) await flush();
  }
  await flush();
  return stored;
}
