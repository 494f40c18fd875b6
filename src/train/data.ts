/**
 * The training data of a spec from the store: the catalogue, every user's
 * history (streamed) and the dataset the feature layer builds from them.
 */
import type { Store } from "../store/store";
import { countEvents, loadCatalogue, streamHistories } from "../store/history";
import { buildDataset, type Dataset } from "../features/dataset";
import type { Catalogue, UserHistory } from "../features/history";
import type { ModelSpec } from "../spec/schema";

export interface TrainingDataOptions {
  /** Only the first N users (in user-id order): quick runs on a big store. */
  maxUsers?: number;
  /** Ignore plays after this instant. */
  cutoff?: Date;
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

export async function loadTrainingData(store: Store, spec: ModelSpec, options: TrainingDataOptions = {}): Promise<TrainingData> {
  const catalogue = await loadCatalogue(store);
  if (catalogue.dim === 0 || catalogue.externalIds.length === 0) {
    throw new Error("the store has no tracks with embeddings: load data first (rubato demo-data, or rubato import tracks)");
  }
  let histories: AsyncIterable<UserHistory> = streamHistories(store, { catalogue, upTo: options.cutoff });
  if (options.maxUsers !== undefined) histories = take(histories, options.maxUsers);
  // With maxUsers the count overshoots; the columns are then trimmed at the end.
  const capacity = await countEvents(store, { upTo: options.cutoff });
  const dataset = await buildDataset(histories, catalogue, spec, { cutoff: options.cutoff, capacity });
  if (dataset.n === 0)
    throw new Error(
      "the store has no listening histories with a next play to predict: load events first (rubato demo-data, or rubato import events)",
    );
  return { dataset, catalogue };
}
