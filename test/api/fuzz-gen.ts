/**
 * The API fuzzer's generator: operations and variables made from the
 * introspected schema and a seed (src/random.ts), each with at most one
 * injected fault and the answer that fault must get. Pure: no I/O here, the
 * harness (fuzz.test.ts) sends the cases over HTTP and WebSocket.
 */
import {
  GraphQLEnumType,
  GraphQLInputObjectType,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
} from "graphql";
import { Rng } from "../../src/random";

export interface Pools {
  users: string[];
  tracks: string[];
  runs: string[];
  cursors: { user: string[]; track: string[]; run: string[] };
  models: string[];
  /** Play times inside the demo world (ISO strings). */
  times: string[];
}

/** What a case injects; "none" is a well-formed operation. */
export type Fault =
  | "none"
  | "varType"
  | "missingVar"
  | "literalType"
  | "nul"
  | "hugeId"
  | "oddId"
  | "badCursor"
  | "oddDate"
  | "costly"
  | "noKey"
  | "aliasBomb"
  | "depthBomb"
  | "tokenBomb"
  | "documentOdd"
  | "yamlBomb"
  | "absurdSpec"
  | "saneSpec"
  | "rawHttp"
  | "wsRaw";

export interface Expectation {
  /** Right codes for the first error; null: success, or any documented code. */
  codes: string[] | null;
  /** Checks the data of a successful answer (e.g. validateSpec must say invalid); returns what is wrong. */
  data?: (data: Record<string, unknown>) => string | null;
}

export interface RawHttp {
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  search?: string;
  /** Acceptable statuses (in addition to the general rules). */
  statuses: number[];
}

export interface FuzzCase {
  id: number;
  fault: Fault;
  transport: "http" | "ws";
  /** For reports: the root field, or the raw request's kind. */
  target: string;
  query?: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  key: "right" | "none" | "wrong";
  expect: Expectation;
  raw?: RawHttp;
  /** A raw WebSocket frame sequence (after connection_init unless `noInit`). */
  frames?: { messages: (string | Uint8Array)[]; noInit?: boolean };
  subscription?: boolean;
}

const NUL = "\u0000";

// ---------------------------------------------------------------------------
// Small random helpers

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)];

function randomText(rng: Rng, n: number, alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_"): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

/** Characters chosen to be awkward for ids, SQL, JSON, logs and terminals. */
const ODD_STRINGS = [
  "",
  " ",
  "   u00001   ",
  "\t\n",
  "'; DROP TABLE app_user; --",
  '" OR 1=1 --',
  "%s%s%n",
  "\\",
  "../../../../etc/passwd",
  "u00001\r\nX-Injected: 1",
  "\u202egnp.exe",
  "😀🎵🎶",
  "\ud800",
  "\udfff\ud800",
  "ß",
  "\u00a0",
  "null",
  "undefined",
  "__proto__",
  "constructor",
  "0",
  "-1",
  "1e309",
  "NaN",
  "9".repeat(40),
  "$1",
  "\u0001\u0002\u001f",
  "\uffff",
  "<script>alert(1)</script>",
  "${jndi:ldap://x}",
];

const ODD_DATES = [
  "0000-01-01T00:00:00Z",
  "0001-01-01T00:00:00Z",
  "1970-01-01T00:00:00Z",
  "1969-12-31T23:59:59.999Z",
  "9999-12-31T23:59:59Z",
  "2026-10-01T12:00:00+14:00",
  "2026-10-01T12:00:00-12:00",
  "2026-10-01T12:00:00.123456789Z",
  "2100-01-01T00:00:00Z",
  "2026-02-29T00:00:00Z",
];

function nulString(rng: Rng, base: string): string {
  const at = rng.int(base.length + 1);
  return base.slice(0, at) + NUL + base.slice(at);
}

// ---------------------------------------------------------------------------
// Spec texts: sane, absurd, and YAML bombs

const SPEC_SIZES = {
  "encoders.fast.units": { sane: [8, 16, 32], absurd: [1e9, 1e7, 2 ** 31 - 1] },
  "encoders.fast.layers": { sane: [1, 2], absurd: [1e5, 1e6] },
  "encoders.slow.units": { sane: [8, 16], absurd: [1e9, 5e6] },
  "encoders.slow.layers": { sane: [1, 2], absurd: [1e5] },
  "decoder.units": { sane: [8, 16, 32], absurd: [1e9, 1e7] },
  "decoder.layers": { sane: [1, 2], absurd: [1e5] },
  "latent.size": { sane: [4, 8], absurd: [1e8, 1e6] },
  "features.fast.window": { sane: [3, 5, 10], absurd: [1e8, 1e6] },
  "training.batch_size": { sane: [32, 64], absurd: [2e9, 1e8] },
  "training.epochs": { sane: [1, 2], absurd: [1e9, 1e12] },
} as const;

/** Fields at sizes no real run needs, together: each may pass a per-field maximum, the run still cannot fit in memory. */
const HUGE_COMBINATION = {
  encoders: { fast: { units: 4096, layers: 8 }, slow: { units: 4096, layers: 8 } },
  decoder: { units: 4096, layers: 8 },
  latent: { size: 1024 },
  features: { fast: { window: 1000 } },
  training: { batch_size: 65536 },
};

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): Record<string, unknown> {
  const keys = dotted.split(".");
  let t = target;
  for (const k of keys.slice(0, -1)) t = (t[k] ??= {}) as Record<string, unknown>;
  t[keys[keys.length - 1]] = value;
  return target;
}

