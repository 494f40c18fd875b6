import { closest, distance } from "fastest-levenshtein";

/**
 * A problem in a spec, at a source position. `line`/`column` are 1-based;
 * 0 means the value came from no file (e.g. JSON overrides). `path` is the
 * dotted key path ("encoders.fast.units", list items as "per_play.1"); empty
 * for YAML syntax errors.
 */
export interface SpecError {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
}

/** `FILE:LINE:COL: key.path: message` (position and path left out when absent). */
export function formatSpecError(e: SpecError): string {
  const where = e.line > 0 ? `${e.file}:${e.line}:${e.column}` : e.file;
  return e.path ? `${where}: ${e.path}: ${e.message}` : `${where}: ${e.message}`;
}

/** The nearest candidate, only when it is close enough to be a likely typo. */
export function suggest(input: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0 || input.length === 0) return undefined;
  const best = closest(input, candidates as string[]);
  const d = isSwap(input, best) ? 1 : distance(input, best);
  const tolerance = Math.max(1, Math.floor(Math.max(input.length, best.length) / 3));
  return d <= tolerance && d < input.length ? best : undefined;
}

/** True when b is a with two adjacent characters swapped (a typo levenshtein counts as 2). */
function isSwap(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const diff = [...a].flatMap((c, i) => (c === b[i] ? [] : [i]));
  return diff.length === 2 && diff[1] === diff[0] + 1 && a[diff[0]] === b[diff[1]] && a[diff[1]] === b[diff[0]];
}

export function didYouMean(input: string, candidates: readonly string[]): string {
  const s = suggest(input, candidates);
  return s === undefined ? "" : `; did you mean "${s}"?`;
}

/** A value as it appears in messages: strings quoted, containers named. */
export function showValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return v.length === 0 ? "an empty list" : "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

export function compareErrors(a: SpecError, b: SpecError): number {
  return a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.path.localeCompare(b.path);
}

/** Sorted by position, exact duplicates removed. */
export function sortErrors(errors: SpecError[]): SpecError[] {
  const seen = new Set<string>();
  return [...errors].sort(compareErrors).filter((e) => {
    const key = formatSpecError(e);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Errors a result reports at most; past it, one last entry says how many more there were. */
export const MAX_REPORTED_ERRORS = 100;

export function capErrors(errors: SpecError[]): SpecError[] {
  if (errors.length <= MAX_REPORTED_ERRORS) return errors;
  const last = errors[MAX_REPORTED_ERRORS - 1];
  const more = errors.length - (MAX_REPORTED_ERRORS - 1);
  return [
    ...errors.slice(0, MAX_REPORTED_ERRORS - 1),
    { file: last.file, line: 0, column: 0, path: "", message: `and ${more} more errors` },
  ];
}
