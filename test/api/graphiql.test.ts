/**
 * GraphiQL, offline: Debian's Chromium, headless through playwright-core, opens
 * GET /graphql with every request outside this server refused (the machine has
 * no internet), types a similarTracks query, runs it, and reads the result; the
 * key rules apply to what it runs.
 */
import fs from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { startServer, type RunningServer } from "../../src/api/server";
import { loadDemoWorld } from "../../src/data/demo-data";
import type { Store } from "../../src/store/store";
import { backendName, openTestStore } from "../helpers/store";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = fs.existsSync(CHROMIUM);
const inCI = process.env.CI === "true";
if (!haveChromium && !inCI)
  console.warn(`skipping the GraphiQL browser check: ${CHROMIUM} is missing; install it with: sudo apt-get install -y chromium`);

const KEY = "graphiql-test-key";

describe(`GraphiQL at GET /graphql, offline (${backendName})`, () => {
  let store: Store;
  let server: RunningServer;
  let trackId: string;

  beforeAll(async () => {
    store = await openTestStore();
    await loadDemoWorld(store, { users: 10, tracks: 60, days: 3, seed: 3 });
    [{ external_id: trackId }] = await store.sql.query<{ external_id: string }>(
      "SELECT external_id FROM track WHERE embedding IS NOT NULL ORDER BY id LIMIT 1",
    );
    // Queries need the key too, so the page's requests show the key rules at work.
    server = await startServer(store, { port: 0, policy: { apiKey: KEY, openQueries: false } });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await store?.close();
  });

  it("a browser's GET gets the page; API GETs, JSON clients and unknown assets do not", async () => {
    const html = await fetch(server.graphqlUrl, { headers: { accept: "text/html,application/xhtml+xml" } });
    expect(html.status).toBe(200);
    expect(html.headers.get("content-type")).toMatch(/^text\/html/);
    const page = await html.text();
    expect(page).toContain('src="/graphiql/graphiql.js"');
    // no URL in the page leaves this server
    expect(page.match(/(?:src|href)="[^"]*"/g)!.filter((u) => !/^(?:src|href)="\//.test(u))).toEqual([]);

    for (const asset of ["react.js", "react-dom.js", "graphiql.js", "graphiql.css"]) {
      const r = await fetch(`${server.url}/graphiql/${asset}`);
      expect([asset, r.status]).toEqual([asset, 200]);
      expect((await r.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    }
    expect((await fetch(`${server.url}/graphiql/../package.json`)).status).toBe(404);
    expect((await fetch(`${server.url}/graphiql/package.json`)).status).toBe(404);

    // A GET that carries a query is an API call, whatever it accepts.
    const get = await fetch(`${server.graphqlUrl}?query=${encodeURIComponent("{ __typename }")}`, {
      headers: { accept: "text/html, application/json", authorization: `Bearer ${KEY}`, "apollo-require-preflight": "1" },
    });
    expect(await get.json()).toEqual({ data: { __typename: "Query" } });
  });

  const maybe = haveChromium ? it : inCI ? it : it.skip;
  maybe(
    "Chromium, offline, runs a similarTracks query: refused without the key, answered with it",
    async () => {
      if (!haveChromium) throw new Error(`${CHROMIUM} is missing in CI: .ci/run installs it (apt-get install -y chromium)`);
      let browser: Browser | null = null;
      try {
        browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
        const page = await browser.newPage();
        const outside: string[] = [];
        const origin = new URL(server.url).origin;
        await page.route("**/*", (route) => {
          const url = route.request().url();
          if (url.startsWith(origin) || url.startsWith("data:")) return route.continue();
          outside.push(url);
          return route.abort("internetdisconnected");
        });
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(e.message));

        await page.goto(server.graphqlUrl);
        await page.locator(".graphiql-query-editor .CodeMirror").waitFor({ timeout: 30_000 });

        await typeInto(page, ".graphiql-query-editor", `query { similarTracks(trackId: "${trackId}", k: 3) { track { id } distance } }`);
        await run(page);
        expect(await responseWith(page, "errors")).toContain("UNAUTHENTICATED");

        await page.getByRole("button", { name: /^headers$/i }).click();
        await typeInto(page, ".graphiql-editor-tool", JSON.stringify({ Authorization: `Bearer ${KEY}` }));
        await run(page);
        const result = JSON.parse(await responseWith(page, '"similarTracks"')) as { data: { similarTracks: { track: { id: string }; distance: number }[] } };
        expect(result.data.similarTracks).toHaveLength(3);
        const distances = result.data.similarTracks.map((n) => n.distance);
        expect(distances).toEqual([...distances].sort((a, b) => a - b));
        expect(result.data.similarTracks.map((n) => n.track.id)).not.toContain(trackId); // the track itself is left out

        expect(outside).toEqual([]);
        expect(errors).toEqual([]);
      } finally {
        await browser?.close();
      }
    },
    120_000,
  );
});

/** Replaces an editor's text, as typing would (insertText: no auto-closed brackets). */
async function typeInto(page: Page, container: string, text: string): Promise<void> {
  await page.locator(`${container} .CodeMirror >> visible=true`).first().click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Backspace");
  await page.keyboard.insertText(text);
}

async function run(page: Page): Promise<void> {
  await page.locator(".graphiql-execute-button").click();
}

/** The response pane's text once it contains `text` (or what it shows after 20 s). */
async function responseWith(page: Page, text: string): Promise<string> {
  // (a string: this project's types have no DOM) CodeMirror 5 keeps the editor on its element.
  const read = () =>
    page.evaluate<string>(`document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror?.getValue() ?? ""`);
  const until = Date.now() + 20_000;
  let shown = await read();
  while (!shown.includes(text) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    shown = await read();
  }
  return shown;
}
