/** Small GraphQL clients for tests: over real HTTP (fetch) and a real WebSocket (graphql-ws). */
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

export interface GraphQLResult<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> & { code?: string } }[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- responses are checked by expect(), not by types
export async function gql<T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  key?: string,
): Promise<GraphQLResult<T>> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as object) };
}

export function wsClient(httpUrl: string, key?: string): Client {
  return createClient({
    url: httpUrl.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    retryAttempts: 0,
  });
}

/** Every `next` payload of one subscription until it completes, or the error it ends with. */
export function collect<T>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ results: T[]; error?: unknown }> {
  return new Promise((resolve) => {
    const results: T[] = [];
    client.subscribe<T>(
      { query, variables },
      {
        next: (r) => results.push(r as T),
        error: (error) => resolve({ results, error }),
        complete: () => resolve({ results }),
      },
    );
  });
}
