/**
 * The catalogue as serving sees it: the track matrix (features read it, the
 * neighbour search scans it), external id -> row, and one search index per
 * metric, built on first use. The catalogue version is checked at most once
 * a second; a lookup that misses checks again at once.
 */
import type { Catalogue } from "../features/history";
import { cachedCatalogue } from "../store/history";
import type { Store } from "../store/store";
import { servingBackend } from "./backend";
import { IvfIndex, type IvfOptions, type Metric } from "./ivf";

const CHECK_EVERY_MS = 1000;

export class CatalogueState {
  private rows: Map<string, number> | null = null;
  private readonly indexes = new Map<Metric, Promise<IvfIndex>>();

  constructor(
    readonly catalogue: Catalogue,
    private readonly indexOptions: IvfOptions,
  ) {}

  /** The catalogue row of a track (external id), if it is in this snapshot. */
  rowOf(externalId: string): number | undefined {
    this.rows ??= new Map(this.catalogue.externalIds.map((id, i) => [id, i]));
    return this.rows.get(externalId);
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
