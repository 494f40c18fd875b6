import { loadDemoWorld } from "../../src/data/demo-data";
import { generateWorld } from "../../src/demo/world";
import { storeStats } from "../../src/store/stats";
import { openTestStore, backendName } from "../helpers/store";

describe(`demo world in the store (${backendName})`, () => {
  it("loads every generated play, and loading the same seed again adds nothing", async () => {
    const store = await openTestStore();
    try {
      const options = { users: 40, tracks: 150, days: 3, seed: 11 };
      const expected = [...generateWorld(options).events()];
      const first = await loadDemoWorld(store, options);
      expect(first.tracks.tracksCreated).toBe(150);
      expect(first.events.inserted).toBe(expected.length);
      const stats = await storeStats(store);
      expect(stats).toMatchObject({ tracks: 150, tracksWithEmbedding: 150, events: expected.length, embeddingDim: 80 });
      expect(stats.users).toBe(new Set(expected.map((e) => e.userExternalId)).size);

      const second = await loadDemoWorld(store, options);
      expect(second.events).toMatchObject({ inserted: 0, duplicates: expected.length });
      expect((await storeStats(store)).events).toBe(expected.length);

      // Spot-check one play round-trips with its signals.
      const e = expected[Math.floor(expected.length / 2)];
      const row = await store.prisma.listeningEvent.findFirst({
        where: { user: { externalId: e.userExternalId }, track: { externalId: e.trackExternalId }, playedAt: e.playedAt },
      });
      expect(row).toMatchObject({ skipped: e.skipped, liked: e.liked, addedToPlaylist: e.addedToPlaylist, restarted: e.restarted, msPlayed: e.msPlayed });
    } finally {
      await store.close();
    }
  });
});
