/** `extends` resolution, merging, and the canonical form (YAML text + hash) of a resolved spec. */
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import { SpecSchema, TYPE_SECTIONS, type ModelSpec } from "./schema";
import { capErrors, didYouMean, showValue, sortErrors, type SpecError } from "./errors";
import { isPlain, parseYaml, positionOf, type Plain, type Source } from "./positions";
import { explainIssue, locate, validate } from "./validate";

export interface SpecSource {
  text: string;
  file: string;
}

export interface ParseOptions {
  /** Shown in errors, e.g. "models/no-fast.yaml". */
  file: string;
  /** Finds a parent spec by name; without it any `extends` is an unknown parent. */
  resolveParent?: (name: string) => SpecSource | undefined;
  /** Names to suggest from when a parent is unknown. */
  knownNames?: readonly string[];
  /** The name this spec was looked up by (e.g. its file name in a models directory); `name` must equal it. */
  expectedName?: string;
}

export type SpecResult =
  | {
      ok: true;
      /** Parents merged in, defaults applied; `extends` is null. */
      spec: ModelSpec;
      /** Canonical YAML of `spec`: parsing it again gives the same spec and hash. */
      yaml: string;
      /** sha256 (hex) of the canonical JSON of `spec` (keys sorted). */
      hash: string;
      /** Names of the specs inherited from, nearest first. */
      parents: string[];
      warnings: SpecError[];
    }
  | { ok: false; errors: SpecError[]; warnings: SpecError[] };


/** Mappings merge key by key; lists and scalars from `over` replace. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isPlain(base) || !isPlain(over)) return over;
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    // defineProperty, not assignment: a YAML key "__proto__" must stay a (reported) key.
    Object.defineProperty(out, k, { value: deepMerge(Object.hasOwn(base, k) ? base[k] : undefined, v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A parent contributes everything but its identity: `name` and `extends` are per file. */
function inheritable(value: unknown): unknown {
  if (!isPlain(value)) return {};
  const { name: _name, extends: _extends, ...rest } = value;
  return rest;
}

/** ParseOptions for parents held in memory (e.g. specs stored in a database), keyed by name. */
export function mapResolver(specs: Readonly<Record<string, SpecSource>>): Pick<ParseOptions, "resolveParent" | "knownNames"> {
  return {
    resolveParent: (name) => (Object.hasOwn(specs, name) ? specs[name] : undefined),
    knownNames: Object.keys(specs),
  };
}

interface Chain {
  /** The spec first, then its parents; parents carry only what they contribute (no name, no extends). */
  sources: Source[];
  parents: string[];
  /** False when a parent could not be read: the merge then lacks values and cross-field rules would mislead. */
  complete: boolean;
}

/** Follows `extends` from `first`, collecting each parent and any errors met on the way. */
function followExtends(first: Source, options: ParseOptions, errors: SpecError[], warnings: SpecError[]): Chain {
  const chain: Chain = { sources: [first], parents: [], complete: true };
  const fail = (e: SpecError) => {
    errors.push(e);
    chain.complete = false;
  };
  const root = isPlain(first.value) ? first.value : {};
  const seen = [typeof root.name === "string" ? root.name : first.file];
  if (options.expectedName !== undefined) errors.push(...nameMismatch(first, root, options.expectedName));

  for (let current = first; ; ) {
    const raw = isPlain(current.value) ? current.value : {};
    const ext = SpecSchema.shape.extends.safeParse(raw.extends);
    if (!ext.success) {
      // The first file's `extends` is reported by validation with its other fields.
      if (current !== first) errors.push(...fieldErrors(current, "extends", raw.extends));
      chain.complete = false;
      return chain;
    }
    const name = ext.data;
    if (name === null) return chain;
    const at = (message: string) => ({ file: current.file, ...positionOf(current, ["extends"]), path: "extends", message });
    if (seen.includes(name)) {
      fail(at(`cycle: ${[...seen, name].join(" -> ")}`));
      return chain;
    }
    const found = options.resolveParent?.(name);
    if (!found) {
      fail(at(`unknown spec "${name}"${didYouMean(name, options.knownNames ?? [])}`));
      return chain;
    }
    const parsed = parseYaml(found.text, found.file);
    warnings.push(...parsed.warnings);
    parsed.errors.forEach(fail);
    const value = parsed.source.value;
    if (parsed.errors.length > 0) return chain;
    if (!isPlain(value)) {
      fail(locate([parsed.source], [[]], `expected a mapping, got ${showValue(value)}`));
      return chain;
    }
    errors.push(...fieldErrors(parsed.source, "name", value.name), ...nameMismatch(parsed.source, value, name));
    seen.push(name);
    chain.parents.push(name);
    chain.sources.push({ ...parsed.source, value: inheritable(value) });
    current = parsed.source;
  }
}

