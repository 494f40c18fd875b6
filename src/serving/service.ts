/**
 * The serving service behind userEmbedding, similarTracks and recordPlays.
 * What can be held is held in memory: the loaded models (LRU), the active
 * run's id, the catalogue and its search indexes, users' latest plays
 * (histories.ts, kept exact by the store's event counter). Concurrent
 * embedding requests are batched (embedder.ts). Ids in and out are external ids.
 */
import { BadUserInput, NotFound, RubatoError } from "../errors";
import { playsToRead } from "../features/features";
import type { TrackView } from "../store/browse";
import { recentlyActiveUsers } from "../store/history";
import type { Store } from "../store/store";
import { CatalogueCache } from "./catalogue";
import { Embedder, type BatchInfo, type Embedded } from "./embedder";
import { HistoryCache } from "./histories";
import { searchMethod, type Metric } from "./ivf";
import { ModelCache } from "./models";
import { recordPlays, type PlayInput, type RecordPlaysResult } from "./plays";

export interface ServingOptions {
  /** Models kept loaded (LRU; default 3). */
  maxModels?: number;
  /** Called after every embedding batch with its size (tests, metrics). */
  onBatch?: (info: BatchInfo) => void;
  /** Catalogues smaller than this are searched exhaustively (default 20,000 tracks); larger ones through the IVF index (ivf.ts). */
  exactSearchBelow?: number;
  /** The IVF index's calibrated recall@10 target (default 0.98). */
  targetRecall?: number;
  /** Users whose latest plays and counts are kept in memory between requests (default 100,000). */
  cachedUsers?: number;
  /**
   * Users whose latest plays warm() reads ahead of requests, the most recently
   * active first (default 10,000, at most cachedUsers; 0: none). Each costs a
   * read of that user's plays, so this bounds what start-up reads whatever
   * the number of users and plays.
   */
  prefillUsers?: number;
}

export const DEFAULT_PREFILL_USERS = 10_000;

export interface Latent {
  mu: number[];
  sigma: number[] | null;
}

export interface UserEmbeddingView {
  userId: string;
  runId: string;
  modelName: string;
  asOf: Date;
  /** Plays at or before asOf. */
  plays: number;
  mu: number[];
  sigma: number[] | null;
  /** q(z_s | x_s): the fast part, from the last window of plays. */
  fast: Latent | null;
  /** q(z_n | x_n): the slow part, from the aggregates over the whole history. */
  slow: Latent | null;
  /** The decoder's output at z = mu: the predicted next track's embedding (what similarTracks by user searches from). */
  nextTrack: number[];
}

export interface Neighbour {
  trackId: string;
  distance: number;
}

export interface SimilarTracksView {
  /** The run whose model decoded the user's state; null for neighbours of a track. */
  runId: string | null;
  metric: Metric;
  neighbours: Neighbour[];
}

export interface SimilarTracksInput {
  trackId?: string | null;
  userId?: string | null;
  k?: number | null;
  runId?: string | null;
  excludeRecent?: boolean | null;
  metric?: Metric | null;
}

export const MAX_K = 1000;
/** Users one userEmbeddings call embeds at most. */
export const MAX_USERS = 1000;
const METRICS: readonly Metric[] = ["l2", "cosine"];

export class Serving {
  private readonly models: ModelCache;
  private readonly catalogues: CatalogueCache;
  private readonly embedder: Embedder;
  private readonly histories: HistoryCache;
  private readonly prefillUsers: number;
  private readonly exactSearchBelow: number | undefined;

  constructor(
    private readonly store: Store,
    options: ServingOptions = {},
  ) {
    this.exactSearchBelow = options.exactSearchBelow;
    this.prefillUsers = Math.min(options.prefillUsers ?? DEFAULT_PREFILL_USERS, options.cachedUsers ?? Infinity);
    this.models = new ModelCache(store, options.maxModels ?? 3);
    this.catalogues = new CatalogueCache(store, { exactBelow: options.exactSearchBelow, targetRecall: options.targetRecall });
    this.histories = new HistoryCache(store, options.cachedUsers);
    this.embedder = new Embedder(this.histories, this.models, this.catalogues, { onBatch: options.onBatch });
  }

  /** How similarTracks searches a catalogue of this many embedded tracks: in process, exhaustive or through the IVF index. */
  searchFor(tracksWithEmbedding: number): { engine: "in-process"; method: "exact" | "ivf"; exactBelow: number } {
    return { engine: "in-process", ...searchMethod(tracksWithEmbedding, this.exactSearchBelow) };
  }

