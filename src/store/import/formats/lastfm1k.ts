import type { EventRow } from "../events";
import type { BadRow } from "../report";
import { readLines, type SourceProgress, type TextLine } from "../source";
import { parseId, parseText, parseTimestamp, playTime, ValueError } from "../values";
import { orBadRow, play } from "./play";

/**
 * Last.fm 1K (Celma, "Music Recommendation and Discovery", 2010), userid-timestamp-artid-artname-traid-traname.tsv:
 *   userid \t timestamp \t artid \t artname \t traid \t traname
 * no header, ISO 8601 times. A row without a track id (MusicBrainz) is keyed by artist and
 * name, `trackKey` below; the track is created with that title and artist.
 */
const COLUMNS = ["userid", "timestamp", "artid", "artname", "traid", "traname"];

/** The external id of a track with no MusicBrainz id: "artist — title". */
export const trackKey = (artist: string, title: string) => `${artist} — ${title}`;

export async function* lastfm1kRows(file: string, onProgress?: (p: SourceProgress) => void): AsyncGenerator<(EventRow | BadRow)[]> {
  for await (const lines of readLines(file, onProgress)) yield lines.map((l) => ("message" in l ? l : lastfm1kRow(l)));
}

function lastfm1kRow({ line, text }: TextLine): EventRow | BadRow {
  return orBadRow(line, () => {
    const fields = text.split("\t");
    if (fields.length !== COLUMNS.length) {
      throw new ValueError(`has ${fields.length} tab-separated fields; expected ${COLUMNS.length} (${COLUMNS.join(", ")})`);
    }
    const [user, time, , artistName, trackId, trackName] = fields.map((f) => f.trim());
    const artist = parseText(artistName, "artname");
    const title = parseText(trackName, "traname");
    if (!trackId && (!artist || !title)) {
      throw new ValueError("no track id and no artist and track name; expected traid (column 5), or artname and traname (columns 4 and 6)");
    }
    return play({
      line,
      user: parseId(user, "user"),
      track: parseId(trackId || trackKey(artist!, title!), "track"),
      playedAt: playTime(parseTimestamp(time).getTime(), time),
      trackTitle: title,
      trackArtist: artist,
    });
  });
}
