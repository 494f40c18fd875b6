/**
 * bytea (checkpoints, model weights) round-trips exactly through the raw-SQL client and
 * through Prisma, on PGlite with Rubato's Buffer-based codecs (src/store/bytea.ts) and on
 * the PostgreSQL server at DATABASE_URL when it is set.
 */
import crypto from "node:crypto";
import { PGlite } from "@electric-sql/pglite";
import { parseBytea, serializeBytea, withFastBytea, BYTEA } from "../../src/store/bytea";
import { saveArtifact, servableRun } from "../../src/store/artifacts";
import { enqueueRun } from "../../src/store/run-queue";
import type { Store } from "../../src/store/store";
import { backendName, openTestStore } from "../helpers/store";

const sizes = [0, 1, 255, 65_537, 3 * 1024 * 1024];
const bytesOf = (n: number) => new Uint8Array(crypto.randomBytes(n));

describe(`bytea on ${backendName}`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
  });
  afterAll(() => store.close());

  test.each(sizes)("%d bytes: a run's checkpoint column round-trips through the raw-SQL client", async (size) => {
    const runId = await enqueueRun(store.sql, { modelName: "m", specYaml: "y", specHash: `h${size}`, seed: size, dataCutoff: null });
    const bytes = bytesOf(size);
    await store.sql.execute("UPDATE run SET checkpoint = $2 WHERE id = $1", [runId, Buffer.from(bytes)]);
    const [row] = await store.sql.query<{ checkpoint: Uint8Array; hex: string }>(
      "SELECT checkpoint, encode(checkpoint, 'hex') AS hex FROM run WHERE id = $1",
      [runId],
    );
    expect(Buffer.from(row.checkpoint).equals(Buffer.from(bytes))).toBe(true);
    expect(row.hex).toBe(Buffer.from(bytes).toString("hex")); // what the database holds, read by PostgreSQL itself
  });

  test.each(sizes)("%d bytes: model weights round-trip through Prisma", async (size) => {
    const runId = await enqueueRun(store.sql, { modelName: "m", specYaml: "y", specHash: `p${size}`, seed: size, dataCutoff: null });
    const weights = bytesOf(size);
    await saveArtifact(store, runId, { topology: { size }, weights });
    const run = await servableRun(store, runId);
    expect(Buffer.from(run!.artifact!.weights).equals(Buffer.from(weights))).toBe(true);
  });
});

describe("the PGlite bytea codecs", () => {
  test("write what PostgreSQL's hex format says, and read it back into bytes of their own", () => {
    const bytes = Uint8Array.from([0, 1, 0x7f, 0x80, 0xfe, 0xff]);
    expect(serializeBytea(bytes)).toBe("\\x00017f80feff");
    expect(serializeBytea(Buffer.from(bytes))).toBe("\\x00017f80feff");
    const view = new Uint8Array(Uint8Array.from([9, 9, ...bytes, 9]).buffer, 2, bytes.length);
    expect(serializeBytea(view)).toBe("\\x00017f80feff"); // a view serialises its own bytes only
    const parsed = parseBytea("\\x00017f80feff");
    expect(Array.from(parsed)).toEqual(Array.from(bytes));
    expect(parsed.buffer.byteLength).toBe(parsed.byteLength); // not a slice of Node's shared pool
    expect(() => serializeBytea("abc")).toThrow(/bytea/);
  });

  test("withFastBytea replaces a caller's per-query bytea parser (as Prisma's adapter passes), in and out of transactions", async () => {
    const db = await PGlite.create();
    try {
      const wrapped = withFastBytea(db);
      const adapterLike = { parsers: { [BYTEA]: () => "the adapter's parser" } };
      const direct = await wrapped.query<{ b: unknown }>("SELECT '\\x0102'::bytea AS b", [], adapterLike);
      expect(Array.from(direct.rows[0].b as Uint8Array)).toEqual([1, 2]);
      const inTx = await wrapped.transaction((tx) => tx.query<{ b: unknown }>("SELECT '\\x0304'::bytea AS b", [], adapterLike));
      expect(Array.from(inTx.rows[0].b as Uint8Array)).toEqual([3, 4]);
      // the unwrapped client does use it: the wrapper is what makes the difference
      const raw = await db.query<{ b: unknown }>("SELECT '\\x01'::bytea AS b", [], adapterLike);
      expect(raw.rows[0].b).toBe("the adapter's parser");
      expect(wrapped.closed).toBe(false); // other members pass through
    } finally {
      await db.close();
    }
  });
});
