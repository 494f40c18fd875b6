/**
 * Prisma's DMMF (its parsed schema: models, fields with their types, nullability,
 * native types and defaults, primary keys, unique constraints and indexes) for
 * prisma/schema.prisma. @prisma/internals (which exports getDMMF) is not
 * installed; the Prisma CLI ships the same parser as WebAssembly
 * (prisma/build/prisma_schema_build_bg.wasm, the prisma-schema-wasm crate), which
 * this calls directly with the few bindings wasm-bindgen expects.
 */
import fs from "node:fs";
import path from "node:path";

export interface DmmfField {
  name: string;
  dbName: string | null;
  kind: "scalar" | "object" | "enum" | "unsupported";
  isList: boolean;
  isRequired: boolean;
  isId: boolean;
  isUnique: boolean;
  type: string;
  nativeType: [string, string[]] | null;
  hasDefaultValue: boolean;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationName?: string;
  relationOnDelete?: string;
}

export interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
  primaryKey: { name: string | null; fields: string[] } | null;
  uniqueIndexes: { name: string | null; fields: string[] }[];
}

export interface DmmfIndex {
  model: string;
  type: "id" | "normal" | "unique" | "fulltext";
  isDefinedOnField: boolean;
  name?: string;
  dbName?: string;
  fields: { name: string }[];
}

export interface Dmmf {
  datamodel: {
    models: DmmfModel[];
    enums: { name: string; dbName: string | null; values: { name: string; dbName: string | null }[] }[];
    indexes: DmmfIndex[];
  };
}

// WebAssembly's types live in TypeScript's DOM library, which this Node project does not load.
interface WasmTable {
  grow(n: number): number;
  set(i: number, v: unknown): void;
  get(i: number): unknown;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
};

const WASM = path.join(path.dirname(require.resolve("prisma/package.json")), "build/prisma_schema_build_bg.wasm");

/** The DMMF of a schema file; `text` replaces its contents (a test's altered copy). */
export function getDmmf(schemaFile: string, schema = fs.readFileSync(schemaFile, "utf8")): Dmmf {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let exports: Record<string, any> = {}; // eslint-disable-line @typescript-eslint/no-explicit-any
  const text = (ptr: number, len: number) => decoder.decode(new Uint8Array(exports.memory.buffer, ptr, len));
  const imports = {
    __wbindgen_placeholder__: {
      __wbg_set_message_f22ac4a6869ee695: () => undefined,
      __wbg_Error_e83987f665cf5504: (ptr: number, len: number) => new Error(text(ptr, len)),
      __wbg___wbindgen_throw_b855445ff6a94295: (ptr: number, len: number) => {
        throw new Error(text(ptr, len));
      },
      __wbindgen_init_externref_table: () => {
        const table = exports.__wbindgen_externrefs as WasmTable;
        const at = table.grow(4);
        table.set(0, undefined);
        table.set(at + 0, undefined);
        table.set(at + 1, null);
        table.set(at + 2, true);
        table.set(at + 3, false);
      },
    },
  };
  const instance = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(WASM)), imports);
  exports = instance.exports as typeof exports;
  exports.__wbindgen_start();
  const input = encoder.encode(JSON.stringify({ prismaSchema: schema }));
  const ptr = exports.__wbindgen_malloc(input.length, 1) as number;
  new Uint8Array(exports.memory.buffer, ptr, input.length).set(input);
  const [outPtr, outLen, errRef, failed] = exports.get_dmmf(ptr, input.length) as [number, number, number, number];
  if (failed) {
    const err = (exports.__wbindgen_externrefs as WasmTable).get(errRef) as Error;
    throw new Error(`prisma schema ${schemaFile}: ${err.message}`);
  }
  try {
    return JSON.parse(text(outPtr, outLen)) as Dmmf;
  } finally {
    exports.__wbindgen_free(outPtr, outLen, 1);
  }
}
