/** Walking the spec schema: the field at a key path, its label, keys, default and doc. */
import { z } from "zod";
import { labels } from "./schema";
import type { KeyPath } from "./positions";

/** Peels default/prefault/nullable/optional wrappers, outermost first. */
export function layers(schema: z.ZodType): z.ZodType[] {
  const out: z.ZodType[] = [schema];
  for (;;) {
    const s = out[out.length - 1];
    if (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodNullable || s instanceof z.ZodOptional) {
      out.push(s.unwrap() as z.ZodType);
    } else {
      return out;
    }
  }
}

export function core(schema: z.ZodType): z.ZodType {
  const all = layers(schema);
  return all[all.length - 1];
}

export function labelOf(schema: z.ZodType): string {
  for (const s of layers(schema)) {
    const meta = labels.get(s);
    if (meta) return meta.label;
  }
  return "a valid value";
}

export function descriptionOf(schema: z.ZodType): string {
  return layers(schema).find((s) => s.description)?.description ?? "";
}

/** The declared default, or undefined when the field is required. Sections report {}. */
export function defaultOf(schema: z.ZodType): { value: unknown } | undefined {
  for (const s of layers(schema)) {
    if (s instanceof z.ZodDefault || s instanceof z.ZodPrefault) return { value: s.def.defaultValue };
  }
  return undefined;
}

export function shapeOf(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const c = core(schema);
  return c instanceof z.ZodObject ? (c.shape as Record<string, z.ZodType>) : undefined;
}

/** The schema of the value at `path` (list items included), if the path names one. */
export function schemaAt(root: z.ZodType, path: KeyPath): z.ZodType | undefined {
  let s: z.ZodType | undefined = root;
  for (const key of path) {
    if (!s) return undefined;
    const c = core(s);
    if (c instanceof z.ZodObject) s = (c.shape as Record<string, z.ZodType>)[String(key)];
    else if (c instanceof z.ZodArray && typeof key === "number") s = c.element as z.ZodType;
    else return undefined;
  }
  return s;
}
