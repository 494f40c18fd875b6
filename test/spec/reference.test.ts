import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import { SpecSchema, specReference } from "../../src/spec";
import { defaultOf, descriptionOf, labelOf, shapeOf } from "../../src/spec/introspect";

const DOC = join(__dirname, "../../docs/spec.md");

function fields(shape: Record<string, z.ZodType>, prefix = ""): [string, z.ZodType][] {
  return Object.entries(shape).flatMap(([k, s]) => {
    const nested = shapeOf(s);
    return [[`${prefix}${k}`, s] as [string, z.ZodType], ...(nested ? fields(nested, `${prefix}${k}.`) : [])];
  });
}

describe("docs/spec.md", () => {
  it("is up to date with the schema (regenerate with UPDATE_SPEC_DOCS=1)", () => {
    const expected = specReference();
    if (process.env.UPDATE_SPEC_DOCS === "1") writeFileSync(DOC, expected);
    expect(readFileSync(DOC, "utf8")).toBe(expected);
  });

  it("documents every field with a label and a description; only name is required", () => {
    const all = fields(SpecSchema.shape as Record<string, z.ZodType>);
    expect(all.length).toBeGreaterThan(40);
    for (const [path, schema] of all) {
      expect({ path, label: labelOf(schema) === "a valid value" ? "" : "ok" }).toEqual({ path, label: "ok" });
      expect({ path, described: descriptionOf(schema).length > 0 }).toEqual({ path, described: true });
      expect({ path, row: specReference().includes(`| \`${path}\` |`) }).toEqual({ path, row: true });
    }
    expect(all.filter(([, s]) => !defaultOf(s)).map(([p]) => p)).toEqual(["name"]);
  });
});
