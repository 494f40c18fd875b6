import type { EventRow } from "../events";
import type { BadRow } from "../report";
import { readRecords, type SourceProgress, type SourceRecord, type UnreadableRecord } from "../source";
import { parseBoolean, parseId, parseText, show, ValueError, withName } from "../values";
import { orBadRow, play } from "./play";

/**
 * The Spotify Music Streaming Sessions Dataset log (Brost et al., WWW 2019), log_*.csv with a
 * header row. Sessions carry no user id, so each session_id is a user. skip_2 is "skipped";
 * hist_user_behavior_reason_start = backbtn is a restart; context_type is the context.
 *
 * The log has only the date (dd-mm-yy) and hour_of_day of a play. Its time is taken as
 * date + hour_of_day + session_position seconds (UTC): distinct for the plays of a session,
 * in session_position order (also when a session crosses into the next hour or day), and
 * the same on every import, so re-importing adds nothing.
 */
const REQUIRED = ["session_id", "session_position", "track_id_clean", "skip_2", "hist_user_behavior_reason_start", "hour_of_day", "date"];

export async function* mssdRows(file: string, onProgress?: (p: SourceProgress) => void): AsyncGenerator<(EventRow | BadRow)[]> {
  for await (const chunk of readRecords(file, "csv", onProgress)) yield chunk.map(mssdRow);
}

function mssdRow(record: SourceRecord | UnreadableRecord): EventRow | BadRow {
  if ("message" in record) return record;
  const { line } = record;
  return orBadRow(line, () => {
    const get = (column: string): string => {
      const raw = record.get(column);
      if (raw === undefined) throw new ValueError(`missing column "${column}"; expected the MSSD log columns ${REQUIRED.join(", ")}`);
      return String(raw).trim();
    };
    const position = withName("session_position", () => integerIn(get("session_position"), 1, 3599));
    const hour = withName("hour_of_day", () => integerIn(get("hour_of_day"), 0, 23));
    const day = withName("date", () => mssdDate(get("date")));
    return play({
      line,
      user: parseId(get("session_id"), "session"),
      track: parseId(get("track_id_clean"), "track"),
      playedAt: new Date(day + hour * 3_600_000 + position * 1000),
      skipped: withName("skip_2", () => parseBoolean(get("skip_2"))),
      restarted: get("hist_user_behavior_reason_start") === "backbtn",
      context: parseText(String(record.get("context_type") ?? "").trim(), "context_type"),
    });
  });
}

function integerIn(text: string, min: number, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw new ValueError(`expected an integer from ${min} to ${max}, got ${show(text)}`);
  return n;
}

/** dd-mm-yy (years 2000-2099) as Unix milliseconds at midnight UTC. */
function mssdDate(text: string): number {
  const m = /^(\d{2})-(\d{2})-(\d{2})$/.exec(text);
  if (m) {
    const [day, month, year] = [Number(m[1]), Number(m[2]), 2000 + Number(m[3])];
    const ms = Date.UTC(year, month - 1, day);
    const d = new Date(ms);
    if (d.getUTCDate() === day && d.getUTCMonth() === month - 1) return ms;
  }
  throw new ValueError(`unparsable date ${show(text)}; expected dd-mm-yy as in the MSSD log (15-07-18)`);
}
