import { importEvents } from "../../src/store/import/formats";
import { importTracksFile } from "../../src/store/import/tracks";
import { storeStats } from "../../src/store/stats";
import type { Store } from "../../src/store/store";
import { openTestStore, backendName } from "../helpers/store";
import { itWithShared, sharedFile } from "../helpers/shared";

// Real data nobody here generated: MovieLens latest-small, ratings as plays, 4+ stars as a like.
describe(`MovieLens import (${backendName})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
  });
  afterAll(() => store.close());

  itWithShared("movielens-latest-small/ratings.csv")("imports ratings.csv with --format movielens", async () => {
    const movies = sharedFile("movielens-latest-small/movies.csv")!;
    const ratings = sharedFile("movielens-latest-small/ratings.csv")!;
    const tracks = await importTracksFile(store, movies, "csv", { map: "id=movieId,genre=genres" });
    expect(tracks).toMatchObject({ rows: 9742, tracksCreated: 9742, badRows: 0 });
    const events = await importEvents(store, ratings, { format: "movielens" });
    expect(events).toMatchObject({ rows: 100836, inserted: 100836, badRows: 0, usersCreated: 610, tracksCreated: 0 });
    const stats = await storeStats(store);
    expect(stats).toMatchObject({ users: 610, tracks: 9742, events: 100836 });
    expect(stats.firstPlay!.toISOString()).toBe("1996-03-29T18:36:55.000Z");
    const [likes] = await store.sql.query<{ liked: number }>("SELECT count(*)::int AS liked FROM listening_event WHERE liked");
    expect(likes.liked).toBe(48580); // ratings of 4.0 or more in the file
    const toy = await store.prisma.track.findUnique({ where: { externalId: "1" } });
    expect(toy?.genre).toBe("Adventure|Animation|Children|Comedy|Fantasy");
    // Importing the same file again adds nothing.
    const again = await importEvents(store, ratings, { format: "movielens" });
    expect(again).toMatchObject({ inserted: 0, duplicates: 100836 });
  });
});
