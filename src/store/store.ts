import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite/vector";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { byteaCodecs, withFastBytea } from "./bytea";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { PrismaClient } from "../generated/prisma/client";
import { storeConfigFromEnv, redactUrl, type StoreConfig } from "./config";
import { migrate } from "./migrate";
import { log } from "../log";
import { EVENTS_CHANNEL, type Backend, type SqlClient } from "./sql";

/** One open database: Prisma for typed access, raw SQL and COPY for bulk work. */
export interface Store {
  readonly backend: Backend;
  /** Where the data lives, safe to print (no password). */
  readonly location: string;
  readonly prisma: PrismaClient;
  /** Whether the pgvector extension is available (PGlite: yes; Debian's PostgreSQL: no). */
  readonly hasVector: boolean;
  readonly sql: SqlClient;
  /** The embedded database itself (PGlite backend only). */
  readonly pglite?: PGlite;
  /** Runs fn in one transaction: all of it commits, or none of it. */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  /**
   * Embedded store only (this process is its only writer): calls back when a
   * transaction that wrote plays commits (catalog.ts addEventStats notifies),
   * so caches need not ask the database whether anything changed. Returns the
   * unsubscribe function. Absent on a server, where other processes write too.
   */
  onEventsWritten?(callback: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  /** PGlite only: start from this data directory dump (tests clone a migrated template). */
  pgliteTemplate?: Blob;
}

export async function openStore(config: StoreConfig = storeConfigFromEnv(), options: OpenOptions = {}): Promise<Store> {
  const store =
    config.backend === "pglite" ? await openPglite(config.location, options.pgliteTemplate) : await openPostgres(config.location);
  try {
    if (options.migrate !== false) await migrate(store);
    // Prisma's client loads its query compiler (WebAssembly) on first use, blocking the event
    // loop for 0.1-0.2 s (more on a loaded machine): here, before any request or heartbeat timer
    // runs, rather than in the middle of one. (Each query shape then compiles once, on first use.)
    await store.prisma.$connect();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

async function openPglite(dataDir: string, template?: Blob): Promise<Store> {
  const inMemory = dataDir.startsWith("memory://");
  if (!inMemory) fs.mkdirSync(dataDir, { recursive: true });
  const unlock = inMemory ? () => undefined : lockDataDir(dataDir);
  // Durability (docs/architecture.md, "Crashes"): PGlite runs PostgreSQL with fsync off and
  // writes straight through to the directory (Node's file system; relaxedDurability changes
  // nothing there: it only defers browser-storage syncs). A commit has reached the operating
  // system when it returns, so it survives the process being killed (crash recovery replays
  // the WAL at the next open), not a power cut or an operating-system crash.
  let db: PGlite;
  try {
    db = await PGlite.create({
      dataDir: inMemory ? undefined : dataDir,
      extensions: { vector },
      relaxedDurability: true,
      loadDataDir: template,
      ...byteaCodecs,
    });
    await db.exec("CREATE EXTENSION IF NOT EXISTS vector");
  } catch (err) {
    unlock();
    throw err;
  }
  const client = (q: PGlite | Transaction): SqlClient => ({
    async query<T>(sql: string, params?: unknown[]) {
      return (await q.query<T>(sql, params)).rows;
    },
    async execute(sql: string, params?: unknown[]) {
      return (await q.query(sql, params)).affectedRows ?? 0;
    },
    async copyCsv(table: string, columns: readonly string[], csv: string) {
      await q.query(`COPY ${table} (${columns.join(", ")}) FROM '/dev/blob' WITH (FORMAT csv)`, [], {
        blob: new Blob([csv]),
      });
    },
  });
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(withFastBytea(db)) });
  return {
    backend: "pglite",
    location: dataDir,
    pglite: db,
    prisma,
    hasVector: true,
    sql: client(db),
    transaction: (fn) => db.transaction((tx) => fn(client(tx))),
    onEventsWritten: (callback) => db.listen(EVENTS_CHANNEL, () => callback()),
    async close() {
      await prisma.$disconnect();
      if (!db.closed) await db.close();
      unlock();
    },
  };
}

/** Lock files this process holds (a second open in the same process is refused too). */
const heldLocks = new Set<string>();

/**
 * PGlite has no lock of its own: two processes (or two opens in one) on one data directory
 * would both write it and corrupt it. So the directory gets a lock file beside it
 * (`<dir>.lock`: pid and host) for as long as the store is open. One left by a process that
 * died without closing (kill -9, a crash) names a process that no longer runs, and is taken
 * over. Returns the release function.
 */
export function lockDataDir(dataDir: string): () => void {
  const file = `${path.resolve(dataDir)}.lock`;
  if (heldLocks.has(file)) throw new Error(`the embedded store ${dataDir} is already open in this process`);
  const mine = JSON.stringify({ pid: process.pid, host: os.hostname() });
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(file, mine, { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw err;
    }
    let holder: { pid?: number; host?: string } = {};
    try {
      holder = JSON.parse(fs.readFileSync(file, "utf8")) as typeof holder;
    } catch {
      // unreadable or half written: treated as stale below
    }
    if (holder.pid && holderRuns(holder.pid, holder.host)) {
      throw new Error(
        `the embedded store ${dataDir} is open in process ${holder.pid}${holder.host && holder.host !== os.hostname() ? ` on ${holder.host}` : ""}: ` +
          `PGlite serves one process at a time. Stop that process first, or use a PostgreSQL server (DATABASE_URL) ` +
          `to run more than one. If no such process runs, delete ${file}`,
      );
    }
    log.warn({ file, holder }, "taking over the embedded store's lock left by a process that is gone");
    fs.rmSync(file, { force: true });
  }
  heldLocks.add(file);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    heldLocks.delete(file);
    try {
      if (fs.readFileSync(file, "utf8") === mine) fs.rmSync(file, { force: true });
    } catch {
      // already gone
    }
  };
}

