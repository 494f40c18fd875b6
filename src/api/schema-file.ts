/**
 * schema.graphql at the repository root: the API's schema as SDL, printed
 * from the type-graphql classes (types sorted by name, so a change shows as a
 * small diff). Clients generate types from it; `npm run schema` rewrites it,
 * and test/api/schema-file.test.ts fails when it is stale.
 */
import "reflect-metadata";
import fs from "node:fs";
import path from "node:path";
import { lexicographicSortSchema, printSchema } from "graphql";
import { apiSchema } from "./graphql";

export const SCHEMA_FILE = path.join(__dirname, "..", "..", "schema.graphql");

const HEADER = `# The Rubato GraphQL API, generated from src/api/schema/ by \`npm run schema\`: do not edit.\n\n`;

export function schemaText(): string {
  return `${HEADER}${printSchema(lexicographicSortSchema(apiSchema()))}\n`;
}

if (require.main === module) {
  fs.writeFileSync(SCHEMA_FILE, schemaText());
  console.log(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}`);
}
