import { migrate, readMigrations } from "../../src/store/migrate";
import { openTestStore, backendName } from "../helpers/store";

describe(`migrations (${backendName})`, () => {
  it("creates every table and records the history as Prisma does", async () => {
    const store = await openTestStore();
    try {
      const tables = await store.sql.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
      );
      expect(tables.map((t) => t.table_name)).toEqual(
        expect.arrayContaining([
          "_prisma_migrations",
          "app_user",
          "listening_event",
          "model_artifact",
          "run",
          "setting",
          "track",
          "user_embedding",
        ]),
      );
      const history = await store.sql.query<{
        migration_name: string;
        checksum: string;
        finished_at: Date | null;
        applied_steps_count: number;
      }>(`SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name`);
      const files = readMigrations();
      expect(history.map((h) => h.migration_name)).toEqual(files.map((m) => m.name));
      expect(history.map((h) => h.checksum)).toEqual(files.map((m) => m.checksum));
      expect(history.every((h) => h.finished_at !== null && h.applied_steps_count === 1)).toBe(true);
      // Prisma's client works against the migrated schema.
      const user = await store.prisma.user.create({ data: { externalId: "u1" } });
      expect(await store.prisma.user.findUnique({ where: { externalId: "u1" } })).toMatchObject({ id: user.id });
    } finally {
      await store.close();
    }
  });

  it("is idempotent and refuses a migration changed after it was applied", async () => {
    const store = await openTestStore();
    try {
      expect(await migrate(store)).toEqual([]);
      const changed = readMigrations().map((m) => ({ ...m, checksum: "0".repeat(64) }));
      await expect(migrate(store, changed)).rejects.toThrow(/was changed after it was applied/);
    } finally {
      await store.close();
    }
  });

  it("drops the HNSW indexes over track embeddings that older versions built on every write", async () => {
    const store = await openTestStore();
    try {
      // Any index by those names goes (an HNSW index needs pgvector, which the server pass lacks).
      await store.sql.execute("CREATE INDEX track_embedding_hnsw_l2_80 ON track (id)");
      await store.sql.execute("CREATE INDEX track_embedding_hnsw_cosine_80 ON track (external_id)");
      await store.sql.execute("CREATE INDEX track_external_id_other_idx ON track (external_id)");
      const indexes = async () =>
        (
          await store.sql.query<{ name: string }>(
            "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'track' AND indexname LIKE 'track\\_%' ORDER BY 1",
          )
        ).map((r) => r.name);
      expect(await indexes()).toEqual(expect.arrayContaining(["track_embedding_hnsw_cosine_80", "track_embedding_hnsw_l2_80"]));
      // As a store made before the migration: it runs now.
      await store.sql.execute(`DELETE FROM "_prisma_migrations" WHERE migration_name = '20261206120000_drop_hnsw'`);
      expect(await migrate(store)).toEqual(["20261206120000_drop_hnsw"]);
      const left = await indexes();
      expect(left.filter((n) => n.startsWith("track_embedding_hnsw"))).toEqual([]);
      expect(left).toContain("track_external_id_other_idx");
    } finally {
      await store.close();
    }
  });
});
