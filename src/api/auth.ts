/**
 * Who may do what: mutations need the API key (`Authorization: Bearer KEY`);
 * queries and subscriptions are open when the server listens on loopback
 * only, unless configured otherwise.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Unauthenticated } from "../errors";

export interface AccessPolicy {
  apiKey: string;
  /** Queries and subscriptions without a key. */
  openQueries: boolean;
}

export type OperationKind = "query" | "mutation" | "subscription";

/**
 * The key from RUBATO_API_KEY, else the one stored in the data directory,
 * else a new one written there (mode 0600). `created` says whether to print it.
 */
export function loadApiKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): { key: string; file: string | null; created: boolean } {
  const fromEnv = env.RUBATO_API_KEY?.trim();
  if (fromEnv) return { key: fromEnv, file: null, created: false };
  const file = path.join(dataDir, "api-key");
  if (fs.existsSync(file)) return { key: fs.readFileSync(file, "utf8").trim(), file, created: false };
  const key = `rbt_${crypto.randomBytes(24).toString("base64url")}`;
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return { key, file, created: true };
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** RUBATO_OPEN_QUERIES=true|false; by default open exactly when bound to loopback. */
export function openQueriesFor(host: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const setting = env.RUBATO_OPEN_QUERIES?.trim().toLowerCase();
  if (setting === "true" || setting === "1") return true;
  if (setting === "false" || setting === "0") return false;
  if (setting) throw new Error(`RUBATO_OPEN_QUERIES must be true or false, got "${env.RUBATO_OPEN_QUERIES}"`);
  return LOOPBACK.has(host);
}

/** Whether an Authorization header value carries the key (compared in constant time). */
export function hasKey(authorization: string | undefined | null, apiKey: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? "");
  if (!match) return false;
  const given = crypto.createHash("sha256").update(match[1].trim()).digest();
  const expected = crypto.createHash("sha256").update(apiKey).digest();
  return crypto.timingSafeEqual(given, expected);
}

export function authorize(kind: OperationKind, authenticated: boolean, policy: AccessPolicy): void {
  if (authenticated) return;
  if (kind === "mutation") throw new Unauthenticated("mutations need the API key: send the header Authorization: Bearer KEY");
  if (!policy.openQueries)
    throw new Unauthenticated(
      `${kind === "query" ? "queries" : "subscriptions"} need the API key on this server: send Authorization: Bearer KEY`,
    );
}
