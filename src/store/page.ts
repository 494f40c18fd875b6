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

/** The sort key inside a cursor of this kind; a cursor from another list or a mangled one is BAD_USER_INPUT. */
export function decodeCursor(kind: string, cursor: string): unknown[] {
  try {
    const [k, ...key] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown[];
    if (k === kind) return key;
  } catch {
    // reported below
  }
  throw new BadUserInput(
    `after: ${JSON.stringify(cursor)} is not a cursor of this ${kind} list; pass an edge's cursor or pageInfo.endCursor`,
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
