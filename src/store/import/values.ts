/** Parsers for imported values; each throws a message saying what was expected. */

export class ValueError extends Error {}

/** Runs a parser, prefixing its error with the field or column the value came from. */
export function withName<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ValueError) throw new ValueError(`${name}: ${err.message}`);
    throw err;
  }
}

const TIMESTAMP_HELP = "expected an ISO 8601 time (2026-10-01T12:00:00Z) or Unix seconds/milliseconds";

/** JavaScript's dates end 8.64e15 ms either side of the epoch; a number past that is no time. */
const DATE_LIMIT_MS = 8.64e15;

/** Numbers below 1e11 are Unix seconds (until year 5138), larger ones milliseconds. */
export function parseTimestamp(raw: unknown): Date {
  if (typeof raw === "number" || (typeof raw === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(raw))) {
    const n = Number(raw);
    const ms = Math.abs(n) < 1e11 ? n * 1000 : n;
    if (Math.abs(ms) <= DATE_LIMIT_MS) return new Date(Math.round(ms));
  } else if (typeof raw === "string" && /^\d{4}-\d{2}-\d{2}/.test(raw.trim())) {
    const ms = Date.parse(raw.trim());
    if (Number.isFinite(ms)) return new Date(ms);
  }
  throw new ValueError(`unparsable timestamp ${show(raw)}; ${TIMESTAMP_HELP}`);
}

/**
 * The times an imported play may have: from the Unix epoch (earlier is a clock error, and
 * year 0 is no date to PostgreSQL) to the end of year 9999 (ISO 8601's four-digit years;
 * later ones reach the database as text it refuses).
 */
export const EARLIEST_PLAY_MS = 0;
export const LATEST_PLAY_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** The time of an imported play (Unix milliseconds), refused outside the range above; `raw` is what the file said. */
export function playTime(ms: number, raw: unknown): Date {
  if (ms >= EARLIEST_PLAY_MS && ms <= LATEST_PLAY_MS) return new Date(ms);
  const when = ms < EARLIEST_PLAY_MS ? "before 1970" : "after the year 9999";
  throw new ValueError(`timestamp ${show(raw)} is ${when}; expected a time from 1970-01-01 to 9999-12-31 (UTC)`);
}

/**
 * A time already in the canonical form toISOString writes (UTC, seconds or milliseconds),
 * from 1970 on, with a day every month has and no 24:00: such text passes to COPY as it is.
 * Anything else goes through parseTimestamp, which also normalises (2026-02-30 is 2026-03-02).
 */
const CANONICAL_TIME = /^(?:19[7-9]\d|[2-9]\d{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{3})?Z$/;

/** A play's time as ISO 8601 text for COPY, without a Date when it is canonical already. */
export function timestampText(raw: unknown): string {
  return typeof raw === "string" && CANONICAL_TIME.test(raw) ? raw : playTime(parseTimestamp(raw).getTime(), raw).toISOString();
}

const TRUE = new Set(["true", "t", "1", "yes", "y"]);
const FALSE = new Set(["false", "f", "0", "no", "n", ""]);

export function parseBoolean(raw: unknown): boolean {
  if (raw === "0" || raw === "" || raw === undefined || raw === null) return false;
  if (raw === "1") return true;
  if (typeof raw === "boolean") return raw;
  const text = String(raw).trim().toLowerCase();
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  throw new ValueError(`expected a boolean (true/false, 1/0, yes/no), got ${show(raw)}`);
}

export function parseNumber(raw: unknown): number {
  const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
  if (!Number.isFinite(n)) throw new ValueError(`expected a number, got ${show(raw)}`);
  return n;
}

export function parseOptionalInt(raw: unknown): number | null {
  if (raw === undefined || raw === null || raw === "") return null;
  const n = parseNumber(raw);
  if (!Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) throw new ValueError(`expected a non-negative integer, got ${show(raw)}`);
  return n;
}

/** An embedding as a JSON array, a {..} array literal, or numbers separated by spaces, commas, ; or |. */
export function parseEmbedding(raw: unknown): number[] | null {
  if (raw === undefined || raw === null || raw === "") return null;
  let parts: unknown[];
  if (Array.isArray(raw)) parts = raw;
  else if (typeof raw === "string") {
    const text = raw.trim();
    parts = (text.startsWith("[") || text.startsWith("{") ? text.slice(1, -1) : text).split(/[\s,;|]+/).filter(Boolean);
  } else throw new ValueError(`expected an embedding (a list of numbers), got ${show(raw)}`);
  const values = parts.map(Number);
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new ValueError(`embedding value ${bad + 1} is ${show(parts[bad])}; expected a finite number`);
  // Stored as real (32-bit): PostgreSQL refuses what overflows it or underflows to 0.
  const wide = values.findIndex((v) => !Number.isFinite(Math.fround(v)) || (v !== 0 && Math.fround(v) === 0));
  if (wide >= 0) {
    throw new ValueError(
      `embedding value ${wide + 1} is ${show(parts[wide])}; expected a number a 32-bit float holds (at most 3.4e38 in size, 0 or at least 1.4e-45)`,
    );
  }
  return values;
}

/** An id's limit in UTF-8 bytes, as the API's (the unique indexes on ids take at most ~2.7 kB). */
export const MAX_ID_BYTES = 1024;

export function parseId(raw: unknown, what: string): string {
  if (typeof raw === "number" && Number.isFinite(raw)) return String(raw);
  const text = typeof raw === "string" ? raw.trim() : "";
  if (text === "") throw new ValueError(`missing ${what} id; expected a non-empty string`);
  // Three bytes at most per UTF-16 unit: short ids need no count.
  const bytes = text.length * 3 > MAX_ID_BYTES ? Buffer.byteLength(text, "utf8") : 0;
  if (bytes > MAX_ID_BYTES) {
    throw new ValueError(
      `${what} id of ${bytes.toLocaleString("en")} bytes (${show(text)}); expected at most ${MAX_ID_BYTES.toLocaleString("en")} bytes (UTF-8)`,
    );
  }
  if (text.includes("\0")) throw new ValueError(`${what} id ${show(text)} holds a NUL character; expected text without NUL`);
  return text;
}

/** Stored free text (a context, a title): null when empty; PostgreSQL's text holds no NUL. */
export function parseText(raw: unknown, what: string): string | null {
  if (raw === undefined || raw === null || raw === "") return null;
  const text = String(raw);
  if (text.includes("\0")) throw new ValueError(`${what} ${show(text)} holds a NUL character; expected text without NUL`);
  return text;
}

export function show(raw: unknown): string {
  const text = typeof raw === "string" ? JSON.stringify(raw) : raw === undefined ? "nothing" : JSON.stringify(raw);
  return text.length > 60 ? text.slice(0, 57) + "..." : text;
}
