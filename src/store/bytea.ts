/**
 * bytea through PGlite, at the speed of Buffer.
 *
 * PGlite's own codec turns a bytea into hex text one byte at a time (`Array.from(bytes).map(
 * b => b.toString(16))`, and back with one `parseInt` a byte), and its Prisma adapter parses
 * results the same way. A 5 MB checkpoint then took 3 to 14 s to write and 2 to 3 s to read,
 * with the server's thread blocked all along, and left hundreds of MB of short strings
 * behind (the soak's RSS growth). Buffer's hex codec does the same work in milliseconds.
 * node-postgres already uses it, so the server backend needs nothing.
 */
import type { PGlite, Transaction } from "@electric-sql/pglite";

/** PostgreSQL's type oid of bytea. */
export const BYTEA = 17;

/** A bytea parameter as PostgreSQL's hex text (`\x0aff…`). */
export function serializeBytea(value: unknown): string {
  if (!ArrayBuffer.isView(value)) throw new Error("Invalid input for bytea type: expected a Uint8Array or Buffer");
  return "\\x" + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex");
}

/** A bytea result (hex text) as bytes of their own (not a view of Node's shared Buffer pool). */
export function parseBytea(text: string): Uint8Array {
  const hex = text.startsWith("\\x") ? text.slice(2) : text;
  const bytes = Buffer.allocUnsafeSlow(hex.length >>> 1);
  bytes.write(hex, "hex");
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The options PGlite.create takes to use these codecs for every query. */
export const byteaCodecs = { serializers: { [BYTEA]: serializeBytea }, parsers: { [BYTEA]: parseBytea } };

type Queryable = PGlite | Transaction;

/**
 * The PGlite client to hand Prisma's adapter: the same database, with the adapter's
 * per-query bytea parser replaced by ours (its query-level parsers override PGlite's own).
 * Inside a transaction the adapter queries through `tx`, which gets the same wrapper.
 */
export function withFastBytea<T extends Queryable>(client: T): T {
  return new Proxy(client, {
    get(target, property) {
      if (property === "query") {
        return (sql: string, params?: unknown[], options?: Parameters<Queryable["query"]>[2]) =>
          target.query(sql, params, { ...options, parsers: { ...options?.parsers, [BYTEA]: parseBytea } });
      }
      if (property === "transaction" && "transaction" in target) {
        return <R>(fn: (tx: Transaction) => Promise<R>) => (target as PGlite).transaction((tx) => fn(withFastBytea(tx)));
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