/** Validates one top-level field of a parent, whose identity fields are not merged into the child. */
function fieldErrors(source: Source, key: "name" | "extends", value: unknown): SpecError[] {
  const r = SpecSchema.shape[key].safeParse(value, { reportInput: true });
  if (r.success) return [];
  return r.error.issues.flatMap((issue) =>
    explainIssue({ ...issue, path: [key, ...issue.path] }).map((e) => locate([source], [e.path], e.message)),
  );
}

function nameMismatch(source: Source, value: Plain, expected: string): SpecError[] {
  if (typeof value.name !== "string" || value.name === expected) return [];
  return [locate([source], [["name"]], `must be "${expected}", the name this spec was looked up by`)];
}

/** Parses, resolves and validates a spec's YAML text; every problem found is reported. */
export function parseSpec(text: string, options: ParseOptions): SpecResult {
  const first = parseYaml(text, options.file);
  const errors = [...first.errors];
  const warnings = [...first.warnings];
  if (errors.length > 0) return failure(errors, warnings);

  const chain = followExtends(first.source, options, errors, warnings);
  const root = first.source.value;
  const merged = isPlain(root) ? [...chain.sources].reverse().reduce<unknown>((acc, s) => deepMerge(acc, s.value), {}) : root;
  const v = validate(merged, chain.sources, chain.complete);
  errors.push(...v.errors);
  warnings.push(...v.warnings);
  if (errors.length > 0 || !v.spec) return failure(errors, warnings);
  return finish({ ...v.spec, extends: null }, chain.parents, sortErrors(warnings));
}

/**
 * Applies JSON overrides (e.g. from the API) to a resolved spec, validated by
 * the same schema and rules. Errors name the file "<overrides>" with no position.
 */
export function applyOverrides(spec: ModelSpec, overrides: unknown): SpecResult {
  const over: Source = { file: "<overrides>", value: overrides };
  const base: Source = { file: `<spec ${spec.name}>`, value: spec };
  if (!isPlain(overrides)) {
    return { ok: false, errors: [{ file: over.file, line: 0, column: 0, path: "", message: "expected a mapping of overrides" }], warnings: [] };
  }
  if (overrides.extends !== undefined && overrides.extends !== null) {
    return {
      ok: false,
      errors: [{ file: over.file, line: 0, column: 0, path: "extends", message: "cannot be set by overrides; they apply to a resolved spec" }],
      warnings: [],
    };
  }
  if (nestsDeeper(overrides, MAX_OVERRIDE_DEPTH)) {
    const message = `overrides nest deeper than ${MAX_OVERRIDE_DEPTH} levels; a spec's deepest key has 3 (training.split.train)`;
    return { ok: false, errors: [{ file: over.file, line: 0, column: 0, path: "", message }], warnings: [] };
  }
  const v = validate(deepMerge(spec, overrides), [over, base]);
  if (v.errors.length > 0 || !v.spec) return failure(v.errors, v.warnings);
  return finish({ ...v.spec, extends: null }, [], sortErrors(v.warnings));
}

/** Overrides deeper than this are refused before merging (they may come as JSON from the API, nested without end). */
const MAX_OVERRIDE_DEPTH = 16;

/** Iterative: the value may nest deeper than the call stack. */
function nestsDeeper(value: unknown, max: number): boolean {
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 0 }];
  while (stack.length) {
    const { v, depth } = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth >= max) return true;
    for (const item of Object.values(v)) stack.push({ v: item, depth: depth + 1 });
  }
  return false;
}

/** Sorted, and at most MAX_REPORTED_ERRORS of each (a spec of thousands of unknown keys is one mistake, not a report to read). */
function failure(errors: SpecError[], warnings: SpecError[]): SpecResult {
  return { ok: false, errors: capErrors(sortErrors(errors)), warnings: capErrors(sortErrors(warnings)) };
}

function finish(spec: ModelSpec, parents: string[], warnings: SpecError[]): SpecResult {
  return { ok: true, spec, yaml: canonicalYaml(spec), hash: specHash(spec), parents, warnings };
}

/** The spec without the sections of other model types (TYPE_SECTIONS): what its hash and canonical YAML cover. */
function ownSections(spec: ModelSpec): Partial<ModelSpec> {
  const own: Partial<ModelSpec> = { ...spec };
  for (const [type, key] of Object.entries(TYPE_SECTIONS)) if (type !== spec.type) delete own[key];
  return own;
}

/** Block YAML in schema key order (without other model types' sections: parsing it gives the same spec back). */
export function canonicalYaml(spec: ModelSpec): string {
  return stringify(ownSections(spec), { lineWidth: 0 });
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isPlain(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function specHash(spec: ModelSpec): string {
  return createHash("sha256").update(canonicalJson(ownSections(spec))).digest("hex");
}
