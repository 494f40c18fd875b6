import DataLoader from "dataloader";
import { listModels, type ModelInfo } from "../jobs/models";
import type { RunEvents } from "../jobs/events";
import type { Serving } from "../serving";
import type { TrackView } from "../store/browse";
import type { Store } from "../store/store";
import type { AccessPolicy } from "./auth";

/** What lives as long as the server: the store, the serving caches, the in-process worker. */
export interface ApiServices {
  store: Store;
  serving: Serving;
  /** The worker training in this process, if any: new runs wake it, its events feed subscriptions. */
  worker: { events: RunEvents; wake(): void } | null;
  policy: AccessPolicy;
}

/** Per request (or per WebSocket operation). */
export interface ApiContext extends ApiServices {
  authenticated: boolean;
  /** Tracks by external id, batched per request (neighbours and plays resolve their track with it). */
  tracks: DataLoader<string, TrackView | null>;
  /** The model catalogue (it reads and parses every shipped spec), read once per request however often it is asked for. */
  models(): Promise<ModelInfo[]>;
}

export function requestContext(services: ApiServices, authenticated: boolean): ApiContext {
  let models: Promise<ModelInfo[]> | undefined;
  return {
    ...services,
    authenticated,
    tracks: new DataLoader((ids: readonly string[]) => services.serving.tracks(ids)),
    models: () => (models ??= listModels(services.store)),
  };
}
