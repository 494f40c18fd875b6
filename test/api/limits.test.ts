import "reflect-metadata";
import { parse } from "graphql";
import { apiSchema } from "../../src/api/graphql";
import { checkCost, DEFAULT_LIMITS } from "../../src/api/limits";

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
