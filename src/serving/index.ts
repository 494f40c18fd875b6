export {
  Serving,
  MAX_K,
  type Latent,
  type Neighbour,
  type ServingOptions,
  type SimilarTracksInput,
  type SimilarTracksView,
  type UserEmbeddingView,
} from "./service";
export { MAX_PLAYS_PER_CALL, type BadPlay, type PlayInput, type RecordPlaysResult } from "./plays";
export type { BatchInfo } from "./embedder";
export { EXACT_SEARCH_BELOW, searchMethod, type Metric } from "./ivf";
export { NO_MODEL_YET } from "./models";
