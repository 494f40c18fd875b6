/**
 * Building blocks of the import property tests (test/store/import-properties.test.ts):
 * files as tables of cells written in one syntax, arbitrary ids and times, and what a
 * store holds (its users, tracks and plays, and a digest of every table).
 */
import fc from "fast-check";
import type { Store } from "../../src/store/store";

/** Text written into the file as it is: a cell or a whole row a mutation broke on purpose. */
export class Raw {
  constructor(readonly text: string) {}
}

/** A value in a file: text, or for JSON lines any JSON value (undefined: the key is left out). */
export type Cell = string | number | boolean | null | undefined | Raw;

/** A file as columns and rows; `header` says whether the names are written as the first line. */
export interface Table {
  names: string[];
  header: boolean;
  rows: (Cell[] | Raw)[];
}

export type SyntaxName = "csv" | "tsv" | "jsonl" | "spaces";

/** One row (or the header) as text, without its line end. */
export function writeRow(syntax: SyntaxName, names: string[], cells: Cell[]): string {
  switch (syntax) {
    case "csv":
      return cells.map(csvCell).join(",");
    case "tsv":
      return cells.map(plainCell).join("\t");
    case "spaces":
      return cells.map(plainCell).join(" ");
    case "jsonl":
      return JSON.stringify(Object.fromEntries(names.map((n, i) => [n, cells[i]]).filter(([, v]) => v !== undefined)));
  }
}

function csvCell(cell: Cell): string {
  if (cell instanceof Raw) return cell.text;
  const text = cell === null || cell === undefined ? "" : String(cell);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function plainCell(cell: Cell): string {
  return cell instanceof Raw ? cell.text : cell === null || cell === undefined ? "" : String(cell);
}

/** How a file is dressed: a byte order mark, CRLF line ends, a newline after the last row. */
export interface Dress {
  bom: boolean;
  crlf: boolean;
  finalNewline: boolean;
}

export const PLAIN: Dress = { bom: false, crlf: false, finalNewline: true };

export const dressArb: fc.Arbitrary<Dress> = fc.record({ bom: fc.boolean(), crlf: fc.boolean(), finalNewline: fc.boolean() });

/** The file's text and the 1-based line on which each row starts. */
export function writeTable(syntax: SyntaxName, table: Table, dress: Dress = PLAIN): { text: string; lines: number[] } {
  const rows = table.rows.map((row) => (row instanceof Raw ? row.text : writeRow(syntax, table.names, row)));
  const all = table.header && syntax !== "jsonl" ? [writeRow(syntax, table.names, table.names), ...rows] : rows;
  const lines: number[] = [];
  let line = table.header && syntax !== "jsonl" ? 2 : 1;
  for (const row of rows) {
    lines.push(line);
    line += row.split("\n").length; // newlines inside quoted fields
  }
  const eol = dress.crlf ? "\r\n" : "\n";
  const text = (dress.bom ? "\uFEFF" : "") + all.join(eol) + (dress.finalNewline ? eol : "");
  return { text, lines };
}

/** Stands for invalid UTF-8 in a cell: `encode` replaces it with the bytes. No generated value holds it. */
export const INVALID_UTF8 = "\u{10FFFD}";

/** Byte sequences no UTF-8 decoder may accept: a stray 0xFF, a cut sequence, an overlong NUL, a surrogate, past U+10FFFF, a lone continuation. */
export const INVALID_SEQUENCES = [[0xff], [0xc3], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80]];

export function encode(text: string, invalid: number[] = [0xff]): Buffer {
  const parts = text.split(INVALID_UTF8).map((p) => Buffer.from(p));
  return Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [p] : [Buffer.from(invalid), p])));
}

// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f]/;

/** What a file's syntax lets a value hold: `forbid` never, `extra` (a delimiter, a quote, a newline) more often. */
export interface Alphabet {
  forbid?: RegExp;
  extra?: string[];
}

function charArb({ forbid, extra = [] }: Alphabet): fc.Arbitrary<string> {
  const ok = (c: string) => !CONTROL.test(c) && c !== INVALID_UTF8 && !forbid?.test(c);
  return fc.oneof(
    { weight: 6, arbitrary: fc.fullUnicode().filter(ok) },
    { weight: 3, arbitrary: fc.constantFrom("a", "b", "7", "é", "字", "𝄞", ...extra) },
  );
}

/**
 * An id as a user's file may hold it: any Unicode outside control characters (but the
 * alphabet's extras), mostly short and sometimes near the 1,024 bytes an id may take
 * (256 code points of at most 4 bytes). Ids are trimmed on import, so it is not blank.
 */
export function idArb(alphabet: Alphabet, maxLength = 24): fc.Arbitrary<string> {
  const char = charArb(alphabet);
  return fc
    .oneof(
      { weight: 12, arbitrary: fc.stringOf(char, { minLength: 1, maxLength }) },
      { weight: 1, arbitrary: fc.stringOf(char, { minLength: 200, maxLength: 256 }) },
    )
    .filter((s) => s.trim() !== "");
}

