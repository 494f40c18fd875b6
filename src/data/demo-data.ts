/**
 * `rubato demo-data` and the demo world `rubato serve` loads into an empty
 * store: the synthetic world of src/demo, written through the store's import
 * path.
 */
import { generateWorld, type WorldOptions } from "../demo/world";
import { clearDemoWorldMark, demoWorldMark, markDemoWorld } from "../store/catalog";
import { loadEvents, type EventRow } from "../store/import/events";
import type { ImportProgress, ImportReport } from "../store/import/report";
import { loadTracks, type TrackRow } from "../store/import/tracks";
import type { Store } from "../store/store";
import { pauseBeforeCommit } from "../test-hooks";

export interface DemoDataReport {
  tracks: ImportReport;
  events: ImportReport;
}

/**
 * The demo world a load started and did not finish (its process was killed or
 * stopped between the tracks' commit and the plays'), or null. Loading the same
 * world again finishes it: the tracks are upserted and the plays already stored
 * are skipped, so the store ends as if the first load had finished.
 */
export async function unfinishedDemoWorld(store: Store): Promise<WorldOptions | null> {
  const mark = await demoWorldMark<WorldOptions & { start?: string }>(store);
  if (!mark) return null;
  const { start, ...rest } = mark;
  return start ? { ...rest, start: new Date(start) } : rest;
}

/**
 * Generates the synthetic music world and loads it through the same path as a
 * file import: the tracks in one transaction, then the plays in another. A load
 * that is interrupted (kill -9, or `signal`, which rolls back the plays'
 * transaction at its next chunk) leaves a mark that `unfinishedDemoWorld` reads.
 */
export async function loadDemoWorld(
  store: Store,
  options: WorldOptions,
  onProgress?: (phase: "tracks" | "events", p: ImportProgress & { total: number }) => void,
  signal?: AbortSignal,
): Promise<DemoDataReport> {
  signal?.throwIfAborted();
  const world = generateWorld(options);
  await markDemoWorld(store, world.options);
  async function* trackRows(): AsyncGenerator<TrackRow[]> {
    let line = 0;
    yield world.tracks.map((t) => ({
      line: ++line,
      externalId: t.externalId,
      title: t.title,
      artist: t.artist,
      genre: t.genre,
      embedding: t.embedding,
    }));
  }
  async function* eventRows(): AsyncGenerator<EventRow[]> {
    let line = 0;
    let chunk: EventRow[] = [];
    for (const e of world.events()) {
      if (chunk.length >= 5000) {
        signal?.throwIfAborted();
        yield chunk;
        chunk = [];
      }
      chunk.push({
        line: ++line,
        user: e.userExternalId,
        track: e.trackExternalId,
        playedAt: e.playedAt,
        skipped: e.skipped,
        liked: e.liked,
        addedToPlaylist: e.addedToPlaylist,
        restarted: e.restarted,
        msPlayed: e.msPlayed,
        context: null,
      });
    }
    signal?.throwIfAborted();
    yield chunk;
  }
  // Under the `import` test hook, each transaction is held open before its commit.
  const loading = pauseBeforeCommit(store, "import", signal);
  const expectedPlays = world.users.reduce((sum, u) => sum + u.playsPerDay * world.options.days, 0);
  const tracks = await loadTracks(loading, trackRows(), {
    file: "demo-world/tracks",
    onProgress: (p) => onProgress?.("tracks", { ...p, total: world.tracks.length }),
  });
  signal?.throwIfAborted();
  const events = await loadEvents(loading, eventRows(), {
    file: "demo-world/events",
    onProgress: (p) => onProgress?.("events", { ...p, total: Math.round(expectedPlays) }),
  });
  await clearDemoWorldMark(store);
  return { tracks, events };
}
