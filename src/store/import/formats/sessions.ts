import type { EventRow } from "../events";
import type { BadRow } from "../report";
import { readLines, type SourceProgress, type TextLine } from "../source";
import { parseId, parseNumber, parseText, playTime, show, ValueError } from "../values";
import { orBadRow, play } from "./play";

/**
 * Session logs as the session-based recommendation benchmarks publish them:
 *   UserId SessionId ItemId Time ...
 * separated by whitespace, Time in Unix seconds, other columns ignored. A first line naming
 * columns is a header: columns are then found by name (UserId, SessionId, ItemId, Time and
 * the optional ArtistId; case and underscores aside), and a log without UserId takes each
 * session as a user. Without a header the first four columns are UserId SessionId ItemId Time.
 * A track created by the import takes its ArtistId (an id, the logs carry no names) as its artist.
 * The user is the listener (UserId), whose sessions together are the long history slow
 * features need; the session id is kept as the play's context.
 */
interface Columns {
  /** How many fields a row has at least: the header's, or the four of a log without one. */
  fields: number;
  user: number | null;
  session: number;
  item: number;
  time: number;
  artist: number | null;
}
const POSITIONAL: Columns = { fields: 4, user: 0, session: 1, item: 2, time: 3, artist: null };
const NAMES = {
  user: ["userid", "user"],
  session: ["sessionid", "session"],
  item: ["itemid", "item", "trackid", "track"],
  time: ["time", "timestamp"],
  artist: ["artistid", "artist"],
};

export async function* sessionRows(file: string, onProgress?: (p: SourceProgress) => void): AsyncGenerator<(EventRow | BadRow)[]> {
  let columns: Columns | null = null;
  for await (const lines of readLines(file, onProgress)) {
    const rows: (EventRow | BadRow)[] = [];
    for (const line of lines) {
      if ("message" in line) {
        rows.push(line);
        continue;
      }
      const fields = line.text.trim().split(/\s+/);
      if (!columns) {
        columns = headerColumns(file, line.line, fields);
        if (columns) continue;
        columns = POSITIONAL;
      }
      rows.push(sessionRow(line, fields, columns));
    }
    yield rows;
  }
}

/** The columns named by a header line, or null when the line is data. */
function headerColumns(file: string, line: number, fields: string[]): Columns | null {
  const names = fields.map((f) => f.toLowerCase().replace(/_/g, ""));
  const find = (key: keyof typeof NAMES) => {
    const i = names.findIndex((n) => NAMES[key].includes(n));
    return i < 0 ? null : i;
  };
  const found = { user: find("user"), session: find("session"), item: find("item"), time: find("time"), artist: find("artist") };
  if (Object.values(found).every((i) => i === null)) return null;
  if (found.session === null || found.item === null || found.time === null) {
    throw new Error(
      `${file}:${line}: the header ${show(fields.join(" "))} lacks SessionId, ItemId or Time; expected UserId SessionId ItemId Time`,
    );
  }
  return { fields: fields.length, user: found.user, session: found.session, item: found.item, time: found.time, artist: found.artist };
}

function sessionRow({ line, text }: TextLine, fields: string[], columns: Columns): EventRow | BadRow {
  return orBadRow(line, () => {
    // Fewer fields than the header names would shift the columns after the missing one.
    if (fields.length < columns.fields) {
      const expected = columns === POSITIONAL ? "UserId SessionId ItemId Time" : "as in the header";
      throw new ValueError(`has ${fields.length} fields; expected at least ${columns.fields} (${expected}), got ${show(text)}`);
    }
    const session = parseId(fields[columns.session], "session");
    const artist = columns.artist === null ? undefined : fields[columns.artist];
    return play({
      line,
      user: columns.user === null ? session : parseId(fields[columns.user], "user"),
      track: parseId(fields[columns.item], "item"),
      playedAt: unixSeconds(fields[columns.time]),
      context: session,
      trackArtist: parseText(artist, "ArtistId"),
    });
  });
}

function unixSeconds(text: string): Date {
  let seconds: number;
  try {
    seconds = parseNumber(text);
  } catch {
    throw new ValueError(`unparsable time ${show(text)}; expected Unix seconds (1396321232)`);
  }
  return playTime(Math.round(seconds * 1000), text);
}
