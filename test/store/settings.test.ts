/**
 * The `setting` table through both of catalog.ts's paths: Prisma for plain reads and
 * writes, raw SQL inside transactions and for the atomic counters. What one path
 * writes the other must read back the same (numbers, dates, nested objects), under
 * the keys existing stores already hold.
 */
import { unfinishedDemoWorld } from "../../src/data/demo-data";
import {
  bumpCatalogVersion,
  clearDemoWorldMark,
  clearEmbeddingProvenance,
  demoWorldMark,
  embeddingDimIn,
  getCatalogVersion,
  getEmbeddingDim,
  getEmbeddingProvenance,
  getEventStats,
  markDemoWorld,
  setEmbeddingDim,
  setEmbeddingProvenance,
  type EmbeddingProvenance,
} from "../../src/store/catalog";
import { loadTracks } from "../../src/store/import/tracks";
import { appendPlays, type NewPlay } from "../../src/store/plays";
import type { Store } from "../../src/store/store";
import { backendName, openTestStore } from "../helpers/store";

describe(`settings in the store (${backendName})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
  });
  afterAll(() => store.close());

  const stored = async (key: string) => (await store.prisma.setting.findUnique({ where: { key } }))?.value;

  it("the embedding dimension: a transaction's write is Prisma's read, a Prisma write is the transaction's read, a rollback writes nothing", async () => {
    expect(await getEmbeddingDim(store)).toBeNull();
    expect(await store.transaction((tx) => embeddingDimIn(tx))).toBeNull();

    await store.transaction((tx) => setEmbeddingDim(tx, 24));
    expect(await getEmbeddingDim(store)).toBe(24);
    expect(await stored("embedding_dim")).toBe(24); // a JSON number under the key existing stores hold

    await store.prisma.setting.update({ where: { key: "embedding_dim" }, data: { value: 16 } });
    expect(await store.transaction((tx) => embeddingDimIn(tx))).toBe(16);

    const rolledBack = store.transaction(async (tx) => {
      await setEmbeddingDim(tx, 32);
      expect(await embeddingDimIn(tx)).toBe(32);
      throw new Error("roll back");
    });
    await expect(rolledBack).rejects.toThrow("roll back");
    expect(await getEmbeddingDim(store)).toBe(16);
  });

  it("the embeddings' provenance: written in a transaction, read through Prisma with its dates to the millisecond", async () => {
    const learnt: EmbeddingProvenance = {
      learntAt: new Date("2026-11-30T08:15:42.123Z"),
      until: null,
      newestPlay: new Date("2026-11-29T23:59:59.999Z"),
      plays: 1_234_567,
      dim: 24,
      window: 5,
      minCount: 2,
      weighting: "pmi",
      sessions: { gapMinutes: 30 },
      normalized: true,
    };
    expect(await getEmbeddingProvenance(store)).toBeNull();
    await store.transaction((tx) => setEmbeddingProvenance(tx, learnt));
    const read = await getEmbeddingProvenance(store);
    expect(read).toEqual(learnt);
    expect(read!.learntAt).toBeInstanceOf(Date);
    expect(await stored("embedding_provenance")).toMatchObject({ learntAt: "2026-11-30T08:15:42.123Z", until: null });

    const withCutoff = { ...learnt, until: new Date("2026-11-01T00:00:00.001Z"), sessions: null, normalized: false };
    await store.transaction((tx) => setEmbeddingProvenance(tx, withCutoff));
    expect(await getEmbeddingProvenance(store)).toEqual(withCutoff);

    await store.transaction((tx) => clearEmbeddingProvenance(tx));
    expect(await getEmbeddingProvenance(store)).toBeNull();
  });

  it("the catalogue version: 0 before any bump, and concurrent bumps are never lost", async () => {
    expect(await getCatalogVersion(store)).toBe(0);
    await Promise.all(Array.from({ length: 20 }, () => store.transaction((tx) => bumpCatalogVersion(tx))));
    expect(await getCatalogVersion(store)).toBe(20);
  });

  it("the demo-world mark: set (a JSON object, dates as ISO text), replaced, read, cleared; the other settings stay", async () => {
    expect(await demoWorldMark(store)).toBeNull();
    expect(await unfinishedDemoWorld(store)).toBeNull();
    const start = new Date("2026-10-01T12:00:00.000Z");
    await markDemoWorld(store, { users: 40, tracks: 150, days: 3, seed: 11, start });
    expect(await demoWorldMark(store)).toEqual({ users: 40, tracks: 150, days: 3, seed: 11, start: start.toISOString() });
    // An object in jsonb, not a JSON string holding one: what the raw reads of a path (value->>'start') see.
    const [row] = await store.sql.query<{ type: string; start: string }>(
      "SELECT jsonb_typeof(value) AS type, value->>'start' AS start FROM setting WHERE key = 'demo_world_loading'",
    );
    expect(row).toEqual({ type: "object", start: start.toISOString() });

    await markDemoWorld(store, { users: 5, tracks: 20, days: 1, seed: 2 });
    expect(await unfinishedDemoWorld(store)).toEqual({ users: 5, tracks: 20, days: 1, seed: 2 });
    await markDemoWorld(store, { users: 40, tracks: 150, days: 3, seed: 11, start });
    expect(await unfinishedDemoWorld(store)).toEqual({ users: 40, tracks: 150, days: 3, seed: 11, start });

    await clearDemoWorldMark(store);
    expect(await demoWorldMark(store)).toBeNull();
    await clearDemoWorldMark(store); // nothing to clear: no error
    expect(await getEmbeddingDim(store)).toBe(16);
    expect(await getCatalogVersion(store)).toBe(20);
  });

  it("the event counters: moved by each write, and counted again from the plays when a store has none", async () => {
    async function* tracks() {
      yield ["t1", "t2"].map((id, i) => ({ line: i + 1, externalId: id, title: null, artist: null, genre: null, embedding: null }));
    }
    await loadTracks(store, tracks());
    const play = (user: string, track: string, at: string): NewPlay => ({
      user,
      track,
      playedAt: new Date(at),
      skipped: false,
      liked: false,
      addedToPlaylist: false,
      restarted: false,
    });
    const { eventCount } = await appendPlays(store, [
      play("u1", "t1", "2026-01-02T00:00:00Z"),
      play("u1", "t2", "2026-01-05T00:00:00Z"),
      play("u2", "t1", "2026-01-03T00:00:00Z"),
    ]);
    expect(eventCount).toBe(3);
    const three = { count: 3, first: new Date("2026-01-02T00:00:00Z"), last: new Date("2026-01-05T00:00:00Z") };
    expect(await getEventStats(store.sql)).toEqual(three);

    await store.prisma.setting.delete({ where: { key: "event_stats" } });
    expect(await getEventStats(store.sql)).toEqual(three);
    await appendPlays(store, [play("u2", "t2", "2025-12-31T00:00:00Z")]);
    expect(await getEventStats(store.sql)).toEqual({ ...three, count: 4, first: new Date("2025-12-31T00:00:00Z") });
  });
});
