/**
 * Keyset pagination for Relay-style connections: a cursor is an opaque
 * base64url token of the row's sort key, so pages stay stable while rows are
 * added.
 */
import { BadUserInput } from "../errors";

export interface Page<T> {
  items: { node: T; cursor: string }[];
  hasNextPage: boolean;
}

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

export const MAX_PAGE = 500;

export function encodeCursor(kind: string, key: unknown[]): string {
  return Buffer.from(JSON.stringify([kind, ...key])).toString("base64url");
}

/** What each part of a cursor's sort key must be: a row id (a 32-bit SERIAL), a time (ISO 8601), a UUID. */
export type CursorPart = "id" | "time" | "uuid";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const PART_OK: Record<CursorPart, (v: unknown) => boolean> = {
  id: (v) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 2 ** 31 - 1,
  time: (v) => typeof v === "string" && v.length <= 40 && !Number.isNaN(Date.parse(v)),
  uuid: (v) => typeof v === "string" && UUID.test(v),
};

/**
 * The sort key inside a cursor of this kind, each part of the `shape` given;
 * a cursor from another list, a mangled or a forged one is BAD_USER_INPUT
 * (never a value the database would refuse).
 */
export function decodeCursor(kind: string, cursor: string, shape: readonly CursorPart[]): unknown[] {
  try {
    const decoded = cursor.length <= 512 ? (JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown) : null;
    if (Array.isArray(decoded) && decoded[0] === kind) {
      const key = decoded.slice(1);
      if (key.length === shape.length && shape.every((part, i) => PART_OK[part](key[i]))) return key;
    }
  } catch {
    // reported below
  }
  throw new BadUserInput(
    `after: ${JSON.stringify(cursor.length > 80 ? `${cursor.slice(0, 77)}...` : cursor)} is not a cursor of this ${kind} list; pass an edge's cursor or pageInfo.endCursor`,
    { field: "after" },
  );
}

export function pageSize(first: number | null | undefined, fallback = 20): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) throw new BadUserInput(`first: expected an integer from 1 to ${MAX_PAGE}, got ${n}`);
  return n;
}

/** Rows fetched with LIMIT first + 1 become a page; `key` gives each row's sort key. */
export function toPage<R, T>(kind: string, rows: R[], first: number, key: (row: R) => unknown[], map: (row: R) => T): Page<T> {
  return {
    items: rows.slice(0, first).map((r) => ({ node: map(r), cursor: encodeCursor(kind, key(r)) })),
    hasNextPage: rows.length > first,
  };
}