/** Whether the lock's holder still runs (another host's process cannot be checked: assumed to). */
function holderRuns(pid: number, host: string | undefined): boolean {
  if (host && host !== os.hostname()) return true;
  if (pid === process.pid) return false; // not in heldLocks: an earlier process that had this pid (a restarted container)
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function openPostgres(url: string): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  // An idle connection the server closed (restart, admin action) must not crash the process;
  // the pool replaces it on the next query.
  pool.on("error", (err) => log.warn({ err: err.message }, "database connection lost; it will be replaced"));
  const client = (q: pg.Pool | pg.PoolClient): SqlClient => ({
    async query<T>(sql: string, params?: unknown[]) {
      return (await q.query(sql, params)).rows as T[];
    },
    async execute(sql: string, params?: unknown[]) {
      return (await q.query(sql, params)).rowCount ?? 0;
    },
    async copyCsv(table: string, columns: readonly string[], csv: string) {
      const conn = "release" in q ? q : await q.connect();
      try {
        await new Promise<void>((resolve, reject) => {
          const stream = conn.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN WITH (FORMAT csv)`));
          stream.on("finish", resolve);
          stream.on("error", reject);
          stream.end(csv);
        });
      } finally {
        if (conn !== q) (conn as pg.PoolClient).release();
      }
    },
  });
  try {
    await pool.query("SELECT 1");
  } catch (err) {
    await pool.end();
    throw new Error(`cannot connect to ${redactUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
  const hasVector = await tryEnableVector(pool);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    backend: "postgres",
    location: redactUrl(url),
    prisma,
    hasVector,
    sql: client(pool),
    async transaction(fn) {
      const conn = await pool.connect();
      try {
        await conn.query("BEGIN");
        const result = await fn(client(conn));
        await conn.query("COMMIT");
        return result;
      } catch (err) {
        await conn.query("ROLLBACK").catch(() => undefined);
        throw err;
      } finally {
        conn.release();
      }
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

/** pgvector is used where the server has it installed; otherwise search runs in-process. */
async function tryEnableVector(pool: pg.Pool): Promise<boolean> {
  const available = await pool.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'");
  if (available.rowCount === 0) return false;
  try {
    await pool.query("CREATE EXTENSION IF NOT EXISTS vector");
    return true;
  } catch {
    return false;
  }
}
