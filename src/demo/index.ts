/** The synthetic music world (Rubato's default demo data) and its signal check. */
export { daypartOf, DEFAULT_WORLD_SIZE, DEFAULT_WORLD_START, generateWorld } from "./world";
export type { Genre, Persona, ResolvedWorldOptions, World, WorldEvent, WorldOptions, WorldTrack, WorldUser } from "./world";
export { DAYPARTS, PERSONAS } from "./personas";
export { STYLE_AXES } from "./catalog";
export { worldDigest } from "./digest";
export { formatSignalCheck, signalCheck } from "./signal-check";
export type { PredictionScore, SignalCheckOptions, SignalCheckResult } from "./signal-check";
export { Rng } from "../random";