/** Flow-style YAML of a plain value (numbers plain, so 1e9 stays a number). */
function yamlOf(value: unknown): string {
  if (value !== null && typeof value === "object" && !Array.isArray(value))
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${k}: ${yamlOf(v)}`)
      .join(", ")} }`;
  if (typeof value === "number") return Number.isInteger(value) ? BigInt(value).toString() : String(value);
  return JSON.stringify(value);
}

export function specText(name: string, overrides: Record<string, unknown>): string {
  return [`extends: fs-vae-quick`, `name: ${name}`, ...Object.entries(overrides).map(([k, v]) => `${k}: ${yamlOf(v)}`)].join("\n") + "\n";
}

function saneOverrides(rng: Rng): Record<string, unknown> {
  const out: Record<string, unknown> = { training: { epochs: 1 } };
  for (const [path, { sane }] of Object.entries(SPEC_SIZES)) if (rng.bernoulli(0.3)) setPath(out, path, pick(rng, sane));
  return out;
}

function absurdOverrides(rng: Rng): Record<string, unknown> {
  if (rng.bernoulli(0.2)) return structuredClone(HUGE_COMBINATION);
  const out = saneOverrides(rng);
  const paths = Object.keys(SPEC_SIZES) as (keyof typeof SPEC_SIZES)[];
  const n = 1 + rng.int(2);
  for (let i = 0; i < n; i++) {
    const path = pick(rng, paths);
    setPath(out, path, pick(rng, SPEC_SIZES[path].absurd));
  }
  return out;
}

