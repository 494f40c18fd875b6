/**
 * The catalogue as serving sees it: the track matrix (features read it, the
 * neighbour search scans it), external id -> row, and one search index per
 * metric, built on first use. The catalogue version is checked at most once
 * a second; a lookup that misses checks again at once.
 */
import type { Catalogue } from "../features/history";
import type { TrackView } from "../store/browse";
import { cachedCatalogue } from "../store/history";
import { allTrackMetadata } from "../store/tracks";
import type { Store } from "../store/store";
import { servingBackend } from "./backend";
import { IvfIndex, type IvfOptions, type Metric } from "./ivf";

const CHECK_EVERY_MS = 1000;

export class CatalogueState {
  private rows: Map<string, number> | null = null;
  private readonly indexes = new Map<Metric, Promise<IvfIndex>>();
  private metadata: Promise<Map<string, Omit<TrackView, "embedding">>> | null = null;

  constructor(
    readonly catalogue: Catalogue,
    private readonly indexOptions: IvfOptions,
  ) {}

  /** The catalogue row of a track (external id), if it is in this snapshot. */
  rowOf(externalId: string): number | undefined {
    this.rows ??= new Map(this.catalogue.externalIds.map((id, i) => [id, i]));
    return this.rows.get(externalId);
  }

  /** Tracks by external id (null where unknown), from memory: neighbours resolve their tracks without a query each. */
  async tracks(store: Store, ids: readonly string[]): Promise<(TrackView | null)[]> {
    this.metadata ??= allTrackMetadata(store).then(
      (rows) => new Map(rows.map((r) => [r.externalId, { id: r.externalId, title: r.title, artist: r.artist, genre: r.genre }])),
    );
    const metadata = await this.metadata;
    return ids.map((id) => {
      const row = this.rowOf(id);
      const meta = metadata.get(id);
      return row === undefined || !meta ? null : new CatalogueTrack(meta, this.catalogue, row);
    });
  }

  /** The search index over the tracks that have an embedding. */
  index(metric: Metric): Promise<IvfIndex> {
    let index = this.indexes.get(metric);
    if (!index) {
      const { embeddings, dim, hasEmbedding } = this.catalogue;
      const rows: number[] = [];
      hasEmbedding.forEach((has, i) => has && rows.push(i));
      // k-means runs in tfjs
      index = servingBackend().then(() => IvfIndex.build(embeddings, dim, Int32Array.from(rows), metric, this.indexOptions));
      index.catch(() => this.indexes.get(metric) === index && this.indexes.delete(metric));
      this.indexes.set(metric, index);
    }
    return index;
  }
}

/** A track of the catalogue in memory; its embedding is copied out only when asked for (most queries ask for ids). */
class CatalogueTrack implements TrackView {
  readonly id: string;
  readonly title: string | null;
  readonly artist: string | null;
  readonly genre: string | null;

  constructor(
    meta: Omit<TrackView, "embedding">,
    private readonly catalogue: Catalogue,
    private readonly row: number,
  ) {
    ({ id: this.id, title: this.title, artist: this.artist, genre: this.genre } = meta);
  }

  get embedding(): number[] | null {
    const { embeddings, dim, hasEmbedding } = this.catalogue;
    return hasEmbedding[this.row] ? Array.from(embeddings.subarray(this.row * dim, (this.row + 1) * dim)) : null;
  }
}

export class CatalogueCache {
  private state: CatalogueState | null = null;
  private checkedAt = 0;
  private pending: Promise<CatalogueState> | null = null;

  constructor(
    private readonly store: Store,
    private readonly indexOptions: IvfOptions = {},
  ) {}

  /** The current catalogue; `fresh` checks the store's catalogue version now rather than within a second. */
  async current(fresh = false): Promise<CatalogueState> {
    if (!fresh && this.state && Date.now() - this.checkedAt < CHECK_EVERY_MS) return this.state;
    this.pending ??= this.check().finally(() => (this.pending = null));
    return this.pending;
  }

  private async check(): Promise<CatalogueState> {
    const catalogue = await cachedCatalogue(this.store);
    if (this.state?.catalogue !== catalogue) this.state = new CatalogueState(catalogue, this.indexOptions);
    this.checkedAt = Date.now();
    return this.state;
  }
}
