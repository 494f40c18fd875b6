/**
 * Clients that keep a `rubato serve` busy over real HTTP (userEmbedding,
 * similarTracks, recordPlays in turn) until told to stop, and sort every
 * answer: a documented answer, a wrong one (HTTP 5xx, INTERNAL_SERVER_ERROR,
 * a code docs/api.md does not list), or no answer at all (the connection
 * refused or cut: what a client of a server that is closing may get).
 */
import { DOCUMENTED_CODES } from "../../src/api/errors";

const DOCUMENTED = new Set(DOCUMENTED_CODES);

const EMBEDDING = `query($u: ID!) { userEmbedding(userId: $u) { runId plays mu } }`;
const SIMILAR = `query($u: ID!) { similarTracks(userId: $u, k: 5) { distance } }`;
const RECORD = `mutation($p: [PlayInput!]!) { recordPlays(input: { plays: $p }) { recorded duplicates } }`;

export interface Play {
  userId: string;
  trackId: string;
  playedAt: string;
}

export interface LoadReport {
  /** Answers with data and no error, by operation. */
  answered: Record<"userEmbedding" | "similarTracks" | "recordPlays", number>;
  /** Answers with a documented error code, by code. */
  documentedErrors: Record<string, number>;
  /** Requests that got no answer (connection refused, reset, a body cut short). */
  noAnswer: number;
  /** When each of those was sent (Date.now()). */
  noAnswerSentAt: number[];
  /** Answers that break the API's promises: 5xx, INTERNAL_SERVER_ERROR, an undocumented code, or no code. */
  wrong: string[];
  /** Plays whose recordPlays answered `recorded: 1`: the store must keep every one. */
  acknowledged: Play[];
}

export interface Load {
  /** Stops the clients once each has had `noAnswerToStop` requests in a row go unanswered (or at once with 0); resolves to the report. */
  stop(noAnswerToStop?: number): Promise<LoadReport>;
  report: LoadReport;
}

/**
 * `clients` loops, each sending userEmbedding, similarTracks and recordPlays (one new play
 * by the client's own user, so every acknowledged play is a row) in turn.
 */
export function startLoad(
  url: string,
  key: string,
  { clients, users, tracks, tag }: { clients: number; users: string[]; tracks: string[]; tag: string },
): Load {
  const report: LoadReport = {
    answered: { userEmbedding: 0, similarTracks: 0, recordPlays: 0 },
    documentedErrors: {},
    noAnswer: 0,
    noAnswerSentAt: [],
    wrong: [],
    acknowledged: [],
  };
  let stopAfter = Infinity;
  const base = Date.now() - 3_600_000;
  const client = async (c: number) => {
    let unanswered = 0;
    for (let i = 0; unanswered < stopAfter; i++) {
      const op = (["userEmbedding", "similarTracks", "recordPlays"] as const)[i % 3];
      const play: Play = {
        userId: `${tag}-${c}`,
        trackId: tracks[(c * 7 + i) % tracks.length],
        playedAt: new Date(base + c * 100_000 + i).toISOString(),
      };
      const [query, variables] =
        op === "recordPlays"
          ? [RECORD, { p: [play] }]
          : [op === "userEmbedding" ? EMBEDDING : SIMILAR, { u: users[(c + i) % users.length] }];
      let status: number;
      let text: string;
      const sentAt = Date.now();
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
          body: JSON.stringify({ query, variables }),
          signal: AbortSignal.timeout(15_000),
        });
        status = res.status;
        text = await res.text();
      } catch {
        report.noAnswer++;
        report.noAnswerSentAt.push(sentAt);
        unanswered++;
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      unanswered = 0;
      let body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] };
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        report.wrong.push(`${op}: HTTP ${status}, a body that is not JSON: ${text.slice(0, 200)}`);
        continue;
      }
      if (status >= 500) report.wrong.push(`${op}: HTTP ${status}: ${text.slice(0, 300)}`);
      if (body.errors?.length) {
        for (const e of body.errors) {
          const code = e.extensions?.code;
          if (code && DOCUMENTED.has(code)) report.documentedErrors[code] = (report.documentedErrors[code] ?? 0) + 1;
          else report.wrong.push(`${op}: ${code ?? "no code"}: ${e.message}`);
        }
      } else if (status < 500 && body.data?.[op]) {
        report.answered[op]++;
        if (op === "recordPlays" && (body.data.recordPlays as { recorded: number }).recorded === 1) report.acknowledged.push(play);
      } else if (status < 500) report.wrong.push(`${op}: HTTP ${status} without data or errors: ${text.slice(0, 200)}`);
    }
  };
  const running = Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  return {
    report,
    async stop(noAnswerToStop = 0) {
      stopAfter = noAnswerToStop;
      await running;
      return report;
    },
  };
}