/** YAML the parser must refuse or bound: alias expansion, deep nesting, many keys, odd tags. */
function yamlBomb(rng: Rng): string {
  switch (rng.int(6)) {
    case 0: {
      // billion laughs: 9 levels of 9 aliases
      const lines = ["extends: fs-vae-quick", "name: bomb", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
      for (let i = 1; i < 9; i++)
        lines.push(
          `a${i}: &a${i} [${Array(9)
            .fill(`*a${i - 1}`)
            .join(",")}]`,
        );
      lines.push(`description: *a8`);
      return lines.join("\n") + "\n";
    }
    case 1: {
      // aliases inside a known section
      const lines = ['x: &x ["a","a","a","a","a","a","a","a","a","a"]'];
      for (let i = 1; i < 7; i++)
        lines.push(
          `x${i}: &x${i} [${Array(10)
            .fill(i === 1 ? "*x" : `*x${i - 1}`)
            .join(",")}]`,
        );
      return `extends: fs-vae-quick\nname: bomb\n${lines.join("\n")}\nfeatures: { fast: { per_play: *x6 } }\n`;
    }
    case 2:
      return `extends: fs-vae-quick\nname: deep\ndescription: ${"[".repeat(5000)}${"]".repeat(5000)}\n`;
    case 3: {
      const keys = Array.from({ length: pick(rng, [1500, 20000]) }, (_, i) => `k${i}: ${i}`).join("\n");
      return `extends: fs-vae-quick\nname: wide\n${keys}\n`;
    }
    case 4:
      return `extends: fs-vae-quick\nname: tags\ndescription: !!js/function "function () { return 1 }"\nlatent: !!binary aGVsbG8=\ntraining: { epochs: !!float .inf }\n`;
    default: {
      // merge keys multiplied through aliases
      const lines = ["base: &b { units: 8, layers: 1 }"];
      for (let i = 0; i < 2000; i++) lines.push(`m${i}: { <<: *b }`);
      return `extends: fs-vae-quick\nname: merges\n${lines.join("\n")}\n`;
    }
  }
}

// ---------------------------------------------------------------------------
// Values by type

interface Slot {
  /** The variable's name (without $), or null for an inline literal. */
  variable: string | null;
  type: GraphQLInputType;
  /** "Parent.field.arg" */
  coordinate: string;
  value: unknown;
}

function idPool(pools: Pools, coordinate: string): string[] {
  const arg = coordinate.split(".").pop()!;
  if (/Query\.track\.id$/.test(coordinate) || arg === "trackId") return pools.tracks;
  if (/Query\.user\.id$/.test(coordinate) || arg === "userId" || arg === "userIds") return pools.users;
  if (/Query\.run\.id$/.test(coordinate) || arg === "runId") return pools.runs;
  return [...pools.users, ...pools.tracks];
}

function validScalar(rng: Rng, name: string, coordinate: string, pools: Pools): unknown {
  const arg = coordinate.split(".").pop()!;
  switch (name) {
    case "ID":
      return pick(rng, idPool(pools, coordinate));
    case "Int":
      if (arg === "first") return 1 + rng.int(/recentPlays/.test(coordinate) ? 5 : 20);
      if (arg === "k") return 1 + rng.int(20);
      if (arg === "seed") return rng.int(1000);
      return rng.int(10);
    case "Float":
      return rng.float();
    case "Boolean":
      return rng.bernoulli(0.5);
    case "DateTime":
      return pick(rng, pools.times);
    case "JSON":
      return saneOverrides(rng);
    case "String":
      if (arg === "after") return pick(rng, [...pools.cursors.user, ...pools.cursors.track, ...pools.cursors.run]);
      if (arg === "spec") return specText(`fuzz-${rng.int(1000)}`, saneOverrides(rng));
      if (arg === "model") return pick(rng, pools.models);
      return randomText(rng, 1 + rng.int(12));
    default:
      return randomText(rng, 5);
  }
}

/** A well-formed value of `type` (input objects with their required fields; StartTrainingInput with one of model/spec). */
function validValue(rng: Rng, type: GraphQLInputType, coordinate: string, pools: Pools, nullable = true): unknown {
  if (isNonNullType(type)) return validValue(rng, type.ofType, coordinate, pools, false);
  if (nullable && rng.bernoulli(0.15)) return null;
  if (isListType(type)) {
    const n = 1 + rng.int(3);
    return Array.from({ length: n }, () => validValue(rng, type.ofType, coordinate, pools));
  }
  if (isEnumType(type)) return pick(rng, type.getValues()).name;
  if (isInputObjectType(type)) return validObject(rng, type, pools);
  return validScalar(rng, type.name, coordinate, pools);
}

function validObject(rng: Rng, type: GraphQLInputObjectType, pools: Pools): Record<string, unknown> {
  const fields = type.getFields();
  if (type.name === "StartTrainingInput") {
    const out: Record<string, unknown> = rng.bernoulli(0.5)
      ? { model: pick(rng, pools.models) }
      : { spec: specText(`fuzz-${rng.int(1000)}`, saneOverrides(rng)) };
    if (rng.bernoulli(0.5)) out.overrides = saneOverrides(rng);
    if (rng.bernoulli(0.3)) out.seed = rng.int(100);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const f of Object.values(fields)) {
    if (isNonNullType(f.type) || rng.bernoulli(0.4)) out[f.name] = validValue(rng, f.type, `${type.name}.${f.name}`, pools);
  }
  return out;
}

/** A value that cannot be coerced to `type` (the variable's declared type). */
function badValue(rng: Rng, type: GraphQLInputType): unknown {
  if (isNonNullType(type) && rng.bernoulli(0.3)) return null;
  const t = getNullableType(type) as GraphQLInputType;
  if (isListType(t)) return [badValue(rng, t.ofType as GraphQLInputType)];
  if (isEnumType(t)) return pick(rng, ["BOGUS", t.getValues()[0].name.toLowerCase() + "x", 3, true, {}]);
  if (isInputObjectType(t)) return pick(rng, ["not an object", 42, { bogus: 1 }, { ...validObjectShape(t), extra: true }]);
  switch (t.name) {
    case "Int":
      return pick(rng, ["ten", 1.5, 2 ** 40, -(2 ** 40), 2 ** 31, true, {}, "1", 1e308]);
    case "Float":
      return pick(rng, ["x", true, {}, "1.5"]);
    case "Boolean":
      return pick(rng, ["true", 1, 0, {}, "yes"]);
    case "ID":
      return pick(rng, [1.5, true, {}, { id: "u00001" }, -0.5]);
    case "String":
      return pick(rng, [5, true, {}, 1.5]);
    case "DateTime":
      return pick(rng, ["not a date", "2026-13-45T99:00:00Z", "yesterday", "", true, {}, "2026-10-01T25:00:00Z"]);
    default:
      return undefined;
  }
}

/** Required fields of an input object with placeholder values (for "extra field" variants). */
function validObjectShape(type: GraphQLInputObjectType): Record<string, unknown> {
  return Object.fromEntries(
    Object.values(type.getFields())
      .filter((f) => isNonNullType(f.type))
      .map((f) => [f.name, getNamedType(f.type).name === "DateTime" ? "2026-10-01T00:00:00Z" : "x"]),
  );
}

/** A GraphQL literal for a value (enums bare, object keys unquoted). */
function literal(value: unknown, type: GraphQLInputType | null): string {
  const named = type ? getNamedType(type) : null;
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) {
    const inner = type && isListType(getNullableType(type)) ? (getNullableType(type) as { ofType: GraphQLInputType }).ofType : type;
    return `[${value.map((v) => literal(v, inner)).join(", ")}]`;
  }
  if (typeof value === "object") {
    const fields = named && isInputObjectType(named) ? named.getFields() : {};
    return `{ ${Object.entries(value as Record<string, unknown>)
      .map(
        ([k, v]) =>
          `${/^[_A-Za-z][_0-9A-Za-z]*$/.test(k) ? k : "bad_key"}: ${literal(v, fields[k]?.type ?? ((named?.name === "JSON" ? named : null) as GraphQLInputType | null))}`,
      )
      .join(", ")} }`;
  }
  if (typeof value === "string" && named instanceof GraphQLEnumType && /^[_A-Za-z][_0-9A-Za-z]*$/.test(value)) return value;
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "0";
  return JSON.stringify(value);
}

