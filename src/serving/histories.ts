/**
 * Users' serving inputs (last plays + slow counts, latestHistories) kept in
 * memory between requests, so a user asked for again costs no query.
 *
 * Correctness rests on the event counter every write path bumps in the
 * transaction that writes the plays (store/catalog.ts addEventStats). Each
 * batch reads it first (on the embedded store, only after a commit that
 * wrote plays: this process is its only writer, and the store tells it;
 * the query costs about a millisecond on the server's thread, as much as
 * a batch's forward pass): if it moved by anything but this process's own
 * recordPlays, some other writer (an import, another server) added plays and
 * everything cached is dropped. Our own writes drop only the users they
 * touched. An entry read while a write to its user was in flight is never
 * trusted: entries carry the sequence number current when their read began.
 */
import type { Catalogue, ServingHistory } from "../features/history";
import { getEventStats } from "../store/catalog";
import { latestHistories, type HistoryRequest } from "../store/history";
import type { Store } from "../store/store";

interface Entry {
  history: ServingHistory | null;
  /** Plays read (the window asked for). */
  window: number;
  /** Whether the bag of plays (x_b) was read too. */
  bag: boolean;
  catalogue: Catalogue;
  /** The cache's epoch and sequence number when the read began. */
  epoch: number;
  seq: number;
}

export class HistoryCache {
  private readonly entries = new Map<string, Entry>();
  /** Sequence number after which each user's cached reads are valid (set by our own writes). */
  private readonly writtenAt = new Map<string, number>();
  private seq = 0;
  private epoch = 0;
  /** The event counter as last seen. */
  private count: number | null = null;
  /** Embedded store: listening for commits that wrote plays, and whether one came since the counter was read. */
  private listening: Promise<void> | null = null;
  private stopListening: (() => Promise<void>) | null = null;
  private written = true;
  readonly stats = { hits: 0, misses: 0, clears: 0 };

  constructor(
    private readonly store: Store,
    private readonly maxEntries = 100_000,
  ) {}

  /** Histories in request order (null: no such user), the cached ones without a query. */
  async read(
    requests: readonly { userId: string; asOf: Date | null }[],
    window: number,
    catalogue: Catalogue,
    options: { bag?: boolean } = {},
  ): Promise<(ServingHistory | null)[]> {
    const bag = options.bag ?? false;
    await this.sync();
    const epoch = this.epoch;
    const seq = this.seq;
    const out: (ServingHistory | null)[] = new Array(requests.length);
    const missing: { i: number; key: string; request: HistoryRequest }[] = [];
    requests.forEach((r, i) => {
      const key = keyOf(r.userId, r.asOf);
      const hit = this.entries.get(key);
      if (
        hit &&
        hit.epoch === epoch &&
        hit.seq >= (this.writtenAt.get(r.userId) ?? -1) &&
        hit.window >= window &&
        (hit.bag || !bag) &&
        hit.catalogue === catalogue
      ) {
        this.entries.delete(key); // most recently used last
        this.entries.set(key, hit);
        out[i] = hit.history;
        this.stats.hits++;
      } else missing.push({ i, key, request: { user: r.userId, asOf: r.asOf } });
    });
    if (missing.length) {
      this.stats.misses += missing.length;
      const read = await latestHistories(
        this.store,
        missing.map((m) => m.request),
        window,
        catalogue,
        { bag },
      );
      missing.forEach((m, j) => {
        out[m.i] = read[j];
        this.entries.set(m.key, { history: read[j], window, bag, catalogue, epoch, seq });
      });
      for (const key of this.entries.keys()) {
        if (this.entries.size <= this.maxEntries) break;
        this.entries.delete(key);
      }
    }
    return out;
  }

  /**
   * Reads every user's latest history ahead of requests (up to the cache's
   * size), in chunks that let the event loop turn between them: what the
   * server does at start-up so that first requests cost no query.
   */
  async prefill(users: readonly string[], window: number, catalogue: Catalogue, options: { bag?: boolean; chunk?: number } = {}): Promise<void> {
    const chunk = options.chunk ?? 200;
    for (let start = 0; start < Math.min(users.length, this.maxEntries); start += chunk) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const todo = users.slice(start, start + chunk).filter((u) => !this.entries.has(u));
      if (todo.length)
        await this.read(
          todo.map((userId) => ({ userId, asOf: null })),
          window,
          catalogue,
          { bag: options.bag },
        );
    }
  }

  /**
   * After this process wrote plays: `users` changed, and the counter went
   * from what we last saw to `count` (read in the writing transaction). Any
   * other difference means another writer too.
   */
  wrote(users: Iterable<string>, inserted: number, count: number): void {
    const seq = ++this.seq;
    for (const u of users) this.writtenAt.set(u, seq);
    // Another writer in between, or too many marks to keep: start afresh.
    if (this.count === null || count !== this.count + inserted || this.writtenAt.size > this.maxEntries) this.clear();
    this.count = count;
  }

  private async sync(): Promise<void> {
    if (this.store.onEventsWritten) {
      this.listening ??= this.store
        .onEventsWritten(() => {
          this.written = true;
        })
        .then((stop) => {
          this.stopListening = stop;
        });
      await this.listening;
      if (!this.written && this.count !== null) return;
      this.written = false;
    }
    const { count } = await getEventStats(this.store.sql);
    if (count !== this.count) {
      if (this.count !== null) this.clear();
      this.count = count;
    }
  }

  async close(): Promise<void> {
    await this.listening;
    const stop = this.stopListening;
    this.stopListening = null;
    await stop?.();
  }

  private clear(): void {
    this.epoch++;
    this.entries.clear();
    this.writtenAt.clear();
    this.stats.clears++;
  }
}

const keyOf = (userId: string, asOf: Date | null) => (asOf ? `${userId}\u0000${asOf.getTime()}` : userId);
