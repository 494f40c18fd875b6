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

/** Numbers below 1e11 are Unix seconds (until year 5138), larger ones milliseconds. */
export function parseTimestamp(raw: unknown): Date {
  if (typeof raw === "number" || (typeof raw === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(raw))) {
    const n = Number(raw);
    const ms = Math.abs(n) < 1e11 ? n * 1000 : n;
    if (Number.isFinite(ms)) return new Date(Math.round(ms));
  } else if (typeof raw === "string" && /^\d{4}-\d{2}-\d{2}/.test(raw.trim())) {
    const ms = Date.parse(raw.trim());
    if (Number.isFinite(ms)) return new Date(ms);
  }
  throw new ValueError(`unparsable timestamp ${show(raw)}; ${TIMESTAMP_HELP}`);
}

/**
 * A time already in the canonical form toISOString writes (UTC, seconds or milliseconds),
 * with a day every month has and no 24:00: such text passes to COPY as it is. Anything
 * else goes through parseTimestamp, which also normalises (2026-02-30 is 2026-03-02).
 */
const CANONICAL_TIME = /^[1-9]\d{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{3})?Z$/;

/** The time as ISO 8601 text for COPY, without a Date when it is canonical already. */
export function timestampText(raw: unknown): string {
  return typeof raw === "string" && CANONICAL_TIME.test(raw) ? raw : parseTimestamp(raw).toISOString();
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
  return values;
}

export function parseId(raw: unknown, what: string): string {
  if (typeof raw === "number" && Number.isFinite(raw)) return String(raw);
  const text = typeof raw === "string" ? raw.trim() : "";
  if (text !== "") return text;
  throw new ValueError(`missing ${what} id; expected a non-empty string`);
}

export function show(raw: unknown): string {
  const text = typeof raw === "string" ? JSON.stringify(raw) : raw === undefined ? "nothing" : JSON.stringify(raw);
  return text.length > 60 ? text.slice(0, 57) + "..." : text;
}
