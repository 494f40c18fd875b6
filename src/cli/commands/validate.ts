import type { Command } from "commander";
import { checkMemory, formatSpecError, loadSpec, memoryBudget } from "../../spec";
import { formatSummary } from "../../model/summary";
import { modelFor } from "../../model/registry";

const int = (flag: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${flag} expects an integer of at least ${min}, got "${v}"`);
  return n;
};

export function registerValidate(program: Command): void {
  program
    .command("validate <spec...>")
    .description("check model specs (names or YAML files): errors with file:line:col, or a summary of the compiled graph")
    .option("--embedding-dim <n>", "catalogue embedding dimension the graph is sized for", int("--embedding-dim", 1), 80)
    .option(
      "--events <n>",
      "plays the run would train on, for the memory estimate (default: the dataset is not counted)",
      int("--events", 0),
    )
    .option(
      "--models-dir <dir>",
      "where spec names and parents are looked up (default: the shipped models/; for a file, its directory first)",
    )
    .action((specs: string[], flags: { embeddingDim: number; events?: number; modelsDir?: string }) => {
      let failed = false;
      const budget = memoryBudget();
      for (const [i, spec] of specs.entries()) {
        if (i > 0) console.log("");
        const result = loadSpec(spec, { modelsDir: flags.modelsDir });
        for (const w of result.warnings) console.error(`warning: ${formatSpecError(w)}`);
        if (!result.ok) {
          failed = true;
          for (const e of result.errors) console.error(formatSpecError(e));
          continue;
        }
        const s = result.spec;
        // Sizes within the schema's bounds may still add up to more than the machine can give one run.
        const tooBig = checkMemory(s, { embeddingDim: flags.embeddingDim, events: flags.events ?? null }, budget, spec);
        if (tooBig) {
          failed = true;
          console.error(formatSpecError(tooBig));
          continue;
        }
        console.log(
          `${spec}: ok (${s.name}${result.parents.length ? `, extends ${result.parents.join(" < ")}` : ""}; hash ${result.hash.slice(0, 12)})`,
        );
        const summary = modelFor(s.type).summary(s, flags.embeddingDim);
        console.log(summary ? formatSummary(summary) : `non-learned baseline (type ${s.type}): no graph`);
      }
      if (failed) process.exitCode = 1;
    });
}
