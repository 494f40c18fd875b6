export * from "../spec/vocabulary";
export {
  FLAG,
  RAW_COUNTS,
  RAW_INDEX,
  daypartOfMs,
  hoursBetween,
  markLikedTracks,
  historyFrom,
  type RawCount,
  type UserHistory,
  type Catalogue,
  type ServingHistory,
} from "./history";
export {
  addPlay,
  newCounts,
  slowRaw,
  transformSlow,
  fitFeatureStats,
  fastFeatures,
  playsToRead,
  writeTarget,
  hashSeed,
  permutation,
  type FeatureStats,
} from "./features";
export {
  buildDataset,
  datasetBytes,
  datasetBytesPerPlay,
  ensureBag,
  pointFeatures,
  pointTime,
  targetTime,
  userHistory,
  writePoint,
  SPLITS,
  type Dataset,
  type BuildOptions,
  type PointBuffers,
  type SplitName,
} from "./dataset";
export { featuresForServing, type ServingFeatures } from "./serving";
export { BAG_BLOCK, bagOfCounts, bagOfHistory, type PlayBag } from "./bag";
export * from "./embed";