// ---------------------------------------------------------------------------
// Operations

interface Built {
  query: string;
  variables: Record<string, unknown>;
  slots: Slot[];
  root: string;
}

/** A selection set for an output type: a few leaves, and nested objects down to `depth`. */
function selection(
  rng: Rng,
  type: GraphQLOutputType,
  depth: number,
  addArg: (arg: GraphQLArgument, parent: string, field: string) => string,
): string {
  const named = getNamedType(type);
  if (isLeafType(named) || !isObjectType(named)) return "";
  const fields = Object.values(named.getFields());
  const leaves = fields.filter((f) => isLeafType(getNamedType(f.type)));
  const objects = fields.filter((f) => !isLeafType(getNamedType(f.type)));
  const chosen = rng.shuffle([...leaves]).slice(0, 1 + rng.int(Math.min(4, leaves.length || 1)));
  if (depth > 0) for (const o of objects) if (rng.bernoulli(0.5)) chosen.push(o);
  // Connections need their edges to say anything.
  if (named.name.endsWith("Connection") && !chosen.some((f) => f.name === "edges")) chosen.push(named.getFields().edges);
  if (chosen.length === 0) chosen.push(fields[0]);
  const parts = chosen.map((f) => {
    const args = f.args
      .filter((a) => isNonNullType(a.type) || rng.bernoulli(0.5))
      .map((a) => `${a.name}: ${addArg(a, named.name, f.name)}`);
    const sub = isLeafType(getNamedType(f.type)) ? "" : selection(rng, f.type, depth - 1, addArg);
    if (!isLeafType(getNamedType(f.type)) && !sub) return null;
    return `${f.name}${args.length ? `(${args.join(", ")})` : ""}${sub ? ` ${sub}` : ""}`;
  });
  const kept = parts.filter((p): p is string => p !== null);
  return kept.length ? `{ ${kept.join(" ")} }` : `{ __typename }`;
}

function buildOperation(
  rng: Rng,
  schema: GraphQLSchema,
  pools: Pools,
  kind: "query" | "mutation" | "subscription",
  field: GraphQLField<unknown, unknown>,
  inline: number,
): Built {
  const slots: Slot[] = [];
  const variables: Record<string, unknown> = {};
  const defs: string[] = [];
  const addArg = (arg: GraphQLArgument, parent: string, fieldName: string): string => {
    const coordinate = `${parent}.${fieldName}.${arg.name}`;
    const value = validValue(rng, arg.type, coordinate, pools, !isNonNullType(arg.type));
    if (rng.float() < inline) {
      slots.push({ variable: null, type: arg.type, coordinate, value });
      return `__SLOT${slots.length - 1}__`;
    }
    const name = `v${slots.length}`;
    slots.push({ variable: name, type: arg.type, coordinate, value });
    defs.push(`$${name}: ${String(arg.type)}`);
    if (value !== undefined) variables[name] = value;
    return `$${name}`;
  };
  const rootName = kind === "query" ? "Query" : kind === "mutation" ? "Mutation" : "Subscription";
  const args = field.args
    .filter((a) => isNonNullType(a.type) || rng.bernoulli(0.6))
    .map((a) => `${a.name}: ${addArg(a, rootName, field.name)}`);
  const sub = selection(rng, field.type, 2, addArg);
  const body = `${field.name}${args.length ? `(${args.join(", ")})` : ""}${sub ? ` ${sub}` : ""}`;
  const query = `${kind} Fuzz${defs.length ? `(${defs.join(", ")})` : ""} { ${body} }`;
  void schema;
  return { query, variables, slots, root: `${rootName}.${field.name}` };
}

function fillLiterals(b: Built): string {
  return b.query.replace(/__SLOT(\d+)__/g, (_, i: string) => literal(b.slots[Number(i)].value, b.slots[Number(i)].type));
}

/** Paths to the string leaves of a value (for NUL injection). */
function stringLeaves(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (typeof value === "string") return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringLeaves(v, [...path, i]));
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => stringLeaves(v, [...path, k]));
  return [];
}

/** The named type of the value at `path` inside a value of `type` (JSON for anything inside JSON). */
function leafType(type: GraphQLInputType, path: (string | number)[]): string {
  let t: GraphQLInputType = type;
  for (const key of path) {
    const n = getNullableType(t) as GraphQLInputType;
    if (isListType(n)) t = n.ofType as GraphQLInputType;
    else if (isInputObjectType(n) && typeof key === "string" && n.getFields()[key]) t = n.getFields()[key].type;
    else break;
  }
  return getNamedType(t).name;
}

