import path from "node:path";
import type { Backend } from "./sql";

export interface StoreConfig {
  backend: Backend;
  /** PGlite data directory (embedded) or the connection string (server). */
  location: string;
}

/** DATABASE_URL selects a PostgreSQL server; otherwise PGlite in RUBATO_DATA_DIR (default ./.rubato). */
export function storeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): StoreConfig {
  const url = env.DATABASE_URL?.trim();
  if (url) {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new Error(`DATABASE_URL must start with postgres:// or postgresql://, got "${redactUrl(url)}"`);
    }
    return { backend: "postgres", location: url };
  }
  return { backend: "pglite", location: path.resolve(dataDir(env), "pgdata") };
}

export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.RUBATO_DATA_DIR?.trim() || ".rubato");
}

/** The URL without its password, for logs and /health. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+):[^@]*@/, "$1:***@");
}
