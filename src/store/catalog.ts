import type { SqlClient } from "./sql";

/** The catalogue's embedding dimension, fixed by the first tracks imported with embeddings. */
export async function getEmbeddingDim(sql: SqlClient): Promise<number | null> {
  const rows = await sql.query<{ value: number }>(`SELECT value FROM setting WHERE key = 'embedding_dim'`);
  return rows.length ? Number(rows[0].value) : null;
}

export async function setEmbeddingDim(sql: SqlClient, dim: number): Promise<void> {
  await sql.query(
    `INSERT INTO setting (key, value) VALUES ('embedding_dim', to_jsonb($1::int))
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    [dim],
  );
}

/** A counter bumped whenever tracks change, so in-process indexes know to reload. */
export async function getCatalogVersion(sql: SqlClient): Promise<number> {
  const rows = await sql.query<{ value: number }>(`SELECT value FROM setting WHERE key = 'catalog_version'`);
  return rows.length ? Number(rows[0].value) : 0;
}

export async function bumpCatalogVersion(sql: SqlClient): Promise<void> {
  await sql.query(
    `INSERT INTO setting (key, value) VALUES ('catalog_version', '1'::jsonb)
     ON CONFLICT (key) DO UPDATE SET value = to_jsonb((setting.value #>> '{}')::bigint + 1)`,
  );
}
