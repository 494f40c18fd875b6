/**
 * Property-based tests of every import parser (fast-check, seeded; the seed and the
 * counter-example are printed on failure):
 * - an arbitrary well-formed file of each format (ids with any Unicode, quotes, delimiters
 *   and newlines where the syntax allows them, up to 1,024 bytes; times from 1970 to 9999;
 *   with or without a byte order mark, CRLF line ends and a last newline) imports, and the
 *   store then holds exactly its users, tracks and plays;
 * - the same file with one row broken (a mutation below) is refused: the first error names
 *   the file and the broken row's 1-based line, says what was expected, and every table of
 *   the store is as it was (row counts and an md5 over the rows).
 * RUBATO_PROPERTY_SEED and RUBATO_PROPERTY_RUNS change the seed and the number of runs.
 */
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { importEvents, importTracks } from "../../src/store/import/formats";
import { ImportFailed, type ImportReport } from "../../src/store/import/report";
import type { Store } from "../../src/store/store";
import { tempDir } from "../helpers/files";
import { IMPORT_CASES, type ImportCase, type Roles } from "../helpers/import-cases";
import {
  digest,
  dressArb,
  emptyStore,
  encode,
  holdings,
  INVALID_SEQUENCES,
  INVALID_UTF8,
  Raw,
  writeRow,
  writeTable,
  type Cell,
  type Holdings,
  type Table,
} from "../helpers/import-files";
import { backendName, openTestStore } from "../helpers/store";

const SEED = Number(process.env.RUBATO_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.RUBATO_PROPERTY_RUNS ?? 12);
/** Each mutation of each format is its own property, so fewer runs each. */
const MUTATION_RUNS = Math.max(1, Math.round(RUNS / 4));

let files = 0;
function writeFile(c: ImportCase, content: string | Buffer): string {
  const file = path.join(tempDir, `${c.name.replace(/\s/g, "-")}-${++files}.${c.ext}`);
  fs.writeFileSync(file, content);
  return file;
}

function runImport(store: Store, c: ImportCase, file: string, batchSize?: number): Promise<ImportReport> {
  const options = { format: c.format, createTracks: c.createTracks, batchSize };
  return c.kind === "events" ? importEvents(store, file, options) : importTracks(store, file, options);
}

/** Float32 embeddings compare within 1e-4 (mssd-tracks standardises them in another order than the test). */
function alignEmbeddings(actual: Holdings, expected: Holdings): Holdings {
  const want = new Map(expected.tracks.map((t) => [t.id, t.embedding]));
  return {
    ...actual,
    tracks: actual.tracks.map((t) => {
      const e = want.get(t.id);
      const close =
        e &&
        t.embedding &&
        e.length === t.embedding.length &&
        t.embedding.every((v, i) => Math.abs(v - e[i]) <= 1e-4 * Math.max(1, Math.abs(e[i])));
      return close ? { ...t, embedding: e } : t;
    }),
  };
}

// ---- mutations: one row of a valid file broken ----

type Mutation =
  | "a field too many"
  | "a field missing"
  | "not a number"
  | "an unparsable time"
  | "a time out of range"
  | "a time before 1970"
  | "a NUL character"
  | "invalid UTF-8"
  | "an unterminated quote"
  | "an empty required field"
  | "an id over 1,024 bytes"
  | "an embedding of another dimension"
  | "an embedding value no 32-bit float holds";

