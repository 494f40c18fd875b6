/**
 * User embeddings on demand, batched: every request waiting when a batch
 * starts goes into it, so concurrent requests become one SQL statement (their
 * last plays and slow counts, latestHistories) and one forward pass per
 * model. A batch starts at once when none is running; while one runs, the
 * next collects whatever arrives meanwhile (one batch in flight: the
 * embedded database and tfjs share this thread anyway).
 */
import DataLoader from "dataloader";
import { BadUserInput, Conflict, NotFound } from "../errors";
import { concatRows, featuresForServing, type ServingFeatures } from "../features/serving";
import { playsToRead } from "../features/features";
import type { ServingHistory } from "../features/history";
import type { CatalogueCache, CatalogueState } from "./catalogue";
import type { HistoryCache } from "./histories";
import { forwardBatch } from "./forward";
import type { ModelCache, ServedModel } from "./models";

export interface EmbedRequest {
  served: ServedModel;
  /** External id. */
  userId: string;
  asOf: Date | null;
}

export interface LatentArrays {
  mu: Float32Array;
  sigma: Float32Array | null;
}

export interface Embedded {
  served: ServedModel;
  userExternalId: string;
  /** The given asOf, or the time of the last play used. */
  asOf: Date;
  plays: number;
  joint: LatentArrays;
  fast: LatentArrays | null;
  slow: LatentArrays | null;
  /** The decoded next-track embedding at z = mu. */
  predicted: Float32Array;
  /** Catalogue rows of the user's last window of plays (the model's fast window), oldest first. */
  recent: Int32Array;
  catalogue: CatalogueState;
}

export interface BatchInfo {
  /** Requests in the batch. */
  size: number;
  /** Distinct models (one forward pass each). */
  models: number;
  ms: number;
}

export interface EmbedderOptions {
  /** At most this many requests in one batch (default 256). */
  maxBatchSize?: number;
  /** Called after every batch (tests, metrics). */
  onBatch?: (info: BatchInfo) => void;
}

/** Whether a served model reads x_b, the bag of plays (its history must then be read with it). */
const readsBag = (r: { served: ServedModel } | ServedModel): boolean => (("served" in r ? r.served : r).model.inputs.bagDim ?? 0) > 0;

export class Embedder {
  private readonly loader: DataLoader<EmbedRequest, Embedded>;
  private running = false;
  private readonly waiting: (() => void)[] = [];
  readonly stats = { batches: 0, requests: 0, largestBatch: 0 };

  constructor(
    private readonly histories: HistoryCache,
    private readonly models: ModelCache,
    private readonly catalogues: CatalogueCache,
    private readonly options: EmbedderOptions = {},
  ) {
    this.loader = new DataLoader((requests) => this.run(requests), {
      cache: false,
      maxBatchSize: options.maxBatchSize ?? 256,
      batchScheduleFn: (dispatch) => this.schedule(dispatch),
    });
  }

  embed(request: EmbedRequest): Promise<Embedded> {
    return this.loader.load(request);
  }

  /** After the current turn's I/O callbacks (so requests arriving together share a batch), and never two batches at once. */
  private schedule(dispatch: () => void): void {
    setImmediate(() => (this.running ? this.waiting.push(dispatch) : dispatch()));
  }

  private async run(requests: readonly EmbedRequest[]): Promise<(Embedded | Error)[]> {
    this.running = true;
    const started = performance.now();
    try {
      return await this.batch(requests);
    } finally {
      this.running = false;
      this.stats.batches++;
      this.stats.requests += requests.length;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, requests.length);
      const models = new Set(requests.map((r) => r.served.runId)).size;
      this.options.onBatch?.({ size: requests.length, models, ms: performance.now() - started });
      const next = this.waiting.shift();
      if (next) this.schedule(next);
    }
  }

  private async batch(requests: readonly EmbedRequest[]): Promise<(Embedded | Error)[]> {
    // The plays each model's features read (with time_since_last, one before the window).
    const window = Math.max(...requests.map((r) => Math.max(r.served.window, playsToRead(r.served.spec))));
    const { histories, catalogue } = await this.read(requests, window);
    const results: (Embedded | Error)[] = new Array(requests.length);
    const groups = new Map<string, { served: ServedModel; items: { i: number; history: ServingHistory; f: ServingFeatures }[] }>();
    requests.forEach((r, i) => {
      const history = histories[i];
      if (!history) return void (results[i] = new NotFound(`no user ${JSON.stringify(r.userId)}`, { userId: r.userId }));
      // asOf, when given, is also the prediction time (hours_since_last); the history was read as of it.
      const f = featuresForServing(history, catalogue.catalogue, r.served.spec, r.served.stats, r.asOf ?? undefined, {
        bag: readsBag(r.served),
      });
      if (!f) {
        const who = `user ${JSON.stringify(r.userId)}`;
        results[i] = r.asOf
          ? new BadUserInput(`${who} has no plays at or before ${r.asOf.toISOString()} (asOf is before their first play)`, {
              field: "asOf",
              userId: r.userId,
            })
          : new Conflict(`${who} has no plays yet: record some with recordPlays`, { userId: r.userId });
        return;
      }
      const group = groups.get(r.served.runId) ?? { served: r.served, items: [] };
      group.items.push({ i, history, f });
      groups.set(r.served.runId, group);
    });
    for (const group of groups.values()) {
      // A model evicted while its batch waited for the database: load it again.
      const served = group.served.disposed ? await this.models.get(group.served.runId) : group.served;
      const n = group.items.length;
      const out = forwardBatch(served.model, {
        n,
        fast: concatRows(group.items.map((x) => x.f.fast)),
        mask: concatRows(group.items.map((x) => x.f.mask)),
        slow: concatRows(group.items.map((x) => x.f.slow)),
        bag: concatRows(group.items.map((x) => x.f.bag)),
      });
      const row = (a: Float32Array | null, j: number) => (a ? a.subarray((j * a.length) / n, ((j + 1) * a.length) / n) : null);
      group.items.forEach(({ i, history, f }, j) => {
        const r = requests[i];
        const tracks = history.history.trackIndex;
        results[i] = {
          served,
          userExternalId: history.history.userExternalId,
          asOf: r.asOf ?? new Date(f.time),
          plays: f.plays,
          joint: { mu: row(out.mu, j)!, sigma: row(out.sigma, j) },
          fast: out.fastMu ? { mu: row(out.fastMu, j)!, sigma: row(out.fastSigma, j) } : null,
          slow: out.slowMu ? { mu: row(out.slowMu, j)!, sigma: row(out.slowSigma, j) } : null,
          predicted: row(out.predicted, j)!,
          recent: tracks.subarray(Math.max(0, tracks.length - served.window)),
          catalogue,
        };
      });
    }
    return results;
  }

  /** The batch's histories; a play of a track newer than the cached catalogue makes it look again. */
  private async read(requests: readonly EmbedRequest[], window: number) {
    const read = async (catalogue: CatalogueState) => ({
      histories: await this.histories.read(requests, window, catalogue.catalogue, { bag: requests.some(readsBag) }),
      catalogue,
    });
    try {
      return await read(await this.catalogues.current());
    } catch (err) {
      if (!/is not in the catalogue/.test((err as Error).message)) throw err;
      return read(await this.catalogues.current(true));
    }
  }
}