function setAt(value: unknown, path: (string | number)[], leaf: (old: unknown) => unknown): unknown {
  if (path.length === 0) return leaf(value);
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, unknown>;
  copy[path[0]] = setAt(copy[path[0]], path.slice(1), leaf);
  return copy;
}

// ---------------------------------------------------------------------------
// Document bombs and raw requests

function documentBomb(rng: Rng, fault: "aliasBomb" | "depthBomb" | "tokenBomb" | "documentOdd", pools: Pools): string {
  switch (fault) {
    case "aliasBomb": {
      const n = pick(rng, [1000, 5000, 20000]);
      const field = pick(rng, [
        "__typename",
        "models { name }",
        `track(id: "${pools.tracks[0]}") { id }`,
        `similarTracks(trackId: "${pools.tracks[0]}", k: 50) { distance }`,
        "users(first: 500) { edges { cursor } }",
      ]);
      return `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(" ")} }`;
    }
    case "depthBomb": {
      const n = pick(rng, [20, 200, 5000, 50000]);
      if (rng.bernoulli(0.5))
        return `{ __schema { types { ${"fields { type { ofType { ".repeat(Math.min(n, 2000))}name${" } } }".repeat(Math.min(n, 2000))} } } }`;
      return `{ ${"a { ".repeat(n)}b${" }".repeat(n)} }`;
    }
    case "tokenBomb": {
      const n = pick(rng, [10000, 60000]);
      switch (rng.int(4)) {
        case 0:
          return `{ ${"__typename ".repeat(n)}}`;
        case 1:
          return `{ __typename ${"@include(if: true) ".repeat(n / 4)}}`;
        case 2:
          return `query(${Array.from({ length: n / 10 }, (_, i) => `$v${i}: Int`).join(", ")}) { __typename }`;
        default:
          return `{ similarTracks(trackId: "${pools.tracks[0]}", k: ${"[".repeat(n / 10)}1${"]".repeat(n / 10)}) { distance } }`;
      }
    }
    default:
      return pick(rng, [
        "fragment A on Query { ...B } fragment B on Query { ...A } { ...A }",
        "{ ...on Query { ...on Query { ...on Query { models { name } } } } }",
        "query A { models { name } } query A { models { name } }",
        "",
        "   ",
        "#just a comment",
        "{",
        "}}}}",
        "subscription { models { name } }",
        "mutation { __typename }",
        'query($x: Int = "no") { __typename }',
        "query($x: Nope) { __typename }",
        `{ __type(name: "${NUL}") { name } }`,
        "{ models { name } } extra",
        "{ users(first: 5) { edges { node { id } } } users(first: 6) { edges { node { id } } } }",
        "\u0000{ models { name } }",
        "{ models(bogus: 1) { name } }",
        "{ __schema { queryType { name } } }",
        "directive @x on FIELD { models { name } }",
      ]);
  }
}

