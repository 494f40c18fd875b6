import { generateWorld, type WorldOptions } from "../demo/world";
import type { Store } from "./store";
import { loadTracks, type TrackRow } from "./import/tracks";
import { loadEvents, type EventRow } from "./import/events";
import type { ImportProgress, ImportReport } from "./import/report";
import { ensureVectorIndex } from "./nearest";

export interface DemoDataReport {
  tracks: ImportReport;
  events: ImportReport;
}

/** Generates the synthetic music world and loads it through the same path as a file import. */
export async function loadDemoWorld(
  store: Store,
  options: WorldOptions,
  onProgress?: (phase: "tracks" | "events", p: ImportProgress & { total: number }) => void,
): Promise<DemoDataReport> {
  const world = generateWorld(options);
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
    yield chunk;
  }
  const expectedPlays = world.users.reduce((sum, u) => sum + u.playsPerDay * world.options.days, 0);
  const tracks = await loadTracks(store, trackRows(), {
    file: "demo-world/tracks",
    onProgress: (p) => onProgress?.("tracks", { ...p, total: world.tracks.length }),
  });
  const events = await loadEvents(store, eventRows(), {
    file: "demo-world/events",
    onProgress: (p) => onProgress?.("events", { ...p, total: Math.round(expectedPlays) }),
  });
  await ensureVectorIndex(store);
  return { tracks, events };
}
