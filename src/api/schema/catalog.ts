import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from "type-graphql";
import { validateSpecText } from "../../jobs/models";
import { getTrack, getUser, pageTracks, pageUsers, recentPlays } from "../../store/browse";
import { NotFound } from "../../errors";
import type { ApiContext } from "../context";
import { COST, perItem } from "../limits";
import { toConnection, toSpecValidation } from "./map";
import { ModelInfo, ModelSource, Play, SpecValidation, Track, TrackConnection, User, UserConnection } from "./types";

@Resolver()
export class CatalogResolver {
  @Query(() => Track)
  track(@Arg("id", () => ID) id: string, @Ctx() { store }: ApiContext): Promise<Track> {
    return getTrack(store, id);
  }

  @Query(() => TrackConnection, { description: "Catalogue tracks in import order", complexity: perItem("first", 20) })
  async tracks(
    @Ctx() { store }: ApiContext,
    @Arg("first", () => Int, { defaultValue: 20 }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string | null,
  ) {
    return toConnection(await pageTracks(store, { first, after }), (t) => t);
  }

  @Query(() => User)
  user(@Arg("id", () => ID) id: string, @Ctx() { store }: ApiContext): Promise<User> {
    return getUser(store, id);
  }

  @Query(() => UserConnection, { description: "Listeners in the order they first appeared", complexity: perItem("first", 20) })
  async users(
    @Ctx() { store }: ApiContext,
    @Arg("first", () => Int, { defaultValue: 20 }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string | null,
  ) {
    return toConnection(await pageUsers(store, { first, after }), (u) => u);
  }

  @Query(() => [ModelInfo], {
    description: "Specs startTraining accepts by name: shipped ones and those of earlier runs",
    complexity: COST.models,
  })
  async models(@Ctx() { models }: ApiContext): Promise<ModelInfo[]> {
    return (await models()).map((m) => ({ ...m, source: ModelSource[m.source] }));
  }

  @Query(() => SpecValidation, {
    description: "Checks spec YAML as startTraining would, without training; valid specs come with the compiled graph",
    complexity: COST.spec,
  })
  async validateSpec(@Arg("spec") spec: string, @Ctx() { store }: ApiContext): Promise<SpecValidation> {
    return toSpecValidation(await validateSpecText(store, spec));
  }
}

@Resolver(() => User)
export class UserResolver {
  @FieldResolver(() => [Play], { description: "Newest first", complexity: perItem("first", 10) })
  async recentPlays(
    @Root() user: User,
    @Ctx() { store }: ApiContext,
    @Arg("first", () => Int, { defaultValue: 10 }) first: number,
  ): Promise<Play[]> {
    return (await recentPlays(store, user.id, first)).plays;
  }

  @FieldResolver(() => Int, { description: "All plays of the user" })
  async playCount(@Root() user: User, @Ctx() { store }: ApiContext): Promise<number> {
    return (await recentPlays(store, user.id, 0)).total;
  }
}

@Resolver(() => Play)
export class PlayResolver {
  @FieldResolver(() => Track)
  async track(@Root() play: Play, @Ctx() { tracks }: ApiContext): Promise<Track> {
    const track = await tracks.load(play.trackId);
    if (!track) throw new NotFound(`no track ${JSON.stringify(play.trackId)}`);
    return track;
  }
}
