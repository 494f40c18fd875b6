import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { GraphQLDateTime } from "graphql-scalars";
import type { ApiContext } from "../context";
import { perItem, perListed, perPlays } from "../limits";
import { Metric, RecordPlaysInput, RecordPlaysPayload, Track, TrackNeighbour, UserEmbedding } from "./types";

@Resolver()
export class ServingResolver {
  @Query(() => UserEmbedding, {
    description:
      "A user's latent state (mu, sigma; fast and slow parts) under the active or given run, from their plays up to asOf (default: now)",
  })
  async userEmbedding(
    @Arg("userId", () => ID) userId: string,
    @Ctx() { serving }: ApiContext,
    @Arg("runId", () => ID, { nullable: true }) runId?: string | null,
    @Arg("asOf", () => GraphQLDateTime, { nullable: true }) asOf?: Date | null,
  ): Promise<UserEmbedding> {
    return serving.userEmbedding({ userId, runId, asOf });
  }

  @Query(() => [UserEmbedding], {
    nullable: "items",
    description:
      "Up to 1,000 users' userEmbedding under one run (the active or given), in the order asked, in the same batches as single requests; null where a user cannot be embedded, with that user's error (path userEmbeddings.INDEX)",
    complexity: perListed("userIds"),
  })
  async userEmbeddings(
    @Arg("userIds", () => [ID]) userIds: string[],
    @Ctx() { serving }: ApiContext,
    @Arg("runId", () => ID, { nullable: true }) runId?: string | null,
    @Arg("asOf", () => GraphQLDateTime, { nullable: true }) asOf?: Date | null,
  ): Promise<(UserEmbedding | Error)[]> {
    // An Error in the list is that item's error: GraphQL answers null there and reports it with the item's path.
    return serving.userEmbeddings({ userIds, runId, asOf });
  }

  @Query(() => [TrackNeighbour], {
    description:
      "With trackId: the k nearest catalogue tracks to it. With userId: the next-track neighbours, the k tracks nearest to the decoded user state. Exactly one of the two. Only tracks with an embedding (not the zero vector) are neighbours.",
    complexity: perItem("k", 10),
  })
  async similarTracks(
    @Ctx() { serving }: ApiContext,
    @Arg("trackId", () => ID, { nullable: true }) trackId?: string | null,
    @Arg("userId", () => ID, { nullable: true }) userId?: string | null,
    @Arg("k", () => Int, { defaultValue: 10 }) k?: number,
    @Arg("runId", () => ID, { nullable: true }) runId?: string | null,
    @Arg("excludeRecent", () => Boolean, {
      defaultValue: false,
      description: "With userId: leave out the tracks of the user's last window of plays",
    })
    excludeRecent?: boolean,
    @Arg("metric", () => Metric, { nullable: true, description: "Default l2" }) metric?: Metric | null,
  ): Promise<TrackNeighbour[]> {
    const result = await serving.similarTracks({ trackId, userId, k, runId, excludeRecent, metric });
    return result.neighbours;
  }

  @Mutation(() => RecordPlaysPayload, {
    description:
      "Appends listening events (users are created on first sight); one bad play rejects the whole batch with its index and reason",
    complexity: perPlays,
  })
  async recordPlays(
    @Arg("input", () => RecordPlaysInput) input: RecordPlaysInput,
    @Ctx() { serving }: ApiContext,
  ): Promise<RecordPlaysPayload> {
    return { ...(await serving.recordPlays(input.plays)), clientMutationId: input.clientMutationId ?? null };
  }
}

@Resolver(() => TrackNeighbour)
export class TrackNeighbourResolver {
  @FieldResolver(() => Track)
  async track(@Root() n: TrackNeighbour, @Ctx() { tracks }: ApiContext): Promise<Track> {
    return (await tracks.load(n.trackId))!;
  }
}
