/** The API's object and input types (type-graphql classes; the fields are the schema). */
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { GraphQLDateTime, GraphQLJSON } from "graphql-scalars";
import { RunStatus } from "../../store/runs";

/** Prisma's enum (schema.prisma), the one definition of the run statuses. */
export { RunStatus };
type RunStatusValue = RunStatus;
registerEnumType(RunStatus, { name: "RunStatus", description: "Where a training run stands" });

export enum ProgressKind {
  STEP = "STEP",
  EPOCH = "EPOCH",
  STATUS = "STATUS",
}
registerEnumType(ProgressKind, { name: "ProgressKind" });

export enum Metric {
  l2 = "l2",
  cosine = "cosine",
}
registerEnumType(Metric, { name: "Metric", description: "Distance between track embeddings" });

@ObjectType({ description: "A persisted point of a run's training curves" })
export class CurvePoint {
  @Field(() => Int) seq!: number;
  @Field(() => ProgressKind) kind!: ProgressKind;
  @Field(() => Int) epoch!: number;
  @Field(() => Int) step!: number;
  @Field(() => GraphQLJSON, { description: "loss, reconstruction, kl, beta, samples/s; validation metrics on epochs" }) values!: unknown;
  @Field(() => GraphQLDateTime) at!: Date;
}

@ObjectType({ description: "A training run: a resolved spec, a seed and a data cut-off, queued, trained and evaluated" })
export class Run {
  @Field(() => ID) id!: string;
  @Field({ description: "The spec's name" }) model!: string;
  @Field(() => RunStatus) status!: RunStatusValue;
  @Field(() => Int) seed!: number;
  @Field() specHash!: string;
  @Field({ description: "The resolved spec (YAML after extends)" }) spec!: string;
  @Field(() => GraphQLDateTime, { nullable: true, description: "The newest play the run trains on" }) dataCutoff!: Date | null;
  @Field(() => GraphQLJSON, { nullable: true, description: "The latest step or epoch report" }) progress!: unknown;
  @Field(() => GraphQLJSON, { nullable: true, description: "Test metrics, active latent units, timings (when finished)" })
  metrics!: unknown;
  @Field(() => String, { nullable: true, description: "Why the run failed, with the stage it failed in" }) error!: string | null;
  @Field(() => GraphQLDateTime) createdAt!: Date;
  @Field(() => GraphQLDateTime, { nullable: true }) startedAt!: Date | null;
  @Field(() => GraphQLDateTime, { nullable: true }) finishedAt!: Date | null;
  @Field(() => GraphQLDateTime, { nullable: true }) heartbeatAt!: Date | null;
  @Field(() => Int) attempts!: number;
  @Field({ description: "Serving uses this run" }) active!: boolean;
  @Field(() => Int, { nullable: true, description: "1 = next to train (QUEUED runs only)" }) queuePosition!: number | null;
  @Field({ description: "The run stored a trained model" }) hasModel!: boolean;
}

