/**
 * The answers issue 17's outside check found wrong, one by one, over real
 * HTTP (and WebSocket where the path differs): variables that do not coerce,
 * NUL characters, YAML bombs, costly operations, absurd specs, forged cursors.
 */
import { startServer, type RunningServer } from "../../src/api/server";
import { MAX_FRAGMENTS, MAX_TOKENS } from "../../src/api/limits";
import { loadDemoWorld } from "../../src/data/demo-data";
import type { Store } from "../../src/store/store";
import { openTestStore, backendName } from "../helpers/store";
import { collect, gql, wsClient } from "./client";

const KEY = "inputs-key";
const BOMB = (() => {
  const lines = ["extends: fs-vae-quick", "name: bomb", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++)
    lines.push(
      `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(",")}]`,
    );
  return `${lines.join("\n")}\ndescription: *a8\n`;
})();

describe(`hostile inputs over HTTP and WebSocket (${backendName})`, () => {
  let store: Store;
  let server: RunningServer;
  let url: string;
  const q = (query: string, variables: Record<string, unknown> = {}, key?: string) => gql(url, query, variables, key);

  beforeAll(async () => {
    store = await openTestStore();
    await loadDemoWorld(store, { users: 10, tracks: 30, days: 2, seed: 7 });
    server = await startServer(store, { port: 0, policy: { apiKey: KEY, openQueries: true } });
    url = server.graphqlUrl;
  });
  afterAll(async () => {
    await server?.close();
    await store?.close();
  });

  it("answers GraphQL's own variable errors with BAD_USER_INPUT and 400, naming the variable", async () => {
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      [
        `query($u: ID!, $t: DateTime) { userEmbedding(userId: $u, asOf: $t) { plays } }`,
        { u: "u00001", t: "not a date" },
        "t",
        /DateTime cannot represent/,
      ],
      [`query($u: ID!) { userEmbedding(userId: $u) { plays } }`, {}, "u", /of required type "ID!" was not provided/],
      [`query($k: Int) { similarTracks(trackId: "t00001", k: $k) { distance } }`, { k: 2 ** 40 }, "k", /non 32-bit signed integer/],
      [`query($k: Int) { similarTracks(trackId: "t00001", k: $k) { distance } }`, { k: "ten" }, "k", /non-integer value: "ten"/],
      [`query($f: Int) { users(first: $f) { edges { cursor } } }`, { f: 1.5 }, "f", /non-integer value: 1.5/],
    ];
    const client = wsClient(url);
    for (const [query, variables, variable, message] of cases) {
      const r = await q(query, variables);
      expect({ variable, status: r.status, data: r.data }).toEqual({ variable, status: 400, data: undefined });
      expect(r.errors![0]).toMatchObject({ message: expect.stringMatching(message), extensions: { code: "BAD_USER_INPUT", variable } });
      const { results, error } = await collect(client, query, variables);
      expect(results).toEqual([]);
      expect((error as { extensions: { code: string } }[])[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", variable });
      expect((error as { extensions: { code: string } }[])[0].extensions).not.toHaveProperty("http");
    }
    await client.dispose();
  });

  it("refuses a NUL character in any string argument or input field, naming where it is", async () => {
    const counts = () =>
      store.sql.query<{ users: number; runs: number }>(
        `SELECT (SELECT count(*)::int FROM app_user) AS users, (SELECT count(*)::int FROM run) AS runs`,
      );
    const before = await counts();
    const user = await q(`query($u: ID!) { user(id: $u) { id } }`, { u: "u0\u00000001" });
    expect(user.status).toBe(400);
    expect(user.errors![0]).toMatchObject({
      message: "user(id): strings may not contain the NUL character (U+0000)",
      extensions: { code: "BAD_USER_INPUT", argument: "id", variable: "u", at: "user(id)" },
    });
    const plays = [
      { userId: "u00001", trackId: "t00001", playedAt: "2026-10-01T00:00:00Z" },
      { userId: "u\u00001", trackId: "t00001", playedAt: "2026-10-01T00:00:00Z" },
    ];
    const recorded = await q(`mutation($p: [PlayInput!]!) { recordPlays(input: { plays: $p }) { recorded } }`, { p: plays }, KEY);
    expect(recorded.errors![0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      variable: "p",
      at: "recordPlays(input).plays[1].userId",
    });
    const whole = await q(`mutation($i: RecordPlaysInput!) { recordPlays(input: $i) { recorded } }`, { i: { plays } }, KEY);
    expect(whole.errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", variable: "i", at: "recordPlays(input).plays[1].userId" });
    const inline = await q(
      `mutation { recordPlays(input: { plays: [{ userId: "u\\u0000", trackId: "t00001", playedAt: "2026-10-01T00:00:00Z" }] }) { recorded } }`,
      {},
      KEY,
    );
    expect(inline.errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", at: "recordPlays(input).plays[0].userId" });
    const spec = await q(
      `mutation($s: String) { startTraining(input: { spec: $s }) { run { id } } }`,
      { s: "extends: fs-vae-quick\nname: x\u0000\n" },
      KEY,
    );
    expect(spec.errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", at: "startTraining(input).spec" });
    const json = await q(
      `mutation($o: JSON) { startTraining(input: { model: "average", overrides: $o }) { run { id } } }`,
      { o: { description: ["ok", "n\u0000"] } },
      KEY,
    );
    expect(json.errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", at: "startTraining(input).overrides.description[1]" });
    // Nothing was written.
    expect(await counts()).toEqual(before);
  });

  it("answers a YAML alias bomb with SPEC_INVALID at the first alias, not an internal error", async () => {
    const r = await q(`mutation($s: String) { startTraining(input: { spec: $s }) { run { id } } }`, { s: BOMB }, KEY);
    expect(r.status).toBe(200);
    expect(r.errors![0].extensions).toMatchObject({
      code: "SPEC_INVALID",
      errors: [{ file: "<spec>", line: 4, path: "", message: expect.stringMatching(/^aliases \(\*name\) expand to too much/) }],
    });
    const v = await q(`query($s: String!) { validateSpec(spec: $s) { valid errors { line message } } }`, { s: BOMB });
    expect(v.data!.validateSpec).toMatchObject({ valid: false, errors: [{ line: 4 }] });
  });

  it("refuses costly operations with BAD_USER_INPUT and 400", async () => {
    for (const query of [
      `{ users(first: 1000000000) { edges { cursor } } }`,
      `{ similarTracks(trackId: "t00001", k: 2147483647) { distance } }`,
    ]) {
      const r = await q(query);
      expect(r.status).toBe(400);
      expect(r.errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", maxCost: 5000 });
    }
  });

  it("refuses specs absurd by size, and specs whose memory estimate exceeds the budget, as SPEC_INVALID", async () => {
    const start = (overrides: unknown) =>
      q(
        `mutation($o: JSON) { startTraining(input: { model: "fs-vae-quick", overrides: $o }) { run { id status } } }`,
        { o: overrides },
        KEY,
      );
    const absurd: [unknown, string][] = [
      [{ encoders: { fast: { units: 1e9 } } }, "encoders.fast.units"],
      [{ encoders: { fast: { layers: 1e5 } } }, "encoders.fast.layers"],
      [{ latent: { size: 1e8 } }, "latent.size"],
      [{ features: { fast: { window: 1e8 } } }, "features.fast.window"],
      [{ training: { batch_size: 2e9 } }, "training.batch_size"],
    ];
    for (const [overrides, path] of absurd) {
      const r = await start(overrides);
      expect(r.errors![0].extensions).toMatchObject({ code: "SPEC_INVALID", errors: [{ path }] });
    }
    const saved = process.env.RUBATO_MEMORY_BUDGET;
    process.env.RUBATO_MEMORY_BUDGET = "64MiB";
    try {
      const big = { encoders: { fast: { units: 1024 } }, training: { batch_size: 4096 }, features: { fast: { window: 100 } } };
      const r = await start(big);
      expect(r.errors![0].extensions).toMatchObject({
        code: "SPEC_INVALID",
        errors: [
          {
            path: "training.batch_size",
            message: expect.stringMatching(
              /^the run needs an estimated .* more than the memory budget of 64.0 MiB \(RUBATO_MEMORY_BUDGET\)/,
            ),
          },
        ],
      });
      const v = await q(`query($s: String!) { validateSpec(spec: $s) { valid errors { path message } } }`, {
        s: "extends: fs-vae-quick\nname: big\nencoders: { fast: { units: 1024 } }\ntraining: { batch_size: 4096 }\nfeatures: { fast: { window: 100 } }\n",
      });
      expect(v.data!.validateSpec).toMatchObject({ valid: false, errors: [{ path: "training.batch_size" }] });
      // A small run still fits.
      expect((await start({ training: { epochs: 1 } })).data!.startTraining.run.status).toBe("QUEUED");
    } finally {
      if (saved === undefined) delete process.env.RUBATO_MEMORY_BUDGET;
      else process.env.RUBATO_MEMORY_BUDGET = saved;
    }
  });

  it("refuses forged cursors, over-long ids in plays and file paths as model names with the documented codes", async () => {
    const forged = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    for (const [list, cursor] of [
      ["users", forged(["user", "x"])],
      ["tracks", forged(["track", 1e308])],
      ["runs", forged(["run", "not a date", "x"])],
      ["runs", forged(["run", "2026-10-01T00:00:00Z", "not-a-uuid"])],
    ]) {
      const r = await q(`query($a: String) { ${list}(first: 2, after: $a) { edges { cursor } } }`, { a: cursor });
      expect({ list, code: r.errors?.[0].extensions?.code }).toEqual({ list, code: "BAD_USER_INPUT" });
    }
    const long = await q(
      `mutation($p: [PlayInput!]!) { recordPlays(input: { plays: $p }) { recorded } }`,
      { p: [{ userId: "u".repeat(5000), trackId: "t00001", playedAt: "2026-10-01T00:00:00Z" }] },
      KEY,
    );
    expect(long.errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", index: 0, field: "userId" });
    const yearZero = await q(
      `mutation($p: [PlayInput!]!) { recordPlays(input: { plays: $p }) { recorded } }`,
      { p: [{ userId: "u00001", trackId: "t00001", playedAt: "0000-01-01T00:00:00Z" }] },
      KEY,
    );
    expect(yearZero.errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", index: 0, field: "playedAt" });
    const path = await q(`mutation { startTraining(input: { model: "../../../../etc/passwd" }) { run { id } } }`, {}, KEY);
    expect(path.errors![0].extensions).toMatchObject({ code: "SPEC_INVALID", errors: [{ path: "model" }] });
  });

  it("refuses alias and token bombs fast, subscriptions over HTTP, and a persisted query whose hash does not match", async () => {
    const aliases = (n: number, field: string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(" ")} }`;
    // At most 30 aliases (graphql-armor's max-aliases), __typename ones included.
    for (const field of ["models { name }", "__typename"]) {
      const many = await q(aliases(31, field));
      expect(many.status).toBe(400);
      expect(many.errors![0]).toMatchObject({
        message: "Aliases limit of 30 exceeded, found 31.",
        extensions: { code: "GRAPHQL_VALIDATION_FAILED" },
      });
    }
    expect((await q(aliases(30, "models { name }"))).errors).toBeUndefined();
    const client = wsClient(url);
    const { error } = await collect(client, aliases(31, "__typename"));
    await client.dispose();
    expect((error as { message: string; extensions: { code: string } }[])[0]).toMatchObject({
      message: "Aliases limit of 30 exceeded, found 31.",
      extensions: { code: "GRAPHQL_VALIDATION_FAILED" },
    });
    const started = Date.now();
    const tokens = await q(aliases(20000, "models { name }"));
    expect(Date.now() - started).toBeLessThan(1500);
    expect(tokens.status).toBe(400);
    expect(tokens.errors![0]).toMatchObject({
      message: expect.stringMatching(/more that 50000 tokens/),
      extensions: { code: "GRAPHQL_PARSE_FAILED" },
    });
    // Past 10,000 selections the cost estimate stops: too costly (15 fragments, each spreading the next twice).
    const fragments = Array.from(
      { length: 15 },
      (_, i) => `fragment F${i} on Query { ${i === 14 ? "__typename" : `...F${i + 1} ...F${i + 1}`} }`,
    );
    const nodes = await q(`{ ...F0 } ${fragments.join(" ")}`);
    expect(nodes.status).toBe(400);
    expect(nodes.errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", maxCost: 5000 });
    const sub = await q(`subscription { trainingProgress(runId: "00000000-0000-0000-0000-000000000000") { kind } }`);
    expect(sub.status).toBe(400);
    expect(sub.errors![0].extensions!.code).toBe("BAD_REQUEST");
    const apq = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ models { name } }", extensions: { persistedQuery: { version: 1, sha256Hash: "x" } } }),
    });
    expect(apq.status).toBe(400);
    expect(await apq.json()).toEqual({ errors: [{ message: "provided sha does not match query", extensions: { code: "BAD_REQUEST" } }] });
  });

  it("answers fragment cycles and nesting bombs as validation errors, not internal ones, over HTTP and WebSocket", async () => {
    const client = wsClient(url);
    const cycles = [
      `fragment A on Query { ...B } fragment B on Query { ...A } { ...A }`,
      `fragment A on Query { ...A } { ...A }`,
      `fragment A on Run { curves { seq ...B } } fragment B on CurvePoint { ...C } fragment C on CurvePoint { ...B } { run(id: "x") { ...A } }`,
    ];
    for (const query of cycles) {
      const r = await q(query);
      expect({ query, status: r.status }).toEqual({ query, status: 400 });
      expect(r.errors!.map((e) => e.extensions!.code)).toContain("GRAPHQL_VALIDATION_FAILED");
      const { error } = await collect(client, query);
      expect((error as { extensions: { code: string } }[]).map((e) => e.extensions.code)).toContain("GRAPHQL_VALIDATION_FAILED");
    }
    await client.dispose();
    // Introspection nests as deep as it is asked: past depth 8 it is refused.
    const deep = await q(`{ __type(name: "Query") { ${"fields { type { ".repeat(5)}name${" } }".repeat(5)} } }`);
    expect(deep.status).toBe(400);
    expect(deep.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          message: "Query depth limit of 8 exceeded, found 12.",
          extensions: { code: "GRAPHQL_VALIDATION_FAILED" },
        }),
      ]),
    );
    // Nesting of any kind is bounded too: 500 inline fragments around one field (depth 2 by armor's count), or a chain of
    // 1,000 fragments each spreading the next (whose walks would overflow the stack), are refused, not internal errors.
    const chain = (n: number) =>
      `{ ...F0 } ` + Array.from({ length: n }, (_, i) => `fragment F${i} on Query { ${i === n - 1 ? "__typename" : `...F${i + 1}`} }`).join(" ");
    const nested = await q(`{ ${"...on Query { ".repeat(500)}models { name }${" }".repeat(500)} }`);
    for (const r of [nested, await q(chain(1000))]) {
      expect(r.status).toBe(400);
      expect(r.errors![0]).toMatchObject({
        message: expect.stringMatching(/^the operation nests fields and fragments \d+ deep; at most 40$/),
        extensions: { code: "GRAPHQL_VALIDATION_FAILED" },
      });
    }
    // The longest chain within the token limit (8 tokens a link): graphql-js's own cycle check, which runs beside our
    // rules, overflowed the stack on it inside Apollo (a 500). Refused by its count of fragments, before validation.
    const longest = chain(Math.floor((MAX_TOKENS - 4) / 8));
    const ws = wsClient(url);
    const r = await q(longest);
    expect(r.status).toBe(400);
    expect(r.errors).toEqual([
      { message: `the document defines 6249 fragments; at most ${MAX_FRAGMENTS}`, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } },
    ]);
    const { error } = await collect(ws, longest);
    await ws.dispose();
    expect(error).toEqual([expect.objectContaining({ message: `the document defines 6249 fragments; at most ${MAX_FRAGMENTS}` })]);
  });
});