function rawRequests(rng: Rng, validQuery: string): RawHttp {
  const json = { "content-type": "application/json" };
  const bad = [400, 413, 415, 405];
  const cases: (() => RawHttp)[] = [
    () => ({ method: "POST", headers: json, body: "{not json", statuses: [400] }),
    () => ({ method: "POST", headers: json, body: JSON.stringify([{ query: validQuery }, { query: validQuery }]), statuses: bad }),
    () => ({ method: "POST", headers: json, body: JSON.stringify([]), statuses: bad }),
    () => ({ method: "POST", headers: json, body: JSON.stringify({ query: 5 }), statuses: bad }),
    () => ({ method: "POST", headers: json, body: JSON.stringify({ query: null }), statuses: bad }),
    () => ({ method: "POST", headers: json, body: JSON.stringify({}), statuses: bad }),
    () => ({ method: "POST", headers: json, body: JSON.stringify("a string"), statuses: bad }),
    () => ({ method: "POST", headers: json, body: "null", statuses: bad }),
    () => ({ method: "POST", headers: json, body: "42", statuses: bad }),
    () => ({ method: "POST", headers: json, body: "", statuses: bad }),
    () => ({ method: "POST", headers: json, body: JSON.stringify({ query: validQuery, variables: "nope" }), statuses: bad }),
    () => ({ method: "POST", headers: json, body: JSON.stringify({ query: validQuery, variables: [1, 2] }), statuses: bad }),
    () => ({ method: "POST", headers: json, body: JSON.stringify({ query: validQuery, operationName: "Nope" }), statuses: bad }),
    () => ({ method: "POST", headers: json, body: JSON.stringify({ query: validQuery, operationName: 5 }), statuses: bad }),
    () => ({
      method: "POST",
      headers: json,
      body: JSON.stringify({ query: validQuery, extensions: { persistedQuery: { version: 1, sha256Hash: "x" } } }),
      statuses: bad,
    }),
    () => ({ method: "POST", headers: json, body: JSON.stringify({ query: validQuery, extensions: "x" }), statuses: bad }),
    () => ({
      method: "POST",
      headers: json,
      body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: "ab".repeat(32) } } }),
      statuses: [200],
    }),
    () => ({
      method: "POST",
      headers: json,
      body: JSON.stringify({ query: validQuery, extensions: { persistedQuery: { version: 2, sha256Hash: "x" } } }),
      statuses: bad,
    }),
    () => ({ method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify({ query: validQuery }), statuses: bad }),
    () => ({ method: "POST", headers: {}, body: JSON.stringify({ query: validQuery }), statuses: bad }),
    () => ({
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-16" },
      body: JSON.stringify({ query: validQuery }),
      statuses: [...bad, 200],
    }),
    () => ({ method: "POST", headers: json, body: JSON.stringify({ query: validQuery, pad: "x".repeat(1_100_000) }), statuses: [413] }),
    () => ({
      method: "POST",
      headers: json,
      body: `{"query": ${JSON.stringify(validQuery)}, "variables": {"d": ${"[".repeat(100000)}${"]".repeat(100000)}}}`,
      statuses: [...bad, 200],
    }),
    () => ({
      method: "POST",
      headers: json,
      body: new Uint8Array([0x7b, 0x22, 0x71, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]),
      statuses: bad,
    }),
    () => ({ method: "POST", headers: json, body: `{"query": "{ models { name } }", "query": "{ __typename }"}`, statuses: [200] }),
    () => ({
      method: "POST",
      headers: json,
      body: `{"query": ${JSON.stringify(validQuery)}, "variables": {"__proto__": {"polluted": 1}}}`,
      statuses: [...bad, 200],
    }),
    () => ({ method: "GET", headers: {}, search: `?query=${encodeURIComponent("{ models { name } }")}`, statuses: [400] }),
    () => ({
      method: "GET",
      headers: { "apollo-require-preflight": "1" },
      search: `?query=${encodeURIComponent("mutation { recordPlays(input: { plays: [] }) { recorded } }")}`,
      statuses: [400, 405],
    }),
    () => ({
      method: "GET",
      headers: { "apollo-require-preflight": "1" },
      search: `?query=${encodeURIComponent("{ models { name } }")}&variables=notjson`,
      statuses: bad,
    }),
    () => ({ method: "GET", headers: { "apollo-require-preflight": "1" }, search: "?query=", statuses: bad }),
    () => ({ method: "GET", headers: { "apollo-require-preflight": "1" }, search: "", statuses: bad }),
    () => ({ method: "PUT", headers: json, body: JSON.stringify({ query: validQuery }), statuses: bad }),
    () => ({ method: "DELETE", headers: json, statuses: bad }),
    () => ({ method: "PATCH", headers: json, body: "{}", statuses: bad }),
    () => ({ method: "OPTIONS", headers: {}, statuses: [200, 204, 400, 405] }),
    () => ({ method: "POST", headers: { ...json, "content-length": "999999999" }, body: "{}", statuses: [413, 400] }),
  ];
  return pick(rng, cases)();
}

function wsFrames(rng: Rng): { messages: (string | Uint8Array)[]; noInit?: boolean } {
  const sub = (payload: unknown, id = "1") => JSON.stringify({ id, type: "subscribe", payload });
  return pick(rng, [
    { messages: ["not json"] },
    { messages: [JSON.stringify({ type: "bogus" })] },
    { messages: [JSON.stringify([1, 2, 3])] },
    { messages: [sub({ query: "{ models { name } }" })], noInit: true },
    { messages: [sub({ query: 5 })] },
    { messages: [sub({ query: "{ models { name } }" }, ""), sub({ query: "{ models { name } }" }, "")] },
    { messages: [sub({ query: "{ models { name } }" }), sub({ query: "{ models { name } }" })] },
    { messages: [sub({ query: "{ models { name } }", variables: "x" })] },
    { messages: [JSON.stringify({ type: "connection_init" })] },
    { messages: [new Uint8Array([0xff, 0xfe, 0x00])] },
    { messages: [sub({ query: "{ models { name } }", pad: "x".repeat(1_100_000) })] },
    { messages: [JSON.stringify({ id: "1", type: "complete" }), JSON.stringify({ type: "ping" })] },
  ]);
}

// ---------------------------------------------------------------------------
// Cases

const FAULT_WEIGHTS: [Fault, number][] = [
  ["none", 14],
  ["varType", 14],
  ["missingVar", 4],
  ["literalType", 5],
  ["nul", 10],
  ["hugeId", 4],
  ["oddId", 6],
  ["badCursor", 4],
  ["oddDate", 4],
  ["costly", 5],
  ["noKey", 3],
  ["aliasBomb", 1],
  ["depthBomb", 1],
  ["tokenBomb", 1],
  ["documentOdd", 3],
  ["yamlBomb", 3],
  ["absurdSpec", 6],
  ["saneSpec", 2],
  ["rawHttp", 6],
  ["wsRaw", 2],
];

export class CaseGenerator {
  private readonly rng: Rng;
  private readonly roots: { kind: "query" | "mutation" | "subscription"; field: GraphQLField<unknown, unknown> }[];
  private nextId = 0;

