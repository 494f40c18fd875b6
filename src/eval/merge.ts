/**
 * One evaluation from several parts (`rubato eval --merge a.json b.json`):
 * the paper's tables take hours, so their models can be evaluated in parts,
 * in one store over several sittings or on several machines loaded with the
 * same data, each part saved with `rubato eval --out`, and the tables built
 * from the parts (pure: parsed JSON in, the evaluation's results out).
 *
 * The parts must share the data cut-off and the seeds, so every run saw the
 * same plays and the same split. A model may be in more than one part only
 * with the same runs (a run reused from one store); trained twice, it would
 * have two answers and the merge refuses rather than pick one.
 */
import { z } from "zod";
import { BadUserInput } from "../errors";
import { baselineWarnings, pairedComparison, type PairedComparison } from "./compare";
import type { EvaluationOutcome } from "./output";
import { testRowsWarning, usable, type BetaSelection, type ModelResults } from "./tables";

const num = z.number();
const metrics = z.object({
  l2: num,
  cosine: num,
  hr10: num,
  ndcg10: num,
  mrr: num,
  n: num,
  predictionNorm: num.optional(),
  targetNorm: num.optional(),
  from: num.optional(),
});
// A correlation over points that do not vary, or the mean of an empty bin, is NaN, which JSON writes as null.
const nanable = z
  .number()
  .nullable()
  .transform((v) => v ?? Number.NaN);
const bin = z.object({ rows: num, sigma: nanable, l2: nanable, history: nanable });
const uncertainty = z.object({
  rows: num,
  sigmaVsError: nanable,
  sigmaVsHistory: nanable,
  errorVsHistory: nanable,
  bySigma: z.array(bin).min(1),
  byHistory: z.array(bin.extend({ from: num, to: num.nullable() })),
});
const seedResult = z.object({
  seed: z.number().int(),
  runId: z.string(),
  status: z.string(),
  error: z.string().nullable(),
  reused: z.boolean(),
  test: metrics.nullable(),
  average: metrics.nullable(),
  recent: metrics.nullable(),
  popularity: metrics.nullable(),
  testRows: num.nullable(),
  uncertainty: uncertainty.nullable(),
  activeUnits: num.nullable(),
  latentUnits: num.nullable(),
  schedule: z.object({ beta: num, warmupSteps: num, freeBits: num }).nullable(),
  epochs: num.nullable(),
  seconds: num.nullable(),
  wallSeconds: num.nullable(),
});
const betaSelection = z.object({
  model: z.string(),
  betas: z.array(num),
  seeds: z.array(
    z.object({
      seed: z.number().int(),
      chosen: num.nullable(),
      candidates: z.array(z.object({ beta: num, runId: z.string(), status: z.string(), validationReconstruction: num.nullable() })),
    }),
  ),
});
/** What `rubato eval --out` writes, as far as the tables need it. */
const evaluationPart = z.looseObject({
  dataCutoff: z.iso.datetime(),
  seeds: z.array(z.number().int()).min(1),
  models: z
    .array(
      z.looseObject({ model: z.string().min(1), latent: z.enum(["probabilistic", "deterministic", "none"]), runs: z.array(seedResult) }),
    )
    .min(1),
  betaSelection: betaSelection.nullable().optional(),
  warnings: z.array(z.string()).optional(),
  seconds: num.optional(),
});

export interface EvaluationPart {
  /** Where the part came from (a file name), for the errors. */
  source: string;
  json: unknown;
}

/** The parts as one evaluation: its seconds are the parts' added up, its warnings the parts' about the evaluation itself (those about models are worked out again over all the models). */
export interface MergedEvaluation extends EvaluationOutcome {
  /** Each part's source and the models taken from it. */
  parts: { source: string; models: string[] }[];
}

/** "models[2].runs[0].seed: Invalid input: expected number, received string" */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => {
      const at = i.path
        .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
        .join("")
        .replace(/^\./, "");
      return `${at || "(top level)"}: ${i.message}`;
    })
    .join("; ");
}

