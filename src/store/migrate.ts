import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { SqlClient } from "./sql";

export const MIGRATIONS_DIR = path.resolve(__dirname, "../../prisma/migrations");

export interface Migration {
  name: string;
  sql: string;
  /** sha256 of the file, hex, as Prisma records it. */
  checksum: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, "migration.sql")))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = fs.readFileSync(path.join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: crypto.createHash("sha256").update(sql).digest("hex") };
    });
}

// The table as `prisma migrate deploy` creates it, so either tool accepts the other's history.
const CREATE_HISTORY = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

// Prisma's advisory lock key, so a concurrent `prisma migrate deploy` waits for us and vice versa.
const MIGRATION_LOCK = 72707369;

/** What migrate needs of a Store (store.ts, which calls migrate on open): one transaction. */
interface Transactional {
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
}

/** Applies pending migrations in order, all in one transaction; returns the names applied. */
export async function migrate(store: Transactional, migrations = readMigrations()): Promise<string[]> {
  return store.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await tx.query(CREATE_HISTORY);
    const rows = await tx.query<{ migration_name: string; checksum: string }>(
      `SELECT migration_name, checksum FROM "_prisma_migrations"
        WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
    const applied = new Map(rows.map((r) => [r.migration_name, r.checksum]));
    const done: string[] = [];
    for (const m of migrations) {
      const checksum = applied.get(m.name);
      if (checksum !== undefined) {
        if (checksum !== m.checksum) {
          throw new Error(`migration ${m.name} was changed after it was applied (checksum differs); add a new migration instead`);
        }
        continue;
      }
      await execScript(tx, m.sql);
      await tx.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count)
         VALUES ($1, $2, now(), $3, 1)`,
        [crypto.randomUUID(), m.checksum, m.name],
      );
      done.push(m.name);
    }
    return done;
  });
}

/** Runs a multi-statement script through the simple-query protocol, statement by statement. */
async function execScript(tx: { query(sql: string): Promise<unknown> }, script: string): Promise<void> {
  const statements = script
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, "").trim())
    .filter(Boolean);
  for (const statement of statements) await tx.query(statement);
}
