import { defineConfig } from "prisma/config";

// Only `prisma generate` is used from the CLI; migrations are applied by
// src/store/migrate.ts. The URL is needed by other CLI commands only.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost/rubato" },
});
