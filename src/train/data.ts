/**
 * The training data of a spec from the store: the catalogue, every user's
 * history (streamed) and the dataset the feature layer builds from them.
 */
import type { Store } from "../store/store";
import { countEvents, loadCatalogue, streamHistories } from "../store/history";
import { buildDataset, type Dataset } from "../features/dataset";
import type { Catalogue, UserHistory } from "../features/history";
import type { ModelSpec } from "../spec/schema";
import { testPause } from "../test-hooks";

export interface TrainingDataOptions {
  /** Only the first N users (in user-id order): quick runs on a big store. */
  maxUsers?: number;
  /** Ignore plays after this instant. */
  cutoff?: Date;
  /** Stops the build at the next user once aborted (rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface TrainingData {
  dataset: Dataset;
  catalogue: Catalogue;
}

/** The first `n` items of an async iterable; stops the source early (its finally blocks run). */
async function* take<T>(source: AsyncIterable<T>, n: number): AsyncGenerator<T> {
  if (n <= 0) return;
  let i = 0;
  for await (const item of source) {
    yield item;
    if (++i >= n) return;
  }
}

/** The source, throwing at the next item once the signal aborts. */
async function* abortable<T>(source: AsyncIterable<T>, signal?: AbortSignal): AsyncGenerator<T> {
  let first = true;
  for await (const item of source) {
    signal?.throwIfAborted();
    yield item;
    if (first) await testPause("dataset", signal);
    first = false;
  }
}

export async function loadTrainingData(store: Store, spec: ModelSpec, options: TrainingDataOptions = {}): Promise<TrainingData> {
  const catalogue = await loadCatalogue(store);
  options.signal?.throwIfAborted();
  if (catalogue.dim === 0 || catalogue.externalIds.length === 0) {
    throw new Error("the store has no tracks with embeddings: load data first (rubato demo-data, or rubato import tracks)");
  }
  let histories: AsyncIterable<UserHistory> = streamHistories(store, { catalogue, upTo: options.cutoff });
  if (options.maxUsers !== undefined) histories = take(histories, options.maxUsers);
  // An exact capacity allocates the columns once; with maxUsers the store's count would overshoot.
  const capacity = options.maxUsers === undefined ? await countEvents(store, { upTo: options.cutoff }) : undefined;
  const dataset = await buildDataset(abortable(histories, options.signal), catalogue, spec, { cutoff: options.cutoff, capacity });
  options.signal?.throwIfAborted();
  if (dataset.n === 0)
    throw new Error(
      "the store has no listening histories with a next play to predict: load events first (rubato demo-data, or rubato import events)",
    );
  return { dataset, catalogue };
}
