/** Test helpers: the synthetic world as columnar histories and a catalogue, without a store. */
import { generateWorld, type World, type WorldOptions } from "../../src/demo/world";
import { FLAG, type Catalogue, type UserHistory } from "../../src/features/history";
import { SpecSchema, type ModelSpec } from "../../src/spec/schema";

export function worldCatalogue(world: World, withoutEmbedding: ReadonlySet<number> = new Set()): Catalogue {
  const dim = world.options.dim;
  const n = world.tracks.length;
  const embeddings = new Float32Array(n * dim);
  const hasEmbedding = new Uint8Array(n);
  world.tracks.forEach((t, i) => {
    if (withoutEmbedding.has(i)) return;
    embeddings.set(t.embedding, i * dim);
    hasEmbedding[i] = 1;
  });
  return {
    externalIds: world.tracks.map((t) => t.externalId),
    trackIds: Int32Array.from({ length: n }, (_, i) => i + 1),
    dim,
    embeddings,
    hasEmbedding,
  };
}

/** One user's plays as a columnar history (user k gets internal id k + 1). */
export function worldHistory(world: World, user: number, rowOf: Map<string, number>): UserHistory {
  const events = world.userEvents(user);
  return {
    userId: user + 1,
    userExternalId: world.users[user].externalId,
    trackIndex: Int32Array.from(events, (e) => rowOf.get(e.trackExternalId) as number),
    playedAt: Float64Array.from(events, (e) => e.playedAt.getTime()),
    flags: Uint8Array.from(
      events,
      (e) =>
        (e.skipped ? FLAG.skipped : 0) |
        (e.liked ? FLAG.liked : 0) |
        (e.addedToPlaylist ? FLAG.addedToPlaylist : 0) |
        (e.restarted ? FLAG.restarted : 0),
    ),
  };
}

/** Every user's history, generated one user at a time (never all events at once). */
export function* worldHistories(world: World): Generator<UserHistory> {
  const rowOf = new Map(world.tracks.map((t, i) => [t.externalId, i]));
  for (let u = 0; u < world.users.length; u++) yield worldHistory(world, u, rowOf);
}

export function smallWorld(options: Partial<WorldOptions> = {}): World {
  return generateWorld({ users: 40, tracks: 300, days: 7, seed: 3, dim: 16, ...options });
}

/** A resolved spec: defaults plus overrides (one level of nesting merged per section). */
export function specWith(
  over: {
    fast?: Partial<ModelSpec["features"]["fast"]>;
    slow?: Partial<ModelSpec["features"]["slow"]>;
    split?: Partial<ModelSpec["training"]["split"]>;
    seed?: number;
    type?: ModelSpec["type"];
  } = {},
): ModelSpec {
  return SpecSchema.parse({
    name: "t",
    type: over.type ?? "fs-vae",
    features: { fast: over.fast ?? {}, slow: over.slow ?? {} },
    training: { seed: over.seed ?? 7, split: over.split ?? {} },
  });
}
