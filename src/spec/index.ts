export { SpecSchema, MODEL_TYPES, LEARNED_TYPES, type ModelSpec, type ModelType } from "./schema";
export { formatSpecError, type SpecError } from "./errors";
export {
  parseSpec,
  applyOverrides,
  mapResolver,
  canonicalYaml,
  specHash,
  type ParseOptions,
  type SpecResult,
  type SpecSource,
} from "./resolve";
export { loadSpec, listShippedSpecs, type LoadOptions, type ShippedSpec } from "./load";
export { specDimensions, type SpecDimensions } from "./dimensions";
export { specReference } from "./reference";
export { checkMemory, estimateMemory, memoryBudget, bytesPerPlay, formatBytes, type MemoryEstimate, type MemoryBudget } from "./memory";
export { CROSS_RULES } from "./checks";
export * from "./vocabulary";
