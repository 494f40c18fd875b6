/**
 * --map: which column of the file feeds which field, e.g.
 *   user=userId,track=movieId,played_at=timestamp,liked=rating>=4
 * A boolean field may be a comparison against a numeric column (>=, >, <=, <, ==, !=).
 */
export type ColumnRule = { kind: "column"; column: string } | { kind: "compare"; column: string; op: CompareOp; value: number };

export type CompareOp = ">=" | ">" | "<=" | "<" | "==" | "!=";

export type ColumnMap = Record<string, ColumnRule>;

export function parseColumnMap(text: string | undefined, fields: readonly string[]): ColumnMap {
  const map: ColumnMap = {};
  for (const field of fields) map[field] = { kind: "column", column: field };
  if (!text) return map;
  for (const pair of text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`--map: "${pair}" is not FIELD=COLUMN (fields: ${fields.join(", ")})`);
    const field = pair.slice(0, eq).trim();
    const rule = pair.slice(eq + 1).trim();
    if (!fields.includes(field)) throw new Error(`--map: unknown field "${field}"; expected one of ${fields.join(", ")}`);
    const cmp = /^(.+?)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)$/.exec(rule);
    map[field] = cmp
      ? { kind: "compare", column: cmp[1].trim(), op: cmp[2] as CompareOp, value: Number(cmp[3]) }
      : { kind: "column", column: rule };
    if (!map[field].column) throw new Error(`--map: field "${field}" has an empty column name`);
  }
  return map;
}

export function compare(x: number, op: CompareOp, y: number): boolean {
  switch (op) {
    case ">=":
      return x >= y;
    case ">":
      return x > y;
    case "<=":
      return x <= y;
    case "<":
      return x < y;
    case "==":
      return x === y;
    case "!=":
      return x !== y;
  }
}
