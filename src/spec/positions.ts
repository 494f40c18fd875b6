/** YAML text -> plain value, keeping the document to map key paths back to line:col. */
import { Document, LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Node } from "yaml";
import type { SpecError } from "./errors";

export type KeyPath = readonly (string | number)[];

/** One spec's text as parsed; `doc` is absent for values that never were YAML (JSON overrides). */
export interface Source {
  file: string;
  value: unknown;
  doc?: Document;
  lines?: LineCounter;
}

export interface Parsed {
  source: Source;
  errors: SpecError[];
  warnings: SpecError[];
}

export function parseYaml(text: string, file: string): Parsed {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number, message: string): SpecError => {
    const { line, col } = lines.linePos(offset);
    return { file, line, column: col, path: "", message };
  };
  const errors = doc.errors.map((e) => at(e.pos[0], e.message));
  const warnings = doc.warnings.map((e) => at(e.pos[0], e.message));
  const value = errors.length === 0 ? doc.toJS() : undefined;
  return { source: { file, value, doc, lines }, errors, warnings };
}

export type Plain = Record<string, unknown>;

export function isPlain(v: unknown): v is Plain {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export function pathString(path: KeyPath): string {
  return path.map(String).join(".");
}

/** How many leading segments of `path` exist in the source's value. */
export function depthIn(value: unknown, path: KeyPath): number {
  let v = value;
  for (let i = 0; i < path.length; i++) {
    if (v === null || typeof v !== "object") return i;
    const key = path[i];
    if (Array.isArray(v)) {
      if (typeof key !== "number" || key >= v.length) return i;
      v = v[key];
    } else {
      if (!Object.hasOwn(v, key)) return i;
      v = (v as Record<string, unknown>)[String(key)];
    }
  }
  return path.length;
}

/**
 * The 1-based line:col of the deepest existing prefix of `path`: a mapping
 * entry's key, a list item, or the document start for an empty path.
 */
export function positionOf(source: Source, path: KeyPath): { line: number; column: number } {
  const { doc, lines } = source;
  if (!doc || !lines) return { line: 0, column: 0 };
  let node: unknown = doc.contents;
  let offset = (node as Node | null)?.range?.[0] ?? 0;
  for (const key of path) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: { at: number; node: unknown } | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(key));
      const keyRange = (pair?.key as Node | null)?.range;
      if (pair && keyRange) next = { at: keyRange[0], node: pair.value };
    } else if (isSeq(node) && typeof key === "number") {
      const item = node.items[key] as Node | undefined;
      if (item?.range) next = { at: item.range[0], node: item };
    }
    if (!next) break;
    offset = next.at;
    node = next.node;
  }
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}