const runIds = (m: ModelResults) =>
  [...m.runs]
    .sort((a, b) => a.seed - b.seed)
    .map((r) => r.runId)
    .join(",");

/** The parts as one evaluation, in the order their models first appear; `compare` as `rubato eval --compare`. */
export function mergeEvaluations(parts: readonly EvaluationPart[], options: { compare?: string } = {}): MergedEvaluation {
  if (parts.length < 2) throw new BadUserInput(`--merge expects at least two files written by rubato eval --out, got ${parts.length}`);
  const parsed = parts.map(({ source, json }) => {
    const result = evaluationPart.safeParse(json);
    if (!result.success)
      throw new BadUserInput(`${source} is not the JSON of rubato eval --out: ${describeIssues(result.error)}`, { source });
    return { source, part: result.data };
  });
  const [first] = parsed;
  const seedList = (s: number[]) => [...s].sort((a, b) => a - b).join(", ");
  for (const { source, part } of parsed.slice(1)) {
    if (part.dataCutoff !== first.part.dataCutoff)
      throw new BadUserInput(
        `${source} has data up to ${part.dataCutoff} and ${first.source} up to ${first.part.dataCutoff}: ` +
          "the parts of one evaluation must share the data cut-off (the same plays in the store)",
      );
    if (seedList(part.seeds) !== seedList(first.part.seeds))
      throw new BadUserInput(
        `${source} has seeds ${seedList(part.seeds)} and ${first.source} has ${seedList(first.part.seeds)}: the parts must share their seeds`,
      );
  }

  const models: ModelResults[] = [];
  const from = new Map<string, string>();
  const partModels = parsed.map(() => [] as string[]);
  parsed.forEach(({ source, part }, i) => {
    for (const m of part.models) {
      const model: ModelResults = { model: m.model, latent: m.latent, runs: m.runs };
      const seen = models.find((x) => x.model === m.model);
      if (!seen) {
        models.push(model);
        from.set(m.model, source);
        partModels[i].push(m.model);
      } else if (runIds(seen) !== runIds(model))
        throw new BadUserInput(
          `${m.model} is in ${from.get(m.model)} and in ${source} with different runs (${runIds(seen)} against ${runIds(model)}): ` +
            "a model trained twice has two answers; leave it out of one part (rubato eval --models)",
          { model: m.model },
        );
    }
  });

  const selections = new Map<string, BetaSelection>();
  for (const { part } of parsed) if (part.betaSelection) selections.set(part.betaSelection.model, part.betaSelection);
  if (selections.size > 1)
    throw new BadUserInput(
      `the parts chose beta for more than one model (${[...selections.keys()].join(", ")}); an evaluation has one beta grid`,
    );

  // The parts' own warnings, less those about models: those are recomputed over the merged models below.
  const warnings = [
    ...new Set(
      parsed.flatMap(({ part }) => {
        const aboutModels = new Set(baselineWarnings(part.models as ModelResults[]));
        return (part.warnings ?? []).filter((w) => !aboutModels.has(w));
      }),
    ),
  ];
  const rows = testRowsWarning(models);
  if (rows && !warnings.includes(rows)) warnings.push(rows);

  let comparison: PairedComparison[] | null = null;
  if (options.compare !== undefined) {
    const reference = models.find((m) => m.model === options.compare);
    if (!reference)
      throw new BadUserInput(
        `--compare names ${JSON.stringify(options.compare)}, which is in none of the parts; they hold ${models.map((m) => m.model).join(", ")}`,
      );
    comparison = pairedComparison(reference, models);
  }

  const runs = models.flatMap((m) => m.runs);
  return {
    dataCutoff: new Date(first.part.dataCutoff),
    seeds: first.part.seeds,
    models,
    failed: runs.filter((r) => !usable(r)).length,
    reused: runs.filter((r) => r.reused).length,
    seconds: parsed.reduce((s, { part }) => s + (part.seconds ?? 0), 0),
    warnings,
    modelWarnings: baselineWarnings(models),
    comparison,
    betaSelection: [...selections.values()][0] ?? null,
    parts: parsed.map(({ source }, i) => ({ source, models: partModels[i] })),
  };
}