  constructor(
    readonly seed: number,
    private readonly schema: GraphQLSchema,
    private readonly pools: Pools,
  ) {
    this.rng = new Rng(seed, 0xf022);
    const fieldsOf = (t: ReturnType<GraphQLSchema["getQueryType"]>) => (t ? Object.values(t.getFields()) : []);
    this.roots = [
      ...fieldsOf(schema.getQueryType()).map((field) => ({ kind: "query" as const, field })),
      ...fieldsOf(schema.getMutationType()).map((field) => ({ kind: "mutation" as const, field })),
      ...fieldsOf(schema.getSubscriptionType()).map((field) => ({ kind: "subscription" as const, field })),
    ];
  }

  next(): FuzzCase {
    const rng = this.rng;
    const id = this.nextId++;
    const fault = FAULT_WEIGHTS[rng.weighted(FAULT_WEIGHTS.map(([, w]) => w))][0];
    const transport: "http" | "ws" = fault === "rawHttp" ? "http" : fault === "wsRaw" ? "ws" : rng.bernoulli(0.2) ? "ws" : "http";
    const base = { id, fault, transport, key: "right" as const };
    const anyCode: Expectation = { codes: null };

    if (fault === "rawHttp") {
      const raw = rawRequests(rng, "{ models { name } }");
      return { ...base, target: `raw ${raw.method}`, raw, expect: anyCode };
    }
    if (fault === "wsRaw") return { ...base, target: "ws frames", frames: wsFrames(rng), expect: anyCode };
    if (fault === "aliasBomb" || fault === "depthBomb" || fault === "tokenBomb" || fault === "documentOdd") {
      return { ...base, target: fault, query: documentBomb(rng, fault, this.pools), expect: anyCode };
    }
    if (fault === "yamlBomb" || fault === "absurdSpec" || fault === "saneSpec") return this.specCase(base, fault);

    // A field operation, then at most one fault in its arguments.
    const candidates = this.roots.filter((r) => (transport === "http" ? r.kind !== "subscription" || rng.bernoulli(0.1) : true));
    const root = pick(rng, candidates);
    const inline = fault === "literalType" ? 1 : rng.bernoulli(0.2) ? 0.5 : 0;
    const b = buildOperation(rng, this.schema, this.pools, root.kind, root.field, inline);
    const made: FuzzCase = {
      ...base,
      target: b.root,
      subscription: root.kind === "subscription",
      key: root.kind === "mutation" || rng.bernoulli(0.1) ? "right" : "none",
      query: "",
      variables: b.variables,
      expect: anyCode,
    };
    const variableSlots = b.slots.filter((s) => s.variable !== null);
    const inlineSlots = b.slots.filter((s) => s.variable === null);
    const bad: Expectation = { codes: ["BAD_USER_INPUT"] };
    const setVar = (s: Slot, value: unknown) => {
      if (value === undefined) delete b.variables[s.variable!];
      else b.variables[s.variable!] = value;
    };

    switch (fault) {
      case "varType": {
        const s = variableSlots.length ? pick(rng, variableSlots) : null;
        if (!s) break;
        // A bad value somewhere inside the variable (a list item, an input field), or the whole of it.
        const value = s.value;
        const named = getNamedType(s.type);
        if (isInputObjectType(named) && value && typeof value === "object" && !Array.isArray(value) && rng.bernoulli(0.6)) {
          const fields = Object.values(named.getFields()).filter((f) => getNamedType(f.type).name !== "JSON");
          const f = pick(rng, fields);
          setVar(s, { ...(value as object), [f.name]: badValue(rng, f.type) });
        } else if (isListType(getNullableType(s.type)) && Array.isArray(value) && value.length && isInputObjectType(named)) {
          const f = pick(rng, Object.values(named.getFields()));
          const i = rng.int(value.length);
          setVar(
            s,
            value.map((v, j) => (j === i ? { ...(v as object), [f.name]: badValue(rng, f.type) } : v)),
          );
        } else {
          if (named.name === "JSON") break;
          setVar(s, badValue(rng, s.type));
        }
        made.expect = bad;
        break;
      }
      case "missingVar": {
        const required = variableSlots.filter((s) => isNonNullType(s.type));
        if (!required.length) break;
        setVar(pick(rng, required), undefined);
        made.expect = bad;
        break;
      }
      case "literalType": {
        const s = inlineSlots.length ? pick(rng, inlineSlots) : null;
        if (!s || getNamedType(s.type).name === "JSON") break;
        s.value = badValue(rng, s.type);
        made.expect = { codes: ["GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"] };
        break;
      }
      case "nul": {
        const withStrings = b.slots.filter((s) => stringLeaves(s.value).length > 0);
        if (!withStrings.length) break;
        const s = pick(rng, withStrings);
        const path = pick(rng, stringLeaves(s.value));
        const value = setAt(s.value, path, (old) => nulString(rng, old as string));
        if (s.variable) setVar(s, value);
        else s.value = value;
        // An inline DateTime or enum with a NUL is first of all not a valid literal of its type.
        const stringy = ["String", "ID", "JSON"].includes(leafType(s.type, path));
        made.expect = s.variable || stringy ? bad : { codes: ["BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"] };
        break;
      }
      case "hugeId":
      case "oddId": {
        const ids = b.slots.filter((s) => getNamedType(s.type).name === "ID" || stringLeaves(s.value).length > 0);
        if (!ids.length) break;
        const s = pick(rng, ids);
        const leaves = stringLeaves(s.value);
        const replacement = () =>
          fault === "hugeId"
            ? randomText(rng, pick(rng, [3000, 10000, 200000]), "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
            : pick(rng, ODD_STRINGS);
        const value = leaves.length ? setAt(s.value, pick(rng, leaves), replacement) : replacement();
        if (s.variable) setVar(s, value);
        else s.value = value;
        break;
      }
      case "badCursor": {
        const s = b.slots.find((x) => x.coordinate.endsWith(".after"));
        if (!s) break;
        const forged = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
        const value = pick(rng, [
          "x",
          "!!!",
          forged(["user", "x"]),
          forged(["track", 1e308]),
          forged(["user", -1e30]),
          forged(["track", { a: 1 }]),
          forged(["run", "not a date", "x"]),
          forged(["run", "2026-10-01T00:00:00Z", "not-a-uuid"]),
          forged(["run", 5, 6]),
          forged(["user"]),
          forged(["user", null]),
          forged({ a: 1 }),
          forged(["user", "1; DROP TABLE run"]),
          Buffer.from("\u0000\u0001").toString("base64url"),
          forged(["track", 1.5]),
          forged(["user", "9".repeat(30)]),
        ]);
        if (s.variable) setVar(s, value);
        else s.value = value;
        made.expect = bad;
        break;
      }
      case "oddDate": {
        const s = b.slots.find((x) => getNamedType(x.type).name === "DateTime" || /PlayInput/.test(String(x.type)));
        if (!s) break;
        const date = pick(rng, ODD_DATES);
        const value =
          getNamedType(s.type).name === "DateTime"
            ? date
            : Array.isArray(s.value)
              ? s.value.map((p) => ({ ...(p as object), playedAt: date }))
              : s.value;
        if (s.variable) setVar(s, value);
        else s.value = value;
        break;
      }
      case "costly": {
        const s = b.slots.find((x) => /\.(first|k|userIds)$/.test(x.coordinate));
        if (!s) break;
        const value = s.coordinate.endsWith(".userIds")
          ? Array.from({ length: pick(rng, [1001, 5000, 20_000]) }, (_, i) => this.pools.users[i % this.pools.users.length])
          : pick(rng, [1001, 10_000, 1_000_000, 1_000_000_000, 2 ** 31 - 1, 0, -1, -(2 ** 31)]);
        if (s.variable) setVar(s, value);
        else s.value = value;
        made.expect = bad;
        break;
      }
      case "noKey":
        if (root.kind !== "mutation") break;
        made.key = rng.bernoulli(0.5) ? "none" : "wrong";
        made.expect = { codes: ["UNAUTHENTICATED"] };
        break;
      default:
        break;
    }
    // Over HTTP a subscription is refused for its transport once it has parsed and validated.
    if (made.subscription && transport === "http" && made.expect.codes)
      made.expect = { codes: ["BAD_REQUEST", ...made.expect.codes.filter((code) => code.startsWith("GRAPHQL_"))] };
    made.query = fillLiterals(b);
    return made;
  }

  private specCase(base: Pick<FuzzCase, "id" | "fault" | "transport" | "key">, fault: "yamlBomb" | "absurdSpec" | "saneSpec"): FuzzCase {
    const rng = this.rng;
    const asOverrides = fault !== "yamlBomb" && rng.bernoulli(0.4);
    const overrides = fault === "absurdSpec" ? absurdOverrides(rng) : saneOverrides(rng);
    const spec =
      fault === "yamlBomb" ? yamlBomb(rng) : specText(`fuzz-${rng.int(1000)}`, asOverrides ? { training: { epochs: 1 } } : overrides);
    const refused = fault !== "saneSpec";
    if (rng.bernoulli(0.3)) {
      // validateSpec answers with data: a refused spec is valid: false with errors.
      return {
        ...base,
        target: "Query.validateSpec",
        query: `query($s: String!) { validateSpec(spec: $s) { valid errors { path message } parameterCount } }`,
        variables: { s: asOverrides ? specText("fuzz-v", overrides) : spec },
        key: "none",
        expect: {
          codes: null,
          data: refused
            ? (data) => {
                const v = data.validateSpec as { valid: boolean; errors: unknown[] } | null;
                return v && v.valid === false && v.errors.length > 0 ? null : `validateSpec accepted a ${fault} spec`;
              }
            : undefined,
        },
      };
    }
    const input = asOverrides ? { model: "fs-vae-quick", overrides } : { spec };
    return {
      ...base,
      target: "Mutation.startTraining",
      query: `mutation($input: StartTrainingInput!) { startTraining(input: $input) { run { id status } clientMutationId } }`,
      variables: { input },
      expect: refused ? { codes: ["SPEC_INVALID"] } : { codes: null },
    };
  }
}
