/**
 * .env.example is the list of Rubato's environment variables. Every variable
 * src/ reads is in it, with a comment and a default; everything it lists is
 * read somewhere; and every RUBATO_* variable (and DATABASE_URL) that README.md
 * or docs/ mention is in it.
 *
 * The test hooks src/ reads (RUBATO_TEST_PAUSE_*) are listed too, in the file's
 * "Tests only" block, which may also hold variables only test/ or bench/ read.
 */
import fs from "node:fs";
import path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const TESTS_ONLY_HEADER = /^# -+ Tests only\b/;

/** Helpers that read a variable by a computed name; their callers pass it as a string literal, which `envReads` finds. */
const COMPUTED_NAME_READERS = new Set(["src/model/backend.ts", "src/api/limits.ts"]);

function sourceFiles(dir: string, ext = /\.ts$/): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) return relative === "src/generated" ? [] : sourceFiles(relative, ext);
    return ext.test(entry.name) ? [relative] : [];
  });
}

const read = (relative: string) => fs.readFileSync(path.join(ROOT, relative), "utf8");

/**
 * The variables a source text reads: `process.env.X`, `env.X` and `env["X"]`
 * (functions take `env: NodeJS.ProcessEnv = process.env`), and RUBATO_*
 * names as string literals (given to a reader such as `envFlag("RUBATO_...")`).
 */
function envReads(source: string): Set<string> {
  const names = new Set<string>();
  for (const m of source.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) names.add(m[1]);
  for (const m of source.matchAll(/\benv\[\s*(["'`])([A-Z][A-Z0-9_]*)\1\s*\]/g)) names.add(m[2]);
  for (const m of source.matchAll(/(["'`])(RUBATO_[A-Z0-9_]+)\1/g)) names.add(m[2]);
  return names;
}

/** Reads by a computed name: `env[name]`, `process.env[key]`. */
const computedReads = (source: string) => /\benv\[\s*[a-z_$][\w$]*\s*\]/i.test(source);

interface Entry {
  name: string;
  line: number;
  testsOnly: boolean;
  comment: string;
}

function envExample(): Entry[] {
  const lines = read(".env.example").split("\n");
  let testsOnly = false;
  const entries: Entry[] = [];
  lines.forEach((text, i) => {
    if (TESTS_ONLY_HEADER.test(text)) testsOnly = true;
    const m = /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(text);
    if (m) entries.push({ name: m[1], line: i + 1, testsOnly, comment: i > 0 ? lines[i - 1] : "" });
  });
  return entries;
}

const entries = envExample();
const listed = new Set(entries.map((e) => e.name));
const srcFiles = sourceFiles("src");
const readsIn = (files: string[]) => {
  const byName = new Map<string, string[]>();
  for (const file of files) for (const name of envReads(read(file))) byName.set(name, [...(byName.get(name) ?? []), file]);
  return byName;
};
const srcReads = readsIn(srcFiles);

describe(".env.example", () => {
  it("finds reads in every form src/ uses (the rule can fire)", () => {
    const sample = `
      const a = process.env.ALPHA ?? "x";
      function f(env: NodeJS.ProcessEnv = process.env) { return env.BETA?.trim() || env["GAMMA"]; }
      const d = envFlag('RUBATO_DELTA');
      log("RUBATO_NOT_A_READ done"); // a message, not a name
    `;
    expect([...envReads(sample)].sort()).toEqual(["ALPHA", "BETA", "GAMMA", "RUBATO_DELTA"]);
    expect(computedReads("const v = process.env[name];")).toBe(true);
    expect(computedReads("const v = process.env.NAME;")).toBe(false);
    // The files this test scans include the ones that read the variables docs/cli.md's table (Configuration) documents.
    for (const name of ["DATABASE_URL", "RUBATO_DATA_DIR", "RUBATO_API_KEY", "RUBATO_MAX_COST", "RUBATO_WASM_FAST_KERNELS"])
      expect(srcReads.has(name)).toBe(true);
  });

  it("lists every variable src/ reads", () => {
    const missing = [...srcReads].filter(([name]) => !listed.has(name)).map(([name, files]) => `${name} (read in ${files.join(", ")})`);
    expect(missing).toEqual([]);
  });

  it("reads by a computed name only in the helpers whose callers name the variable", () => {
    const computed = srcFiles.filter((file) => computedReads(read(file)));
    expect(computed.filter((file) => !COMPUTED_NAME_READERS.has(file))).toEqual([]);
  });

  it("lists only variables something reads: src/, or for the tests-only block also test/ and bench/", () => {
    const testReads = readsIn([...sourceFiles("test"), ...sourceFiles("bench")]);
    const unread = entries.filter((e) => !srcReads.has(e.name) && !(e.testsOnly && testReads.has(e.name))).map((e) => `${e.name} (line ${e.line})`);
    expect(unread).toEqual([]);
    // Variables only the tests read belong in the tests-only block.
    const misplaced = entries.filter((e) => !e.testsOnly && !srcReads.has(e.name)).map((e) => e.name);
    expect(misplaced).toEqual([]);
  });

  it("gives each variable once, after a one-line comment saying what it does", () => {
    expect(entries.length).toBe(listed.size);
    const bare = entries.filter((e) => !/^# [^-\s]/.test(e.comment) || /^#?\s*[A-Z][A-Z0-9_]*=/.test(e.comment)).map((e) => e.name);
    expect(bare).toEqual([]);
    // Commented out, so that a copy used as .env changes nothing until a line is chosen.
    expect(read(".env.example").split("\n").filter((l) => /^[A-Z][A-Z0-9_]*=/.test(l))).toEqual([]);
  });

  it("lists every RUBATO_* variable and DATABASE_URL that README.md and docs/ mention", () => {
    const documents = ["README.md", ...sourceFiles("docs", /\.md$/)];
    const missing: string[] = [];
    for (const doc of documents)
      for (const m of read(doc).matchAll(/\b(RUBATO_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL)\b/g))
        if (!listed.has(m[1])) missing.push(`${m[1]} (${doc})`);
    expect([...new Set(missing)]).toEqual([]);
  });
});