  /** Embedding batches so far (how many, how many requests they carried, the largest) and the history cache's hits and misses. */
  get stats(): { batches: number; requests: number; largestBatch: number; cache: { hits: number; misses: number; clears: number } } {
    return { ...this.embedder.stats, cache: { ...this.histories.stats } };
  }

  async userEmbedding(input: { userId: string; runId?: string | null; asOf?: Date | null }): Promise<UserEmbeddingView> {
    const userId = requiredId(input.userId, "userId");
    const asOf = optionalDate(input.asOf, "asOf");
    return embeddingView(await this.embed(userId, input.runId, asOf));
  }

  /**
   * Many users' embeddings under one run, in the order asked: the same
   * batches as concurrent userEmbedding requests (one read and one forward
   * pass per batch). The run is resolved once, and a bad runId or asOf, or
   * more than MAX_USERS ids, fails the call; a user who cannot be embedded
   * (unknown, no plays, an empty id) is an Error in its place.
   */
  async userEmbeddings(input: {
    userIds: readonly string[];
    runId?: string | null;
    asOf?: Date | null;
  }): Promise<(UserEmbeddingView | RubatoError)[]> {
    const { userIds } = input;
    if (userIds.length > MAX_USERS)
      throw new BadUserInput(
        `userIds: at most ${MAX_USERS.toLocaleString("en")} users in one call, got ${userIds.length.toLocaleString("en")}`,
        {
          field: "userIds",
          max: MAX_USERS,
          count: userIds.length,
        },
      );
    const asOf = optionalDate(input.asOf, "asOf");
    const served = await this.models.get(input.runId === undefined || input.runId === null ? null : requiredId(input.runId, "runId"));
    // A user asked for twice is embedded once.
    const byId = new Map<string, Promise<UserEmbeddingView | RubatoError>>();
    const one = (raw: string, i: number) => {
      let userId: string;
      try {
        userId = requiredId(raw, `userIds[${i}]`);
      } catch (err) {
        return Promise.resolve(err as RubatoError);
      }
      let found = byId.get(userId);
      if (!found) {
        found = this.embedder.embed({ served, userId, asOf }).then(embeddingView, (err: unknown) => {
          if (err instanceof RubatoError) return err;
          throw err;
        });
        byId.set(userId, found);
      }
      return found;
    };
    return Promise.all(userIds.map(one));
  }

  /**
   * With trackId: the k nearest catalogue tracks to it, itself excluded (no
   * model involved: runId is null). With userId: the k tracks nearest to the
   * decoded state of the user under the active or given run; excludeRecent
   * leaves out the tracks of the user's last window of plays.
   */
  async similarTracks(input: SimilarTracksInput): Promise<SimilarTracksView> {
    const k = input.k ?? 10;
    if (!Number.isInteger(k) || k < 1 || k > MAX_K)
      throw new BadUserInput(`k: expected an integer from 1 to ${MAX_K}, got ${k}`, { field: "k", min: 1, max: MAX_K });
    const metric = input.metric ?? "l2";
    if (!METRICS.includes(metric)) throw new BadUserInput(`metric: expected one of ${METRICS.join(", ")}, got ${JSON.stringify(metric)}`);
    const given = (v: string | null | undefined) => v !== undefined && v !== null;
    if (given(input.trackId) === given(input.userId)) {
      throw new BadUserInput("give exactly one of trackId (neighbours of a track) or userId (next-track neighbours of a user)", {
        fields: ["trackId", "userId"],
      });
    }
    if (given(input.trackId)) {
      if (input.excludeRecent)
        throw new BadUserInput("excludeRecent leaves out a user's recent plays: it needs userId, not trackId", { field: "excludeRecent" });
      return this.trackNeighbours(requiredId(input.trackId, "trackId"), k, metric);
    }
    const e = await this.embed(requiredId(input.userId, "userId"), input.runId, null);
    const index = await e.catalogue.index(metric);
    const exclude = input.excludeRecent ? new Set(e.recent) : undefined;
    const ids = e.catalogue.catalogue.externalIds;
    return {
      runId: e.served.runId,
      metric,
      neighbours: index.search(e.predicted, k, exclude).map((h) => ({ trackId: ids[h.row], distance: h.distance })),
    };
  }

