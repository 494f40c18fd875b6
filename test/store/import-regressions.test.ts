/**
 * Bugs the import property tests (import-properties.test.ts) found, each as its shrunk
 * counter-example: before the fix each of these was an internal error without FILE:LINE,
 * a silent change of the data, or a refusal of a file the docs accept.
 */
import fs from "node:fs";
import { importEvents, importTracks } from "../../src/store/import/formats";
import { ImportFailed } from "../../src/store/import/report";
import type { Store } from "../../src/store/store";
import { writeTemp } from "../helpers/files";
import { digest, emptyStore, holdings } from "../helpers/import-files";
import { backendName, openTestStore } from "../helpers/store";

/** The import's errors; the store must be as it was. */
async function refused(store: Store, run: () => Promise<unknown>): Promise<string[]> {
  const before = await digest(store);
  const err = await run().then(
    () => new Error("imported"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImportFailed);
  expect(await digest(store)).toEqual(before);
  return (err as ImportFailed).errors;
}

describe(`import regressions (${backendName})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
  });
  beforeEach(() => emptyStore(store));
  afterAll(() => store.close());

  it("reads a JSON-lines file that starts with a byte order mark (line 1 was not valid JSON)", async () => {
    const file = writeTemp("bom.jsonl", '\uFEFF{"id":"a"}');
    expect(await importTracks(store, file)).toMatchObject({ inserted: 1, badRows: 0 });
  });

  it("refuses a time past JavaScript's dates as a bad row (was a RangeError)", async () => {
    const csv = writeTemp("far.csv", "user,track,played_at\na,!,99999999999999999999\n");
    expect(await refused(store, () => importEvents(store, csv, { createTracks: true }))).toEqual([
      `${csv}:2: unparsable timestamp "99999999999999999999"; expected an ISO 8601 time (2026-10-01T12:00:00Z) or Unix seconds/milliseconds`,
    ]);
    const log = writeTemp("far.txt", "0 0 ! 1e20\n");
    expect(await refused(store, () => importEvents(store, log, { format: "sessions" }))).toEqual([
      `${log}:1: timestamp "1e20" is after the year 9999; expected a time from 1970-01-01 to 9999-12-31 (UTC)`,
    ]);
  });

  it("refuses times before 1970 and after 9999 (were stored, or reached the database as an error)", async () => {
    const ratings = writeTemp("ratings.csv", "userId,movieId,rating,timestamp\n、,!,0.5,-1\n");
    expect(await refused(store, () => importEvents(store, ratings, { format: "movielens" }))).toEqual([
      `${ratings}:2: timestamp "-1" is before 1970; expected a time from 1970-01-01 to 9999-12-31 (UTC)`,
    ]);
    const csv = writeTemp("year0.csv", "user,track,played_at\na,!,0000-01-01T00:00:00Z\nb,!,253402300800000\n");
    expect(await refused(store, () => importEvents(store, csv, { createTracks: true }))).toEqual([
      `${csv}:2: timestamp "0000-01-01T00:00:00Z" is before 1970; expected a time from 1970-01-01 to 9999-12-31 (UTC)`,
      `${csv}:3: timestamp "253402300800000" is after the year 9999; expected a time from 1970-01-01 to 9999-12-31 (UTC)`,
    ]);
  });

  it("refuses a NUL character in an id or a stored text (was the database's invalid byte sequence error)", async () => {
    const tsv = writeTemp("nul.tsv", "\0、\t1970-01-01T00:00:00Z\t\t!\t\ta\n");
    expect(await refused(store, () => importEvents(store, tsv, { format: "lastfm1k" }))).toEqual([
      `${tsv}:1: user id "\\u0000、" holds a NUL character; expected text without NUL`,
    ]);
    const jsonl = writeTemp("nul.jsonl", '{"user":"a","track":"b","played_at":0,"context":"x\\u0000"}\n');
    expect(await refused(store, () => importEvents(store, jsonl, { createTracks: true }))).toEqual([
      `${jsonl}:1: context "x\\u0000" holds a NUL character; expected text without NUL`,
    ]);
  });

  it("refuses a line that is not UTF-8 (its bytes were stored as U+FFFD)", async () => {
    const log = writeTemp("latin1.txt", "");
    fs.writeFileSync(log, Buffer.concat([Buffer.from("0 0 ! 0\n"), Buffer.from([0xff]), Buffer.from("u 0 ! 0\n")]));
    expect(await refused(store, () => importEvents(store, log, { format: "sessions" }))).toEqual([
      `${log}:2: not valid UTF-8; expected UTF-8 text (convert the file first, e.g. iconv -f latin1 -t utf-8)`,
    ]);
  });

  it("keeps a character that straddles the reader's 1 MiB chunks whole (it became two U+FFFD)", async () => {
    const rows = ["user,track,played_at"];
    let bytes = rows[0].length + 1;
    for (let i = 0; bytes < (1 << 20) - 64; i++) {
      rows.push(`u${i},t,1970-01-01T00:00:00Z`);
      bytes += rows.at(-1)!.length + 1;
    }
    // "é" (2 bytes) from byte 2^20 - 1: its first byte ends the first chunk.
    rows.push("x".repeat((1 << 20) - 1 - bytes) + "é,t,1970-01-01T00:00:00Z");
    const csv = writeTemp("boundary.csv", rows.join("\n") + "\n");
    expect(fs.readFileSync(csv).indexOf(Buffer.from("é"))).toBe((1 << 20) - 1);
    await importEvents(store, csv, { createTracks: true });
    expect((await holdings(store)).users.filter((u) => u.startsWith("x"))).toEqual(["x".repeat((1 << 20) - 1 - bytes) + "é"]);
  });

  it("says what a CSV row with an unterminated quote should be", async () => {
    const csv = writeTemp("quote.csv", 'user,track,played_at\n"a,b,1970-01-01T00:00:00Z\n');
    expect(await refused(store, () => importEvents(store, csv, { createTracks: true }))).toEqual([
      `${csv}:2: cannot be read: Quoted field unterminated; expected comma-separated fields, a field holding a comma, quote or newline in double quotes (a quote inside doubled: "say ""hi""")`,
    ]);
  });

  it("refuses ids over 1,024 bytes (stored when compressible, else the index's error)", async () => {
    const csv = writeTemp("long.csv", `id\n${"x".repeat(1025)}\n${"é字𝄞".repeat(400)}\n`);
    expect(await refused(store, () => importTracks(store, csv))).toEqual([
      `${csv}:2: track id of 1,025 bytes ("${"x".repeat(57 - 1)}...); expected at most 1,024 bytes (UTF-8)`,
      `${csv}:3: track id of 3,600 bytes ("${"é字𝄞".repeat(14)}...); expected at most 1,024 bytes (UTF-8)`,
    ]);
  });

  it("refuses an embedding value a 32-bit float cannot hold (was the database's out-of-range error)", async () => {
    const csv = writeTemp("wide.csv", "id,embedding\nt,1e39\nu,1e-50\n");
    expect(await refused(store, () => importTracks(store, csv))).toEqual([
      `${csv}:2: embedding: embedding value 1 is "1e39"; expected a number a 32-bit float holds (at most 3.4e38 in size, 0 or at least 1.4e-45)`,
      `${csv}:3: embedding: embedding value 1 is "1e-50"; expected a number a 32-bit float holds (at most 3.4e38 in size, 0 or at least 1.4e-45)`,
    ]);
  });

  it("refuses a session-log row with fewer fields than its header (its columns shifted: item 0 at time 0 was stored)", async () => {
    const log = writeTemp("short.txt", "SessionId Time UserId ItemId ArtistId\n0 0 0 0\n");
    expect(await refused(store, () => importEvents(store, log, { format: "sessions" }))).toEqual([
      `${log}:2: has 4 fields; expected at least 5 (as in the header), got "0 0 0 0"`,
    ]);
  });
});