@ObjectType()
export class PageInfo {
  @Field() hasNextPage!: boolean;
  @Field({ description: "Always false: lists page forwards only" }) hasPreviousPage!: boolean;
  @Field(() => String, { nullable: true }) startCursor!: string | null;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

@ObjectType({ description: "A catalogue track" })
export class Track {
  @Field(() => ID, { description: "The external id it was imported with" }) id!: string;
  @Field(() => String, { nullable: true }) title!: string | null;
  @Field(() => String, { nullable: true }) artist!: string | null;
  @Field(() => String, { nullable: true }) genre!: string | null;
  @Field(() => [Float], { nullable: true, description: "Null when the track has none (a stored zero vector counts as none)" })
  embedding!: number[] | null;
}

@ObjectType({ description: "A listener" })
export class User {
  @Field(() => ID) id!: string;
  @Field(() => GraphQLDateTime) createdAt!: Date;
}

@ObjectType({ description: "One listening event" })
export class Play {
  @Field(() => ID) userId!: string;
  /** Resolved to `track` by a field resolver. */
  trackId!: string;
  @Field(() => GraphQLDateTime) playedAt!: Date;
  @Field() skipped!: boolean;
  @Field() liked!: boolean;
  @Field() addedToPlaylist!: boolean;
  @Field() restarted!: boolean;
}

@ObjectType({ description: "A Gaussian posterior: mean and standard deviation per latent unit" })
export class Latent {
  @Field(() => [Float]) mu!: number[];
  @Field(() => [Float], { nullable: true, description: "Null for a deterministic latent" }) sigma!: number[] | null;
}

@ObjectType({ description: "A user's representation under a run's model, from their plays up to asOf" })
export class UserEmbedding {
  @Field(() => ID) userId!: string;
  @Field(() => ID) runId!: string;
  @Field(() => String, { name: "model" }) modelName!: string;
  @Field(() => GraphQLDateTime, { description: "The time asked for, or the user's last play" }) asOf!: Date;
  @Field(() => Int, { description: "Plays up to asOf" }) plays!: number;
  @Field(() => [Float], {
    description:
      "The user embedding: the mean of q(z | x) for fs-vae; the deterministic user state for jodie (projected and static user vectors) and latent-cross (the crossed RNN state)",
  })
  mu!: number[];
  @Field(() => [Float], { nullable: true, description: "Null for a deterministic model" }) sigma!: number[] | null;
  @Field(() => Latent, { nullable: true, description: "q(z_s | x_s): the fast part, from the last plays (fs-vae; null for other models)" })
  fast!: Latent | null;
  @Field(() => Latent, { nullable: true, description: "q(z_n | x_n): the slow part, from the aggregates (fs-vae; null for other models)" })
  slow!: Latent | null;
  @Field(() => [Float], {
    description:
      "The model's predicted next track's embedding at the user's state (fs-vae: the decoder's output at z = mu); similarTracks by user searches from it",
  })
  nextTrack!: number[];
}

@ObjectType({ description: "A track and its distance to the query (l2, or 1 - cosine similarity)" })
export class TrackNeighbour {
  /** Resolved to `track` by a field resolver. */
  trackId!: string;
  @Field(() => Float) distance!: number;
}

@ObjectType({ description: "A problem in a spec, at its source position" })
export class SpecProblem {
  @Field() file!: string;
  @Field(() => Int, { description: "1-based; 0 when the value came from no file (overrides)" }) line!: number;
  @Field(() => Int) column!: number;
  @Field({ description: "Dotted key path, e.g. encoders.fast.units" }) path!: string;
  @Field() message!: string;
}

@ObjectType()
export class LayerSummary {
  @Field() name!: string;
  @Field() kind!: string;
  @Field({ description: "Output shape, b = batch" }) shape!: string;
  @Field(() => Int) params!: number;
  @Field() note!: string;
}

@ObjectType()
export class SpecValidation {
  @Field() valid!: boolean;
  @Field(() => [SpecProblem]) errors!: SpecProblem[];
  @Field(() => [SpecProblem]) warnings!: SpecProblem[];
  @Field(() => String, { nullable: true }) name!: string | null;
  @Field(() => String, { nullable: true }) hash!: string | null;
  @Field(() => String, { nullable: true, description: "The resolved spec (YAML after extends)" }) resolved!: string | null;
  @Field(() => [LayerSummary], { nullable: true, description: "The compiled graph, learned models only" }) layers!: LayerSummary[] | null;
  @Field(() => Int, { nullable: true }) parameterCount!: number | null;
}

export enum ModelSource {
  SHIPPED = "SHIPPED",
  STORED = "STORED",
}
registerEnumType(ModelSource, { name: "ModelSource", description: "SHIPPED: models/*.yaml; STORED: the spec of an earlier run" });

@ObjectType({ description: "A spec startTraining accepts by name" })
export class ModelInfo {
  @Field() name!: string;
  @Field(() => ModelSource) source!: ModelSource;
  @Field() type!: string;
  @Field() description!: string;
  @Field(() => [String]) parents!: string[];
  @Field({ description: "The resolved spec" }) spec!: string;
  @Field() hash!: string;
}

@ObjectType({ description: "A report from a training run: a step, an epoch, or a change of status" })
export class TrainingProgress {
  @Field(() => ID) runId!: string;
  @Field(() => ProgressKind) kind!: ProgressKind;
  @Field(() => RunStatus) status!: RunStatusValue;
  @Field(() => Int, { nullable: true }) epoch!: number | null;
  @Field(() => Int, { nullable: true }) epochs!: number | null;
  @Field(() => Int, { nullable: true }) step!: number | null;
  @Field(() => Int, { nullable: true }) totalSteps!: number | null;
  @Field(() => Float, { nullable: true }) loss!: number | null;
  @Field(() => Float, { nullable: true }) reconstruction!: number | null;
  @Field(() => Float, { nullable: true }) kl!: number | null;
  @Field(() => Float, { nullable: true }) samplesPerSecond!: number | null;
  @Field(() => Float, { nullable: true }) etaSeconds!: number | null;
  @Field(() => Float, { nullable: true }) validationLoss!: number | null;
  @Field(() => GraphQLJSON, { nullable: true, description: "The whole report" }) values!: unknown;
  @Field(() => String, { nullable: true }) error!: string | null;
}

// Mutations follow the Relay convention: one `input` argument, a payload type
// back, and an optional clientMutationId echoed from the one to the other.

@InputType()
abstract class MutationInput {
  @Field(() => String, { nullable: true, description: "Any string; the payload carries it back (Relay's mutation convention)" })
  clientMutationId?: string | null;
}

@ObjectType()
abstract class MutationPayload {
  @Field(() => String, { nullable: true, description: "The input's clientMutationId" }) clientMutationId!: string | null;
}

@InputType()
export class StartTrainingInput extends MutationInput {
  @Field(() => String, { nullable: true, description: "A shipped or stored spec's name (see models)" }) model?: string | null;
  @Field(() => String, { nullable: true, description: "Spec YAML text; may `extends` a shipped spec" }) spec?: string | null;
  @Field(() => GraphQLJSON, { nullable: true, description: 'Changes to the resolved spec, e.g. {"training": {"epochs": 3}}' })
  overrides?: unknown;
  @Field(() => Int, { nullable: true }) seed?: number | null;
}

@InputType({ description: "A listening event to append" })
export class PlayInput {
  @Field(() => ID) userId!: string;
  @Field(() => ID) trackId!: string;
  @Field(() => GraphQLDateTime) playedAt!: Date;
  @Field(() => Boolean, { nullable: true }) skipped?: boolean | null;
  @Field(() => Boolean, { nullable: true }) liked?: boolean | null;
  @Field(() => Boolean, { nullable: true }) addedToPlaylist?: boolean | null;
  @Field(() => Boolean, { nullable: true }) restarted?: boolean | null;
}

@InputType()
export class RecordPlaysInput extends MutationInput {
  @Field(() => [PlayInput], { description: "At most 10,000 plays; one bad play rejects the whole batch" }) plays!: PlayInput[];
}

@InputType()
export class CancelTrainingInput extends MutationInput {
  @Field(() => ID) runId!: string;
}

@InputType()
export class ActivateRunInput extends MutationInput {
  @Field(() => ID, { description: "A SUCCEEDED run with a model" }) runId!: string;
}

@ObjectType()
export class StartTrainingPayload extends MutationPayload {
  @Field(() => Run, { description: "The queued run" }) run!: Run;
}

@ObjectType()
export class CancelTrainingPayload extends MutationPayload {
  @Field(() => Run, { description: "The run: CANCELLED, or still RUNNING until its current step ends" }) run!: Run;
}

@ObjectType()
export class ActivateRunPayload extends MutationPayload {
  @Field(() => Run, { description: "The run serving now uses" }) run!: Run;
}

@ObjectType()
export class RecordPlaysPayload extends MutationPayload {
  @Field(() => Int) recorded!: number;
  @Field(() => Int, { description: "Plays already stored (same user, track and time), not written again" }) duplicates!: number;
  @Field(() => Int) usersCreated!: number;
}

type Class<T> = new () => T;

/** A Relay-style connection type for a node type: edges { node cursor } and pageInfo. */
function connection<T>(Node: Class<T>, name: string) {
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field(() => Node) node!: T;
    @Field() cursor!: string;
  }
  @ObjectType(`${name}Connection`)
  class Connection {
    @Field(() => [Edge]) edges!: Edge[];
    @Field(() => PageInfo) pageInfo!: PageInfo;
  }
  return Connection;
}

export const RunConnection = connection(Run, "Run");
export const TrackConnection = connection(Track, "Track");
export const UserConnection = connection(User, "User");