const NOT_NUMBERS = ["abc", "12abc", "NaN", "Infinity", "1.2.3", "--1", "0x1G"];
const BAD_TIMES: Record<string, string[]> = {
  iso: ["yesterday", "2020-13-01T00:00:00Z", "2020-01-01T25:00:00Z", "12:00", "2020/01/01", "", "1.2.3"],
  number: ["yesterday", "12:00", "2020/01/01", "", "1.2.3"],
  seconds: ["yesterday", "12:00", "2020-01-01", "1.2.3"],
};
const TIMES_OUT_OF_RANGE: Record<string, string[]> = {
  iso: ["99999999999999999999", "-99999999999999999999", "8640000000000001", "253402300800000", "10000-01-01T00:00:00Z"],
  number: ["99999999999999999999", "-99999999999999999999", "253402300800000"],
  seconds: ["1e20", "99999999999999999999", "253402300800", "-99999999999999999999"],
};
const TIMES_BEFORE_1970: Record<string, string[]> = {
  iso: ["1969-12-31T23:59:59Z", "1969-12-31T23:59:59.999Z", "1900-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "-1", "-86400"],
  number: ["-1", "-86400"],
  seconds: ["-1", "-86400", "-0.5"],
};
/** MSSD's time is its date, hour and position: each out of its range or not a date. */
const MSSD_BAD_TIMES: [string, string[]][] = [
  ["date", ["32-01-18", "29-02-19", "2018-07-15", "15/07/18", "1-7-18", ""]],
  ["hour_of_day", ["24", "-1", "1.5", "99"]],
  ["session_position", ["0", "3600", "99999", "1e3"]],
];

function applies(m: Mutation, c: ImportCase, roles: Roles): boolean {
  switch (m) {
    case "a field too many":
      return roles.fields === "exact";
    case "a field missing":
      return roles.fields !== "keys" || roles.required.length > 0;
    case "not a number":
      return roles.numbers.length > 0;
    case "an unparsable time":
    case "a time out of range":
      return roles.time !== null;
    case "a time before 1970":
      return roles.time !== null && roles.time.kind !== "mssd";
    case "an unterminated quote":
      return c.syntax === "csv" || c.syntax === "jsonl";
    case "an empty required field":
      return roles.required.length > 0;
    case "an embedding of another dimension":
    case "an embedding value no 32-bit float holds":
      return roles.embedding !== undefined;
    default:
      return true;
  }
}

const MUTATIONS: Mutation[] = [
  "a field too many",
  "a field missing",
  "not a number",
  "an unparsable time",
  "a time out of range",
  "a time before 1970",
  "a NUL character",
  "invalid UTF-8",
  "an unterminated quote",
  "an empty required field",
  "an id over 1,024 bytes",
  "an embedding of another dimension",
  "an embedding value no 32-bit float holds",
];

const pick = <T>(xs: readonly T[], r: number): T => xs[r % xs.length];
const cellText = (cell: Cell) => (cell instanceof Raw ? cell.text : cell === null || cell === undefined ? "" : String(cell));

/**
 * The table with row k broken by the mutation (r: the arbitrary choices), and the bytes
 * that stand for invalid UTF-8. Returns the row that is broken (an unterminated quote in
 * CSV goes in the last row, or the rows after it would close it).
 */
function mutate(
  m: Mutation,
  c: ImportCase,
  roles: Roles,
  table: Table,
  k: number,
  r: number[],
): { table: Table; row: number; invalid?: number[] } {
  const rows = table.rows.map((row) => (row instanceof Raw ? row : [...row]));
  const row = m === "an unterminated quote" && c.syntax === "csv" ? rows.length - 1 : k;
  const cells = rows[row] as Cell[];
  const set = (column: string, value: Cell) => {
    const i = table.names.indexOf(column);
    if (i < 0) throw new Error(`no column ${column} in ${table.names.join(",")}`);
    cells[i] = value;
  };
  const get = (column: string) => cellText(cells[table.names.indexOf(column)]);
  const out = (invalid?: number[]) => ({ table: { ...table, rows }, row, invalid });
  const time = roles.time!;
  switch (m) {
    case "a field too many":
      cells.push("extra");
      return out();
    case "a field missing":
      if (roles.fields === "keys") set(pick(roles.required, r[0]), undefined);
      else cells.splice(r[0] % cells.length, 1);
      return out();
    case "not a number":
      set(pick(roles.numbers, r[0]), pick(NOT_NUMBERS, r[1]));
      return out();
    case "an unparsable time":
    case "a time out of range":
      if (time.kind === "mssd") {
        const [column, values] = m === "an unparsable time" ? MSSD_BAD_TIMES[0] : pick(MSSD_BAD_TIMES.slice(1), r[0]);
        set(column, pick(values, r[1]));
      } else set(time.column, pick((m === "an unparsable time" ? BAD_TIMES : TIMES_OUT_OF_RANGE)[time.kind], r[1]));
      return out();
    case "a time before 1970":
      set(time.column, pick(TIMES_BEFORE_1970[time.kind], r[1]));
      return out();
    case "a NUL character":
    case "invalid UTF-8": {
      const column = pick([...roles.ids, ...roles.texts], r[0]);
      const value = get(column);
      const at = r[1] % (value.length + 1);
      set(column, value.slice(0, at) + (m === "a NUL character" ? "\0" : INVALID_UTF8) + value.slice(at));
      return out(m === "invalid UTF-8" ? pick(INVALID_SEQUENCES, r[2]) : undefined);
    }
    case "an unterminated quote":
      rows[row] =
        c.syntax === "csv"
          ? new Raw('"' + cells.map((cell) => cellText(cell).replace(/"/g, "")).join(","))
          : new Raw(writeRow(c.syntax, table.names, cells).slice(0, -1));
      return out();
    case "an empty required field":
      set(pick(roles.required, r[0]), pick(["", "  "], r[1]));
      return out();
    case "an id over 1,024 bytes": {
      const unit = pick(["x", "é", "字", "𝄞", "aé字𝄞"], r[0]);
      const bytes = 1025 + (r[1] % 65_000);
      set(pick(roles.ids, r[2]), unit.repeat(Math.ceil(bytes / Buffer.byteLength(unit))));
      return out();
    }
    case "an embedding of another dimension": {
      const { column, dim } = roles.embedding!;
      set(column, Array.from({ length: dim + 1 + (r[0] % 5) }, (_, i) => String(i / 4)).join(" "));
      return out();
    }
    case "an embedding value no 32-bit float holds": {
      const { column, dim } = roles.embedding!;
      const values = Array.from({ length: dim }, () => "0.5");
      values[r[0] % dim] = pick(["1e39", "-1e39", "1e-50", "3.5e38"], r[1]);
      set(column, values.join(" "));
      return out();
    }
  }
}

describe(`import parsers, property-based (${backendName}; seed ${SEED})`, () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
  });
  afterAll(() => store.close());

  describe.each(IMPORT_CASES.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    it("imports any well-formed file exactly, with or without a BOM, CRLF line ends and a last newline", async () => {
      await fc.assert(
        fc.asyncProperty(c.model(false), dressArb, fc.constantFrom(undefined, 1, 3), async (model, dress, batchSize) => {
          await emptyStore(store);
          const file = writeFile(c, writeTable(c.syntax, c.table(model), dress).text);
          const report = await runImport(store, c, file, batchSize);
          expect(report.errors).toEqual([]);
          const expected = c.expected(model);
          expect(alignEmbeddings(await holdings(store), expected)).toEqual(expected);
        }),
        { seed: SEED, numRuns: RUNS },
      );
    });

    describe("refuses a file with a broken row at that row's line, and leaves the store as it was", () => {
      beforeAll(async () => {
        // Something for an import that wrongly commits to change.
        await emptyStore(store);
        const [baseline] = fc.sample(c.model(true), { seed: SEED, numRuns: 1 });
        await runImport(store, c, writeFile(c, writeTable(c.syntax, c.table(baseline)).text));
      });

      const mutations = MUTATIONS.filter((m) =>
        fc.sample(c.model(true), { seed: SEED, numRuns: 5 }).every((model) => applies(m, c, c.roles(model))),
      );
      it.each(mutations)("%s", async (mutation) => {
        await fc.assert(
          fc.asyncProperty(c.model(true), fc.nat(), fc.array(fc.nat(), { minLength: 3, maxLength: 3 }), async (model, k, r) => {
            const valid = c.table(model);
            const broken = mutate(mutation, c, c.roles(model), valid, k % valid.rows.length, r);
            const { text, lines } = writeTable(c.syntax, broken.table);
            const file = writeFile(c, encode(text, broken.invalid));
            const before = await digest(store);
            const err = await runImport(store, c, file).then(
              (report) => new Error(`imported: ${JSON.stringify(report)}`),
              (e: unknown) => e,
            );
            expect(err).toBeInstanceOf(ImportFailed);
            const [first] = (err as ImportFailed).errors;
            expect(first.startsWith(`${file}:${lines[broken.row]}: `) ? "at the line" : first).toBe("at the line");
            expect(first).toMatch(/expected/);
            expect(first.length).toBeLessThan(file.length + 400);
            expect(await digest(store)).toEqual(before);
          }),
          { seed: SEED, numRuns: MUTATION_RUNS },
        );
      });
    });
  });
});