  async recordPlays(plays: PlayInput[]): Promise<RecordPlaysResult> {
    const { recorded, duplicates, usersCreated, users, eventCount } = await recordPlays(this.store, plays);
    if (eventCount !== null) this.histories.wrote(users, recorded, eventCount);
    return { recorded, duplicates, usersCreated };
  }

  /** Tracks by external id, in the order asked (null where unknown), from the catalogue in memory. */
  async tracks(ids: readonly string[]): Promise<(TrackView | null)[]> {
    let state = await this.catalogues.current();
    if (ids.some((id) => state.rowOf(id) === undefined)) state = await this.catalogues.current(true);
    return state.tracks(this.store, ids);
  }

  /** The active run may have changed (a run succeeded or was activated): forget the cached choice. */
  invalidate(): void {
    this.models.invalidate();
  }

  /**
   * Builds what the first requests would otherwise wait for: the active model
   * (if any), the l2 search index, and the latest histories of the
   * `prefillUsers` most recently active users (in chunks that let requests
   * through). Returns how many users it read and how long it took.
   */
  async warm(): Promise<{ users: number; seconds: number }> {
    const started = performance.now();
    const served = await this.models.get().catch(() => null);
    const state = await this.catalogues.current();
    await state.index("l2");
    const users = served && this.prefillUsers > 0 ? await recentlyActiveUsers(this.store, this.prefillUsers) : [];
    if (served)
      await this.histories.prefill(users, Math.max(served.window, playsToRead(served.spec)), state.catalogue, {
        bag: (served.model.inputs.bagDim ?? 0) > 0,
      });
    return { users: users.length, seconds: (performance.now() - started) / 1000 };
  }

  /** Disposes the cached models' tensors. */
  /** Before the store closes. */
  async close(): Promise<void> {
    this.models.close();
    await this.histories.close();
  }

  private async embed(userId: string, runId: string | null | undefined, asOf: Date | null): Promise<Embedded> {
    const served = await this.models.get(runId === undefined || runId === null ? null : requiredId(runId, "runId"));
    return this.embedder.embed({ served, userId, asOf });
  }

  private async trackNeighbours(trackId: string, k: number, metric: Metric): Promise<SimilarTracksView> {
    let state = await this.catalogues.current();
    let row = state.rowOf(trackId);
    if (row === undefined) {
      state = await this.catalogues.current(true);
      row = state.rowOf(trackId);
    }
    if (row === undefined) throw new NotFound(`no track ${JSON.stringify(trackId)}`, { trackId });
    const { catalogue } = state;
    if (!catalogue.hasEmbedding[row])
      throw new BadUserInput(`track ${JSON.stringify(trackId)} has no embedding, so it has no neighbours`, { field: "trackId", trackId });
    const index = await state.index(metric);
    const query = catalogue.embeddings.subarray(row * catalogue.dim, (row + 1) * catalogue.dim);
    const hits = index.search(query, k, new Set([row]));
    return { runId: null, metric, neighbours: hits.map((h) => ({ trackId: catalogue.externalIds[h.row], distance: h.distance })) };
  }
}

function embeddingView(e: Embedded): UserEmbeddingView {
  const list = (a: Float32Array) => Array.from(a);
  const latent = (q: Embedded["fast"]) => q && { mu: list(q.mu), sigma: q.sigma ? list(q.sigma) : null };
  // The arrays are copied out of the batch's output only when read: a query asks for some of them.
  return {
    userId: e.userExternalId,
    runId: e.served.runId,
    modelName: e.served.modelName,
    asOf: e.asOf,
    plays: e.plays,
    get mu() {
      return list(e.joint.mu);
    },
    get sigma() {
      return e.joint.sigma ? list(e.joint.sigma) : null;
    },
    get fast() {
      return latent(e.fast);
    },
    get slow() {
      return latent(e.slow);
    },
    get nextTrack() {
      return list(e.predicted);
    },
  };
}

function requiredId(value: unknown, field: string): string {
  if (typeof value === "string" && value.trim() !== "") return value.trim();
  throw new BadUserInput(`${field}: expected a non-empty id`, { field });
}

function optionalDate(value: Date | null | undefined, field: string): Date | null {
  if (value === undefined || value === null) return null;
  if (!(value instanceof Date) || Number.isNaN(value.getTime()))
    throw new BadUserInput(`${field}: expected a time (ISO 8601, e.g. 2026-10-01T12:00:00Z)`, { field });
  return value;
}
