/**
 * The layer check of `npm run lint` (.dependency-cruiser.cjs): it passes on
 * the real src/, and each of its rules fires on a small tree that breaks it.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(__dirname, "../..");
const CONFIG = path.join(ROOT, ".dependency-cruiser.cjs");
const DEPCRUISE = path.join(ROOT, "node_modules/.bin/depcruise");

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
  cycle?: { name: string }[];
}

/** Runs dependency-cruiser with the project's config over `dir`/src: `format` "json" for the violations, else as `npm run lint:layers` does. */
function depcruise(dir: string, format?: "json"): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = ["src", "--config", CONFIG, ...(format ? ["--output-type", format] : [])];
  return new Promise((resolve) => {
    execFile(DEPCRUISE, args, { cwd: dir, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

async function violations(dir: string): Promise<Violation[]> {
  const { stdout, stderr } = await depcruise(dir, "json");
  if (!stdout) throw new Error(`depcruise printed nothing: ${stderr}`);
  return (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

const brief = (v: Violation) => `${v.rule.name}: ${v.from} -> ${v.to}`;

describe("layers", () => {
  it("src/ has no cycle and no import against the layers", async () => {
    const lint = await depcruise(ROOT);
    expect(lint.stdout).toMatch(/no dependency violations found/);
    expect(Number(/\((\d+) modules/.exec(lint.stdout)?.[1])).toBeGreaterThan(100);
    expect(lint.code).toBe(0);
  });

  describe("on a tree that breaks each rule", () => {
    let dir: string;
    let found: Violation[];

    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-layers-"));
      const files: Record<string, string> = {
        "tsconfig.json": JSON.stringify({ compilerOptions: { module: "node16", moduleResolution: "node16", strict: true } }),
        // A pure core importing a layer above it (features sits above spec).
        "src/spec/schema.ts": `import { FEATURES } from "../features/names";\nexport const SCHEMA = FEATURES;\n`,
        "src/features/names.ts": `export const FEATURES = ["skipped"];\n`,
        // The store reaching up to the API, by a type-only import: types count.
        "src/store/rows.ts": `import type { Payload } from "../api/payload";\nexport const rows: Payload[] = [];\n`,
        "src/api/payload.ts": `export interface Payload { id: string }\n`,
        // A module cycle inside one layer.
        "src/jobs/queue.ts": `import { worker } from "./worker";\nexport const queue = () => worker;\n`,
        "src/jobs/worker.ts": `import { queue } from "./queue";\nexport const worker = () => queue;\n`,
        // Directories that import each other with no module cycle: serving -> jobs/runs -> serving/models.
        "src/serving/models.ts": `import { runs } from "../jobs/runs";\nexport const models = runs;\n`,
        "src/jobs/runs.ts": `import { forward } from "../serving/forward";\nexport const runs = forward;\n`,
        "src/serving/forward.ts": `export const forward = 1;\n`,
        // A directory no layer holds.
        "src/helpers/util.ts": `import { FEATURES } from "../features/names";\nexport const util = FEATURES;\n`,
        // Allowed: the API over jobs, training over the store.
        "src/api/runs.ts": `import { runs } from "../jobs/runs";\nexport const api = runs;\n`,
        "src/train/data.ts": `import { rows } from "../store/rows";\nexport const data = rows;\n`,
      };
      for (const [name, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), text);
      }
      found = await violations(dir);
    });

    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("fails the lint, naming each rule broken", async () => {
      const lint = await depcruise(dir);
      expect(lint.code).not.toBe(0);
      for (const rule of ["layer-spec", "layer-store", "layer-serving", "no-circular", "no-folder-cycles", "layer-unassigned"])
        expect(lint.stdout).toContain(`error ${rule}:`);
      expect(found.length).toBeGreaterThan(0);
      expect(found.every((v) => v.rule.severity === "error")).toBe(true);
    });

    it("reports an import up the layers, type-only ones too", () => {
      const names = found.map(brief);
      expect(names).toContain("layer-spec: src/spec/schema.ts -> src/features/names.ts");
      expect(names).toContain("layer-store: src/store/rows.ts -> src/api/payload.ts");
      expect(names).toContain("layer-serving: src/serving/models.ts -> src/jobs/runs.ts");
    });

    it("reports a module cycle with its path", () => {
      const cycles = found.filter((v) => v.rule.name === "no-circular");
      expect(cycles).toHaveLength(1);
      expect(cycles[0].cycle?.map((c) => c.name).sort()).toEqual(["src/jobs/queue.ts", "src/jobs/worker.ts"]);
    });

    it("reports directories that import each other", () => {
      const folders = found.filter((v) => v.rule.name === "no-folder-cycles").map((v) => `${v.from} -> ${v.to}`);
      expect(folders.sort()).toEqual(["src/jobs -> src/serving", "src/serving -> src/jobs"]);
    });

    it("reports a module outside every layer", () => {
      expect(found.map(brief)).toContain("layer-unassigned: src/helpers/util.ts -> src/features/names.ts");
    });

    it("reports nothing else: allowed imports pass", () => {
      const expected = new Set(["layer-spec", "layer-store", "layer-serving", "no-circular", "no-folder-cycles", "layer-unassigned"]);
      expect(found.filter((v) => !expected.has(v.rule.name)).map(brief)).toEqual([]);
      expect(found.filter((v) => v.from.startsWith("src/api/") || v.from.startsWith("src/train/"))).toEqual([]);
    });
  });
});
