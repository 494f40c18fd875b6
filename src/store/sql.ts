/** The raw-SQL surface the store offers besides Prisma: queries and COPY. */
export interface SqlClient {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a statement and returns the number of rows it affected. */
  execute(sql: string, params?: unknown[]): Promise<number>;
  /** Loads CSV text (no header) into `table (columns)` through COPY. */
  copyCsv(table: string, columns: readonly string[], csv: string): Promise<void>;
}

export type Backend = "pglite" | "postgres";

/** NOTIFY channel of transactions that wrote plays (see Store.onEventsWritten). */
export const EVENTS_CHANNEL = "rubato_events";

/** Encodes one value as a CSV field for COPY ... (FORMAT csv): empty unquoted = NULL. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return value ? "t" : "f";
  if (typeof value === "number") return String(value);
  let text: string;
  if (value instanceof Date) text = value.toISOString();
  else if (Array.isArray(value) || ArrayBuffer.isView(value)) text = pgArray(value as ArrayLike<number>);
  else text = String(value);
  if (text === "" || /[",\n\r]/.test(text)) return `"${text.replace(/"/g, '""')}"`;
  return text;
}

/** A numeric array literal, e.g. {0.1,-2}. */
export function pgArray(values: ArrayLike<number>): string {
  return `{${Array.prototype.join.call(values, ",")}}`;
}

export function csvLine(values: readonly unknown[]): string {
  let line = csvField(values[0]);
  for (let i = 1; i < values.length; i++) line += "," + csvField(values[i]);
  return line + "\n";
}
