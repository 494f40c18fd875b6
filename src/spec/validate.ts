/**
 * Validates a merged spec value against the schema and the cross-field rules,
 * reporting each problem in the file that supplied the offending value.
 */
import type { z } from "zod";
import { SpecSchema, type ModelSpec } from "./schema";
import { crossIssues } from "./checks";
import { didYouMean, showValue, type SpecError } from "./errors";
import { labelOf, schemaAt, shapeOf } from "./introspect";
import { depthIn, isPlain, pathString, positionOf, type KeyPath, type Source } from "./positions";

export interface Validation {
  spec?: ModelSpec;
  errors: SpecError[];
  warnings: SpecError[];
}

/**
 * Where to report a problem about any of `paths`: the most derived source
 * that sets one of them entirely, else the one that sets most of the first
 * path (ties go to the more derived). `sources` is ordered most derived first.
 */
export function locate(sources: Source[], paths: KeyPath[], message: string): SpecError {
  for (const source of sources) {
    const path = paths.find((p) => depthIn(source.value, p) === p.length);
    if (path) return { file: source.file, ...positionOf(source, path), path: pathString(path), message };
  }
  const path = paths[0];
  let best = sources[0];
  for (const s of sources) if (depthIn(s.value, path) > depthIn(best.value, path)) best = s;
  return { file: best.file, ...positionOf(best, path), path: pathString(path), message };
}

/** Zod issue -> (path, friendly message) pairs; unrecognized_keys yields one per key. */
export function explainIssue(issue: z.core.$ZodIssue): { path: KeyPath; message: string }[] {
  const path = issue.path as KeyPath;
  if (issue.code === "unrecognized_keys") {
    const valid = Object.keys(shapeOf(schemaAt(SpecSchema, path) ?? SpecSchema) ?? {});
    return issue.keys.map((key) => ({ path: [...path, key], message: `unknown key${didYouMean(key, valid)}` }));
  }
  if (issue.code === "custom") return [{ path, message: issue.message }];
  const field = schemaAt(SpecSchema, path);
  const expected = field ? labelOf(field) : "a valid value";
  if (issue.input === undefined) return [{ path, message: `required key missing: expected ${expected}` }];
  const hint =
    issue.code === "invalid_value" && typeof issue.input === "string"
      ? didYouMean(issue.input, issue.values.map(String))
      : "";
  return [{ path, message: `expected ${expected}, got ${showValue(issue.input)}${hint}` }];
}

/**
 * `crossRules` is off when the merged value is known to be incomplete (an
 * unresolved parent), where defaults would stand in for missing values.
 */
export function validate(merged: unknown, sources: Source[], crossRules = true): Validation {
  const errors: SpecError[] = [];
  const warnings: SpecError[] = [];
  const result = SpecSchema.safeParse(merged, { reportInput: true });
  if (!result.success) {
    for (const issue of result.error.issues) {
      for (const { path, message } of explainIssue(issue)) errors.push(locate(sources, [path], message));
    }
  }
  if (crossRules && isPlain(merged)) {
    const unknownKeys = result.success ? [] : result.error.issues.filter((i) => i.code === "unrecognized_keys");
    for (const issue of crossIssues(validSections(withoutKeys(merged, unknownKeys)))) {
      (issue.severity === "error" ? errors : warnings).push(locate(sources, issue.paths, issue.message));
    }
  }
  return { spec: result.success && errors.length === 0 ? result.data : undefined, errors, warnings };
}

/** A copy without the unknown keys: they are already reported and carry no value the rules read. */
function withoutKeys(value: Record<string, unknown>, issues: z.core.$ZodIssueUnrecognizedKeys[]): Record<string, unknown> {
  const copy = structuredClone(value);
  for (const issue of issues) {
    let target: unknown = copy;
    for (const key of issue.path) target = isPlain(target) ? target[String(key)] : undefined;
    if (isPlain(target)) for (const key of issue.keys) delete target[key];
  }
  return copy;
}

/** Each top-level section that validates on its own, defaults applied. */
function validSections(raw: Record<string, unknown>): Partial<ModelSpec> {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(SpecSchema.shape)) {
    const r = (schema as z.ZodType).safeParse(raw[key]);
    if (r.success) out[key] = r.data;
  }
  return out as Partial<ModelSpec>;
}
