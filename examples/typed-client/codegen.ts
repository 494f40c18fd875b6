/**
 * GraphQL Code Generator's configuration for the typed client: types for the
 * schema and for operations.graphql, and a TypedDocumentNode per operation.
 * Run from the repository root: `npm run codegen`.
 */
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "schema.graphql",
  // Plugins are loaded from where this file is, like its own import above (codegen's default looks from the working directory).
  pluginLoader: (name: string) => import(name),
  documents: "examples/typed-client/operations.graphql",
  generates: {
    "examples/typed-client/generated/graphql.ts": {
      plugins: ["typescript-operations", "typed-document-node"],
      config: {
        // What the scalars are in JSON.
        scalars: { DateTime: "string", JSON: "unknown" },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