/** Free text (a context, a title): may be empty, sometimes up to `long` code points. */
export function textArb(alphabet: Alphabet, long = 2000): fc.Arbitrary<string> {
  const char = charArb({ ...alphabet, extra: [" ", ...(alphabet.extra ?? [])] });
  return fc.oneof(
    { weight: 8, arbitrary: fc.stringOf(char, { maxLength: 40 }) },
    { weight: 1, arbitrary: fc.stringOf(char, { maxLength: long }) },
  );
}

/** A play time: from the epoch to 2100, and sometimes the edges of the range a store takes. */
export const playMsArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: Date.UTC(2100, 0, 1) }) },
  { weight: 1, arbitrary: fc.constantFrom(0, Date.UTC(9999, 11, 31, 23, 59, 59, 999)) },
);

/** The same time at whole seconds, up to 2100 (Unix seconds below 1e11 are read as seconds). */
export const playSecondsArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: Date.UTC(2100, 0, 1) / 1000 }) },
  { weight: 1, arbitrary: fc.constant(0) },
);

/** A time as the events loader reads it: ISO 8601 in several spellings, Unix seconds or milliseconds. */
export function timeSpellings(ms: number): string[] {
  const iso = new Date(ms).toISOString();
  const out = [iso, iso.replace("Z", "+00:00")];
  if (ms % 1000 === 0) out.push(iso.replace(".000Z", "Z"));
  if (ms / 1000 < 1e11) out.push(ms % 1000 === 0 ? String(ms / 1000) : (ms / 1000).toFixed(3));
  if (ms >= 1e11) out.push(String(ms));
  return out;
}

// ---- what the store holds ----

export interface StoredTrack {
  id: string;
  title: string | null;
  artist: string | null;
  genre: string | null;
  embedding: number[] | null;
}

export interface StoredPlay {
  user: string;
  track: string;
  at: string;
  skipped: boolean;
  liked: boolean;
  addedToPlaylist: boolean;
  restarted: boolean;
  msPlayed: number | null;
  context: string | null;
}

export interface Holdings {
  users: string[];
  tracks: StoredTrack[];
  plays: StoredPlay[];
}

const byKey =
  <T>(key: (x: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
export const playKey = (p: StoredPlay) => JSON.stringify([p.user, p.track, p.at]);

/** Sorted, so that two holdings compare with toEqual. */
export function sortHoldings(h: Holdings): Holdings {
  return {
    users: [...h.users].sort(),
    tracks: [...h.tracks].sort(byKey((t) => t.id)),
    plays: [...h.plays].sort(byKey(playKey)),
  };
}

export async function holdings(store: Store): Promise<Holdings> {
  const users = await store.sql.query<{ id: string }>("SELECT external_id AS id FROM app_user");
  const tracks = await store.sql.query<StoredTrack>(
    "SELECT external_id AS id, title, artist, genre, CASE WHEN cardinality(embedding) > 0 THEN embedding END AS embedding FROM track",
  );
  const plays = await store.sql.query<Omit<StoredPlay, "at"> & { at: Date }>(
    `SELECT u.external_id AS user, t.external_id AS track, e.played_at AS at, e.skipped, e.liked,
            e.added_to_playlist AS "addedToPlaylist", e.restarted, e.ms_played AS "msPlayed", e.context
       FROM listening_event e JOIN app_user u ON u.id = e.user_id JOIN track t ON t.id = e.track_id`,
  );
  return sortHoldings({
    users: users.map((u) => u.id),
    tracks: tracks.map((t) => ({ ...t, embedding: t.embedding && [...t.embedding] })),
    plays: plays.map((p) => ({ ...p, at: new Date(p.at).toISOString() })),
  });
}

/** Every table's row count and an md5 over its rows: equal digests, equal contents. */
export async function digest(store: Store): Promise<Record<string, string>> {
  const tables = await store.sql.query<{ name: string }>(
    "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename NOT LIKE '\\_prisma%' ORDER BY 1",
  );
  const rows = await store.sql.query<{ name: string; n: number; h: string }>(
    tables
      .map(
        ({ name }) =>
          `SELECT '${name}' AS name, count(*)::int AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS h FROM "${name}" t`,
      )
      .join(" UNION ALL "),
  );
  return Object.fromEntries(rows.map((r) => [r.name, `${r.n} ${r.h}`]));
}

/** Empties the store's data (plays, users, tracks and what imports set) for the next case. */
export async function emptyStore(store: Store): Promise<void> {
  await store.sql.query("TRUNCATE listening_event, app_user, track CASCADE");
  await store.sql.query("DELETE FROM setting WHERE key IN ('embedding_dim', 'catalog_version', 'event_stats', 'embedding_provenance')");
}
