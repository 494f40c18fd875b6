import "reflect-metadata";
import { parse, specifiedRules, validate } from "graphql";
import { apiSchema } from "../../src/api/graphql";
import { checkCost, DEFAULT_LIMITS, documentRules, limitsFromEnv, type Limits } from "../../src/api/limits";

describe("operation cost", () => {
  const schema = apiSchema();
  const query = parse(`query($u: ID!, $k: Int) { similarTracks(userId: $u, k: $k) { track { id title } distance } }`);

  it("grows with the list size asked for, through variables, and is the same for any id", () => {
    const small = checkCost(schema, query, { u: "user-1", k: 10 }, null, DEFAULT_LIMITS);
    const large = checkCost(schema, query, { u: "user-1", k: 100 }, null, DEFAULT_LIMITS);
    expect(large).toBeGreaterThan(small);
    // another user: the same cost (estimated once per document and numbers), and k: 10 again still 10's cost
    expect(checkCost(schema, query, { u: "user-2", k: 100 }, null, DEFAULT_LIMITS)).toBe(large);
    expect(checkCost(schema, query, { u: "user-3", k: 10 }, null, DEFAULT_LIMITS)).toBe(small);
  });

  it("rejects an operation over the limit every time, not only when first estimated", () => {
    const limits = { ...DEFAULT_LIMITS, maxCost: 50 };
    for (const u of ["a", "b"]) expect(() => checkCost(schema, query, { u, k: 500 }, null, limits)).toThrow(/the limit is 50/);
    expect(() => checkCost(schema, query, { u: "c", k: 5 }, null, limits)).not.toThrow();
  });
});

describe("depth and aliases (graphql-armor's rules)", () => {
  const schema = apiSchema();
  /** The rules' messages alone: graphql's own rules (fragment cycles among them) are left out on purpose. */
  const check = (query: string, limits: Partial<Limits> = {}) =>
    validate(schema, parse(query), documentRules({ ...DEFAULT_LIMITS, ...limits })).map((e) => e.message);

  it("count field levels, leaves included, where fragments are spread; fragments add none", () => {
    expect(check(`{ run(id: "x") { id } }`, { maxDepth: 2 })).toEqual([]);
    expect(check(`{ run(id: "x") { curves { seq } } }`, { maxDepth: 2 })).toEqual(["Query depth limit of 2 exceeded, found 3."]);
    expect(check(`{ ...R } fragment R on Query { run(id: "x") { ...C } } fragment C on Run { curves { seq } }`, { maxDepth: 2 })).toEqual([
      "Query depth limit of 2 exceeded, found 3.",
    ]);
    expect(check(`{ ... on Query { ... on Query { run(id: "x") { ... on Run { id } } } } }`, { maxDepth: 2 })).toEqual([]);
    // The deepest query the schema has room for: depth 6, under the default 8.
    expect(check(`{ users { edges { node { recentPlays { track { id } } } } } }`)).toEqual([]);
    expect(check(`{ users { edges { node { recentPlays { track { id } } } } } }`, { maxDepth: 5 })).toEqual([
      "Query depth limit of 5 exceeded, found 6.",
    ]);
  });

  it("end on fragment cycles (graphql-depth-limit recursed forever on them)", () => {
    const cycles = [
      `fragment A on Query { ...A } { ...A }`,
      `fragment A on Query { ...B } fragment B on Query { ...A } { ...A }`,
      `fragment A on Run { curves { seq ...B } } fragment B on CurvePoint { ...C } fragment C on CurvePoint { ...B } { run(id: "x") { ...A } }`,
      `fragment A on Query { a: run(id: "x") { id } b: run(id: "y") { ...R } } fragment R on Run { ...S } fragment S on Run { ...R } { ...A }`,
      `query One { ...A } query Two { ...B } fragment A on Query { ...B } fragment B on Query { ...A }`,
    ];
    for (const query of cycles) {
      const started = performance.now();
      expect(() => check(query)).not.toThrow();
      expect({ query, fast: performance.now() - started < 1000 }).toEqual({ query, fast: true });
    }
    // With graphql's own rules, as the server validates: the cycle is what is reported.
    const all = validate(schema, parse(cycles[1]), [...specifiedRules, ...documentRules(DEFAULT_LIMITS)]).map((e) => e.message);
    expect(all).toEqual(expect.arrayContaining([expect.stringMatching(/Cannot spread fragment "A" within itself/)]));
  });

  it("walk each fragment once however often it is spread", () => {
    // 30 fragments each spreading the next twice: 2^30 paths, one walk each (and nesting 32, under 40).
    const fragments = Array.from({ length: 30 }, (_, i) =>
      i === 29 ? `fragment F29 on Run { id }` : `fragment F${i} on Run { ...F${i + 1} ...F${i + 1} }`,
    );
    const started = performance.now();
    expect(check(`{ run(id: "x") { ...F0 } } ${fragments.join(" ")}`)).toEqual([]);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("bound nesting of every kind (fields, inline fragments, spreads) at the depth limit + 32, without recursion", () => {
    const chain = (n: number) =>
      `{ ...F0 } ` +
      Array.from({ length: n }, (_, i) => `fragment F${i} on Query { ${i === n - 1 ? "__typename" : `...F${i + 1}`} }`).join(" ");
    expect(check(chain(39))).toEqual([]);
    expect(check(chain(40))).toEqual(["the operation nests fields and fragments 41 deep; at most 40"]);
    // Thousands of fragments: armor's walks overflow the stack there, which is reported as a validation error as well.
    expect(check(chain(3000))).toEqual(
      expect.arrayContaining([
        "the operation nests fields and fragments 3001 deep; at most 40",
        "the operation nests fragments too deeply to be measured",
      ]),
    );
    expect(check(`{ ${"... on Query { ".repeat(40)}__typename${" }".repeat(40)} }`)).toEqual([
      "the operation nests fields and fragments 41 deep; at most 40",
    ]);
  });

  it("count every alias, in fragments too, __typename ones included", () => {
    const aliased = (n: number, field = "__typename") => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(" ");
    expect(check(`{ ${aliased(30)} }`)).toEqual([]);
    expect(check(`{ ${aliased(31)} }`)).toEqual(["Aliases limit of 30 exceeded, found 31."]);
    expect(check(`{ ${aliased(20)} ...F } fragment F on Query { ${aliased(11, "models { name }")} }`)).toEqual([
      "Aliases limit of 30 exceeded, found 31.",
    ]);
    expect(check(`{ ${aliased(5)} }`, { maxAliases: 4 })).toEqual(["Aliases limit of 4 exceeded, found 5."]);
  });
});

describe("limits from the environment", () => {
  it("reads RUBATO_MAX_DEPTH, RUBATO_MAX_ALIASES, RUBATO_MAX_COST and RUBATO_MAX_REQUEST_BYTES, refusing what is not a positive integer", () => {
    expect(limitsFromEnv({})).toEqual(DEFAULT_LIMITS);
    expect(limitsFromEnv({ RUBATO_MAX_DEPTH: "10", RUBATO_MAX_ALIASES: "5" })).toMatchObject({ maxDepth: 10, maxAliases: 5 });
    expect(() => limitsFromEnv({ RUBATO_MAX_ALIASES: "many" })).toThrow('RUBATO_MAX_ALIASES must be a positive integer, got "many"');
  });
});
