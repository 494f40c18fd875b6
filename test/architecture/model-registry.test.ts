/**
 * Models are reached through the registry (src/model/registry): no code
 * outside the model layer (the registry and the models' own modules, which
 * may check that a spec is theirs) compares a spec's model `type` with a model-type literal
 * ("fs-vae", "average", ...). Branches on other `type`s (thread messages,
 * the fs-vae encoder's lstm/rnn/mean, tensor dtypes) are not model types
 * and pass. Also checks that the registry covers the schema's types.
 */
import fs from "node:fs";
import path from "node:path";
import { LEARNED_TYPES, MODEL_TYPES } from "../../src/spec/schema";
import { isLearned, modelFor } from "../../src/model/registry";

const ROOT = path.resolve(__dirname, "../..");
const ALLOWED = [/^src\/model\//, /^src\/generated\//];

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
const LITERAL = `(["'\`])(?:${MODEL_TYPES.map(escape).join("|")})\\1`;
/** An expression ending in `type` (spec.type, parsed.spec.type, s?.type, type), not dtype or msg types compared with other literals. */
const TYPE_EXPR = String.raw`(?<![\w$])(?:[\w$]+(?:\?\.|!?\.))*type(?![\w$])`;
const PATTERNS = [
  new RegExp(`${TYPE_EXPR}\\s*[!=]==?\\s*${LITERAL}`),
  new RegExp(`${LITERAL}\\s*[!=]==?\\s*${TYPE_EXPR}`),
  new RegExp(`\\[[^\\]]*${LITERAL}[^\\]]*\\]\\s*\\.includes\\(\\s*${TYPE_EXPR}\\s*\\)`),
];
const SWITCH = new RegExp(`switch\\s*\\(\\s*${TYPE_EXPR}\\s*\\)`);
const CASE = new RegExp(`case\\s+${LITERAL}\\s*:`);

/** The lines (1-based) of `text` that branch on a model-type literal. */
export function modelTypeBranches(text: string): number[] {
  const lines = text.split("\n").map((l) => l.replace(/\/\/.*$/, ""));
  const found = new Set<number>();
  lines.forEach((line, i) => {
    if (PATTERNS.some((p) => p.test(line))) found.add(i + 1);
    if (SWITCH.test(line)) {
      // The switch's cases, up to the end of its block (or 60 lines).
      let depth = 0;
      for (let j = i; j < Math.min(lines.length, i + 60); j++) {
        if (j > i && CASE.test(lines[j])) found.add(j + 1);
        depth += (lines[j].match(/{/g) ?? []).length - (lines[j].match(/}/g) ?? []).length;
        if (j > i && depth <= 0) break;
      }
    }
  });
  return [...found].sort((a, b) => a - b);
}

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return sources(rel);
    return e.name.endsWith(".ts") ? [rel] : [];
  });
}

function violations(files: { file: string; text: string }[]): string[] {
  return files
    .filter(({ file }) => !ALLOWED.some((a) => a.test(file)))
    .flatMap(({ file, text }) => modelTypeBranches(text).map((line) => `${file}:${line}: ${text.split("\n")[line - 1].trim()}`));
}

describe("no branch on a spec's model type outside the model registry and modules", () => {
  it("src/ has none", () => {
    const files = sources("src").map((file) => ({ file, text: fs.readFileSync(path.join(ROOT, file), "utf8") }));
    expect(files.length).toBeGreaterThan(100);
    expect(violations(files)).toEqual([]);
  });

  it("flags each way of branching on a model type", () => {
    const planted = [
      `if (spec.type === "fs-vae") train();`,
      `if (parsed.spec.type !== 'average') return;`,
      `const learned = "popularity" == run.spec?.type;`,
      `const baseline = type === "recent";`,
      `if (["fs-vae", "average"].includes(spec.type)) x();`,
      `switch (spec.type) {\n  case "lstm":\n    break;\n  case "average":\n    break;\n}`,
    ];
    for (const text of planted) expect({ text, lines: modelTypeBranches(text) }).toEqual({ text, lines: [expect.any(Number)] });
    expect(modelTypeBranches(planted[5])).toEqual([4]);
  });

  it("passes branches on other types: messages, encoders, dtypes, model names, comments", () => {
    const fine = [
      `if (msg.type === "train") start();`,
      `const gates = fast.type === "lstm" ? 4 : 1;`,
      `if (x.dtype !== 'float32') return;`,
      `export const isFsVae = (model: string) => model === "fs-vae";`,
      `// spec.type === "fs-vae" used to be tested here`,
      `if (modelFor(spec.type).learned) train();`,
    ];
    for (const text of fine) expect({ text, lines: modelTypeBranches(text) }).toEqual({ text, lines: [] });
  });

  it("reports a line planted in a real file, with its place", () => {
    const file = "src/jobs/execute.ts";
    const text = fs.readFileSync(path.join(ROOT, file), "utf8").replace(
      "export async function executeRun(",
      `const planted = (spec: { type: string }) => spec.type === "fs-vae";\nexport async function executeRun(`,
    );
    const [found, ...rest] = violations([{ file, text }]);
    expect(rest).toEqual([]);
    expect(found).toMatch(/^src\/jobs\/execute\.ts:\d+: const planted = .*spec\.type === "fs-vae"/);
    // The same line inside the model layer is allowed.
    expect(violations([{ file: "src/model/registry/x.ts", text }])).toEqual([]);
  });
});

describe("the registry", () => {
  it("has a module for every type of the spec schema, learned exactly when the schema says so", () => {
    for (const type of MODEL_TYPES) {
      expect(modelFor(type).type).toBe(type);
      expect(isLearned(type)).toBe((LEARNED_TYPES as readonly string[]).includes(type));
    }
  });
});
