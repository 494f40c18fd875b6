/**
 * A fingerprint of a whole demo world (catalogue and every play), to check
 * that a seed reproduces the same data.
 */
import { createHash } from "node:crypto";
import type { World } from "./world";

export function worldDigest(world: World): string {
  const h = createHash("sha256");
  for (const t of world.tracks) {
    h.update(`${t.externalId}\u0000${t.title}\u0000${t.artist}\u0000${t.genre}\u0000${t.popularity}\u0000${t.durationMs}\u0000`);
    h.update(new Uint8Array(t.embedding.buffer, t.embedding.byteOffset, t.embedding.byteLength));
  }
  for (const e of world.events()) {
    h.update(
      `${e.userExternalId}|${e.trackExternalId}|${e.playedAt.getTime()}|${+e.skipped}${+e.liked}${+e.addedToPlaylist}${+e.restarted}|${e.msPlayed}\n`,
    );
  }
  return h.digest("hex");
}
