/**
 * SQL lives in the data-access layer (src/store/, docs/architecture.md "Layers"):
 * no string literal or template outside src/store/ (and the generated Prisma
 * client) holds SQL. Other layers call the store's named functions, which use the
 * Prisma client or raw SQL of their own. Literals are found with the TypeScript
 * parser, so comments and identifiers never count, and multi-line templates do.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

const ROOT = path.resolve(__dirname, "../..");
const ALLOWED = [/^src\/store\//, /^src\/generated\//];

/** SQL as this code base writes it: upper-case keywords in a statement's shape, or the same shapes in lower case. */
const SQL = [
  /\bSELECT\b[\s\S]*\bFROM\b/,
  /\bSELECT\s+(?:\d|\*|count|max|min|pg_|current_|now\(|\$\d)/,
  /\bINSERT\s+INTO\b/i,
  /\bUPDATE\s+"?\w+"?\s+SET\b/i,
  /\bDELETE\s+FROM\b/i,
  /\bWITH\s+\w+\s+AS\s*\(/,
  /\bCOPY\s+"?\w+"?\s*\(/,
  /\b(?:CREATE|ALTER|DROP)\s+(?:TABLE|INDEX|EXTENSION|TYPE)\b/,
  /\b(?:NOTIFY|LISTEN|TRUNCATE)\s+"?\w+/,
  /\bselect\s+[\w.*,\s()]+\s+from\s+"?\w+"?\s+(?:where|order|group|limit)\b/i,
  /\bON\s+CONFLICT\b/,
];

/** The string literals and templates of a TypeScript source that hold SQL: their lines (1-based) and text. */
export function sqlLiterals(text: string, file = "x.ts"): { line: number; text: string }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: { line: number; text: string }[] = [];
  const visit = (node: ts.Node) => {
    let literal: string | null = null;
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) literal = node.text;
    else if (ts.isTemplateExpression(node)) literal = [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(" ${} ");
    if (literal !== null && SQL.some((p) => p.test(literal))) {
      found.push({ line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1, text: literal.trim().split("\n")[0] });
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return sources(rel);
    return e.name.endsWith(".ts") ? [rel] : [];
  });
}

describe("no SQL outside src/store/", () => {
  it("src/ has none outside the store and the generated client", () => {
    const files = sources("src");
    expect(files.length).toBeGreaterThan(100);
    const outside = files
      .filter((file) => !ALLOWED.some((a) => a.test(file)))
      .flatMap((file) => sqlLiterals(fs.readFileSync(path.join(ROOT, file), "utf8"), file).map((s) => `${file}:${s.line}: ${s.text}`));
    expect(outside).toEqual([]);
  });

  it("the store itself is found to hold SQL (the check sees what it looks for)", () => {
    const inStore = sources("src/store").flatMap((file) => sqlLiterals(fs.readFileSync(path.join(ROOT, file), "utf8"), file));
    expect(inStore.length).toBeGreaterThan(20);
  });

  it("flags each way of writing SQL in a literal", () => {
    const planted = [
      `const rows = await store.sql.query("SELECT id FROM run WHERE status = 'QUEUED'");`,
      `await sql.query(\`UPDATE run SET active = false WHERE active\`);`,
      `await tx.execute(\n  \`INSERT INTO app_user (external_id)\n   SELECT unnest($1::text[])\`,\n  [ids],\n);`,
      `await sql.query('DELETE FROM user_embedding WHERE run_id = $1', [id]);`,
      `const [{ n }] = await sql.query(\`SELECT count(*)::int AS n FROM \${table} WHERE x\`);`,
      `await tx.query("SELECT pg_advisory_xact_lock($1, 0)", [key]);`,
      `await p.$queryRaw\`SELECT max(seq) FROM run_progress WHERE run_id = \${id}\`;`,
      `const q = "select id, name from track where id = $1";`,
      `await sql.query(\`WITH recent AS (SELECT 1) SELECT * FROM recent\`);`,
      `await sql.query("NOTIFY rubato_events");`,
    ];
    for (const text of planted) expect({ text, found: sqlLiterals(text).length }).toEqual({ text, found: 1 });
    expect(sqlLiterals(planted[2])[0].line).toBe(2);
  });

  it("passes prose, comments and identifiers", () => {
    const clean = [
      `// SELECT id FROM run: a comment is no SQL`,
      `throw new BadUserInput("select a model to train, e.g. fs-vae-quick");`,
      `const message = "delete the file, then update the settings";`,
      `log.info("runs were selected from the queue");`,
      `const { status } = await cancelRun(store, id);`,
      `const help = "Selects tracks from the catalogue";`,
    ];
    for (const text of clean) expect({ text, found: sqlLiterals(text) }).toEqual({ text, found: [] });
  });
});
