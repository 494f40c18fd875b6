/** YAML text -> plain value, keeping the document to map key paths back to line:col. */
import { Document, LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, visit, type Node, type Pair, type YAMLMap } from "yaml";
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

/**
 * A spec is a few hundred bytes (the longest shipped one, comments and all,
 * 2.3 kB); text beyond this is refused before parsing: no spec needs it, and
 * parsing costs about 5 ms a kilobyte.
 */
export const MAX_SPEC_BYTES = 16_384;
/** Aliases (`*name`) a spec may expand, each counted with what it copies (the yaml library's guard against "billion laughs"). */
const MAX_ALIAS_COUNT = 100;

export function parseYaml(text: string, file: string): Parsed {
  const lines = new LineCounter();
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_SPEC_BYTES) {
    const message = `the spec is ${bytes.toLocaleString("en")} bytes; at most ${MAX_SPEC_BYTES.toLocaleString("en")} are read (a spec holds a few hundred)`;
    return { source: { file, value: undefined }, errors: [{ file, line: 0, column: 0, path: "", message }], warnings: [] };
  }
  let doc: Document;
  try {
    // Duplicate keys are found below: the library's own check compares each key with every earlier one.
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  } catch (err) {
    return {
      source: { file, value: undefined },
      errors: [{ file, line: 1, column: 1, path: "", message: yamlFailure(err) }],
      warnings: [],
    };
  }
  const at = (offset: number, message: string): SpecError => {
    const { line, col } = lines.linePos(offset);
    return { file, line, column: col, path: "", message };
  };
  const errors = doc.errors.map((e) =>
    at(e.pos[0], e.message === "Maximum call stack size exceeded" ? yamlFailure(new RangeError(e.message)) : e.message),
  );
  const warnings = doc.warnings.map((e) => at(e.pos[0], e.message));
  errors.push(...duplicateKeys(doc).map((offset) => at(offset, "Map keys must be unique")));
  let value: unknown = undefined;
  if (errors.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      errors.push(at(firstAlias(doc) ?? 0, yamlFailure(err)));
    }
  }
  return { source: { file, value, doc, lines }, errors, warnings };
}

/** Where a mapping repeats a key (scalar keys, compared by type and value as the yaml library does), in one pass. */
function duplicateKeys(doc: Document): number[] {
  const offsets: number[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const id = `${typeof pair.key.value}:${String(pair.key.value)}`;
        if (seen.has(id)) offsets.push(pair.key.range?.[0] ?? 0);
        seen.add(id);
      }
    },
  });
  return offsets;
}

/** What the yaml library threw, as a spec error message. */
function yamlFailure(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/alias count/i.test(message))
    return `aliases (*name) expand to too much: more than ${MAX_ALIAS_COUNT} copied nodes (a guard against YAML alias bombs; a spec needs few aliases or none)`;
  if (err instanceof RangeError) return "the YAML nests too deeply to read";
  return `cannot read the YAML: ${message}`;
}

function firstAlias(doc: Document): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
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

/** A mapping's pairs by key, built once per mapping: reporting every key of a wide mapping stays linear. */
const pairIndex = new WeakMap<YAMLMap, Map<string, Pair>>();

function pairsOf(node: YAMLMap): Map<string, Pair> {
  let index = pairIndex.get(node);
  if (!index) {
    index = new Map();
    for (const p of node.items) {
      const k = String(isScalar(p.key) ? p.key.value : p.key);
      if (!index.has(k)) index.set(k, p);
    }
    pairIndex.set(node, index);
  }
  return index;
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
      const pair = pairsOf(node).get(String(key));
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
