/**
 * GraphiQL at GET /graphql for a browser, offline: the page and every asset it
 * loads come from npm packages installed with Rubato (graphiql's UMD build on
 * React 18's), served by this process. No CDN: Rubato's machines may have no
 * internet. The page only posts to /graphql, so the API's key rules apply to
 * what it runs; a key goes in GraphiQL's Headers tab.
 */
import fs from "node:fs";
import path from "node:path";
import type http from "node:http";

/** The asset URL paths the page loads, and the package file behind each. */
const ASSETS: Record<string, { pkg: string; file: string; type: string }> = {
  "/graphiql/react.js": { pkg: "react", file: "umd/react.production.min.js", type: "text/javascript" },
  "/graphiql/react-dom.js": { pkg: "react-dom", file: "umd/react-dom.production.min.js", type: "text/javascript" },
  "/graphiql/graphiql.js": { pkg: "graphiql", file: "graphiql.min.js", type: "text/javascript" },
  "/graphiql/graphiql.css": { pkg: "graphiql", file: "graphiql.min.css", type: "text/css" },
};

/** A package's directory: up from its main file to the package.json that names it (React's exports hide umd/). */
function packageDir(pkg: string): string {
  let dir = path.dirname(require.resolve(pkg));
  for (;;) {
    const manifest = path.join(dir, "package.json");
    if (fs.existsSync(manifest) && (JSON.parse(fs.readFileSync(manifest, "utf8")) as { name?: string }).name === pkg) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the ${pkg} package's directory for GraphiQL's assets`);
    dir = up;
  }
}

export const GRAPHIQL_ASSET_PREFIX = "/graphiql/";

const EXAMPLE_QUERY = `# Rubato's API. Mutations need the key: add it in the Headers tab below as
#   { "Authorization": "Bearer YOUR_KEY" }
# (rubato serve prints where the key is kept).

{
  models { name type }
  users(first: 3) {
    edges {
      node {
        id
      }
    }
  }
}
`;

function page(graphqlPath: string): string {
  const config = JSON.stringify({ url: graphqlPath, query: EXAMPLE_QUERY }).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Rubato · GraphiQL</title>
<link rel="stylesheet" href="/graphiql/graphiql.css">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="/graphiql/react.js"></script>
<script src="/graphiql/react-dom.js"></script>
<script src="/graphiql/graphiql.js"></script>
<script>
  const config = ${config};
  const fetcher = GraphiQL.createFetcher({ url: new URL(config.url, location.href).href });
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, { fetcher, defaultQuery: config.query, isHeadersEditorEnabled: true, shouldPersistHeaders: false }),
  );
</script>
</body>
</html>
`;
}

/** A browser asking for the endpoint itself: GET, HTML accepted, no query in the URL (a GET query goes to the API). */
export function wantsGraphiql(req: http.IncomingMessage, url: URL): boolean {
  return req.method === "GET" && !url.searchParams.has("query") && /\btext\/html\b/.test(req.headers.accept ?? "");
}

export function sendGraphiql(res: http.ServerResponse, graphqlPath: string): void {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" });
  res.end(page(graphqlPath));
}

const files = new Map<string, Buffer>();

/** Serves one of the page's assets; false when the path is not one of them. */
export function sendGraphiqlAsset(res: http.ServerResponse, pathname: string): boolean {
  const asset = ASSETS[pathname];
  if (!asset) return false;
  let body = files.get(pathname);
  if (!body) {
    body = fs.readFileSync(path.join(packageDir(asset.pkg), asset.file));
    files.set(pathname, body);
  }
  res.writeHead(200, { "content-type": `${asset.type}; charset=utf-8`, "cache-control": "public, max-age=86400" });
  res.end(body);
  return true;
}
