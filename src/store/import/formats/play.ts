import type { EventRow } from "../events";
import type { BadRow } from "../report";
import { ValueError } from "../values";

type Required = Pick<EventRow, "line" | "user" | "track" | "playedAt">;

/** A play with the flags a format does not carry left false and the rest empty. */
export function play(values: Required & Partial<EventRow>): EventRow {
  return {
    skipped: false,
    liked: false,
    addedToPlaylist: false,
    restarted: false,
    msPlayed: null,
    context: null,
    ...values,
  };
}

/** Runs a row parser; a ValueError becomes the bad row for that line. */
export function orBadRow<T>(line: number, parse: () => T): T | BadRow {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    return { line, message: err.message };
  }
}
