/** The only I/O in spec/: reading spec files from a models directory. */
import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { parseSpec, type SpecResult, type SpecSource } from "./resolve";

export interface LoadOptions {
  /**
   * Where parents (and bare names) are looked up. Default: for a name, the shipped
   * models; for a path, the file's directory, then the shipped models (so a spec of
   * your own can `extends: fs-vae-quick`).
   */
  modelsDir?: string;
}

/** The specs that ship with Rubato (models/ at the repository root). */
export const SHIPPED_MODELS_DIR = resolve(__dirname, "../../models");

const EXTENSIONS = [".yaml", ".yml"];

function isPath(nameOrPath: string): boolean {
  return nameOrPath.includes("/") || nameOrPath.includes("\\") || EXTENSIONS.includes(extname(nameOrPath));
}

function specFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const entry of entries) {
    const ext = extname(entry);
    if (EXTENSIONS.includes(ext) && !out.has(basename(entry, ext))) out.set(basename(entry, ext), join(dir, entry));
  }
  return out;
}

function read(file: string): SpecSource | undefined {
  try {
    return { text: readFileSync(file, "utf8"), file };
  } catch {
    return undefined;
  }
}

/** Loads a spec by name (`<modelsDir>/<name>.yaml`) or by path, resolving `extends` in modelsDir. */
export function loadSpec(nameOrPath: string, options: LoadOptions = {}): SpecResult {
  const byPath = isPath(nameOrPath);
  const modelsDir = options.modelsDir ?? (byPath ? dirname(nameOrPath) : SHIPPED_MODELS_DIR);
  const files = specFiles(modelsDir);
  if (byPath && options.modelsDir === undefined) {
    for (const [name, file] of specFiles(SHIPPED_MODELS_DIR)) if (!files.has(name)) files.set(name, file);
  }
  const file = byPath ? nameOrPath : files.get(nameOrPath);
  const source = file === undefined ? undefined : read(file);
  if (!source) {
    const what = byPath ? `cannot read ${nameOrPath}` : `no spec named "${nameOrPath}" in ${modelsDir}`;
    return { ok: false, errors: [{ file: file ?? modelsDir, line: 0, column: 0, path: "", message: what }], warnings: [] };
  }
  return parseSpec(source.text, {
    file: source.file,
    resolveParent: (name) => {
      const parent = files.get(name);
      return parent === undefined ? undefined : read(parent);
    },
    knownNames: [...files.keys()],
    expectedName: byPath ? undefined : nameOrPath,
  });
}

export interface ShippedSpec {
  /** From the file name. */
  name: string;
  file: string;
  result: SpecResult;
}

/** Every spec file in a models directory, resolved, sorted by name. */
export function listShippedSpecs(modelsDir: string): ShippedSpec[] {
  return [...specFiles(modelsDir)]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, file]) => ({ name, file, result: loadSpec(name, { modelsDir }) }));
}
