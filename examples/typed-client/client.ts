/**
 * A typed Rubato client: the operations in operations.graphql, typed by
 * GraphQL Code Generator from the repository's schema.graphql
 * (generated/graphql.ts, `npm run codegen`). Every request and answer is
 * checked by the TypeScript compiler against the schema: a field the schema
 * does not have, or a wrong variable, does not compile.
 *
 *   node -r @swc-node/register examples/typed-client/client.ts URL KEY TRACK_ID USER_ID...
 *
 * prints one JSON line per call.
 */
import { print } from "graphql";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { RecordPlaysDocument, SimilarTracksDocument, UserEmbeddingsDocument } from "./generated/graphql";

export interface Answer<R> {
  data: R | null;
  errors: { message: string; path?: (string | number)[]; extensions?: { code?: string } }[];
}

/** One operation over HTTP; the document's types give the variables' and the answer's. */
export async function request<R, V>(url: string, document: TypedDocumentNode<R, V>, variables: V, key?: string): Promise<Answer<R>> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await res.json()) as { data?: R | null; errors?: Answer<R>["errors"] };
  return { data: body.data ?? null, errors: body.errors ?? [] };
}

export async function main(url: string, key: string, trackId: string, userIds: string[]): Promise<void> {
  const similar = await request(url, SimilarTracksDocument, { trackId, k: 3 });
  // Typed: similarTracks is an array of { distance: number, track: { id: string, genre: string | null } }.
  const neighbours = similar.data?.similarTracks.map((n) => ({ id: n.track.id, genre: n.track.genre, distance: n.distance })) ?? [];
  console.log(JSON.stringify({ similarTracks: neighbours, errors: similar.errors }));

  const playedAt = new Date().toISOString();
  const recorded = await request(
    url,
    RecordPlaysDocument,
    { input: { plays: [{ userId: userIds[0], trackId, playedAt, liked: true }], clientMutationId: "typed-client" } },
    key,
  );
  console.log(JSON.stringify({ recordPlays: recorded.data?.recordPlays ?? null, errors: recorded.errors }));

  const embedded = await request(url, UserEmbeddingsDocument, { userIds });
  // Typed: a user who cannot be embedded is null, with an error whose path ends at their index.
  const users = embedded.data?.userEmbeddings.map((e) => (e ? { userId: e.userId, plays: e.plays, dims: e.mu.length } : null)) ?? [];
  console.log(JSON.stringify({ userEmbeddings: users, errors: embedded.errors.map((e) => ({ path: e.path, code: e.extensions?.code })) }));
}

if (require.main === module) {
  const [url, key, trackId, ...userIds] = process.argv.slice(2);
  if (!url || !key || !trackId || userIds.length === 0) {
    console.error("usage: client.ts URL KEY TRACK_ID USER_ID...");
    process.exit(2);
  }
  main(url, key, trackId, userIds).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
