import { formatSpecError, mapResolver, parseSpec, type SpecResult, type SpecSource } from "../../src/spec";

/** Parses `specs[name]` as models/NAME.yaml, with the other entries as possible parents. */
export function parseNamed(name: string, specs: Record<string, string>): SpecResult {
  const sources: Record<string, SpecSource> = {};
  for (const [n, text] of Object.entries(specs)) sources[n] = { text, file: `models/${n}.yaml` };
  return parseSpec(specs[name], { file: `models/${name}.yaml`, ...mapResolver(sources) });
}

/** Parses one text as models/x.yaml with no parents available. */
export function parseX(text: string): SpecResult {
  return parseSpec(text, { file: "models/x.yaml" });
}

export function errorLines(result: SpecResult): string[] {
  if (result.ok) throw new Error(`expected errors, spec resolved (warnings: ${result.warnings.map(formatSpecError).join("; ")})`);
  return result.errors.map(formatSpecError);
}

export function warningLines(result: SpecResult): string[] {
  return result.warnings.map(formatSpecError);
}

export function okSpec(result: SpecResult) {
  if (!result.ok) throw new Error(`expected a spec, got:\n${result.errors.map(formatSpecError).join("\n")}`);
  return result;
}
