/** Service views to API objects. */
import type { RunView } from "../../jobs/runs";
import type { SpecValidation as SpecValidationView } from "../../jobs/models";
import type { Page } from "../../store/page";
import type { Run, SpecValidation } from "./types";

export function toRun(r: RunView): Run {
  return {
    id: r.id,
    model: r.modelName,
    status: r.status,
    seed: r.seed,
    specHash: r.specHash,
    spec: r.specYaml,
    dataCutoff: r.dataCutoff,
    progress: r.progress,
    metrics: r.metrics,
    error: r.error,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    heartbeatAt: r.heartbeatAt,
    attempts: r.attempts,
    active: r.active,
    queuePosition: r.queuePosition,
    hasModel: r.hasArtifact,
  };
}

export function toConnection<T, N>(page: Page<T>, map: (node: T) => N) {
  return {
    edges: page.items.map(({ node, cursor }) => ({ node: map(node), cursor })),
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: false,
      startCursor: page.items[0]?.cursor ?? null,
      endCursor: page.items.at(-1)?.cursor ?? null,
    },
  };
}

export function toSpecValidation(v: SpecValidationView): SpecValidation {
  return {
    valid: v.valid,
    errors: v.errors,
    warnings: v.warnings,
    name: v.name,
    hash: v.hash,
    resolved: v.resolved,
    layers:
      v.summary?.layers.map((l) => ({ name: l.name, kind: l.kind, shape: `[${l.output.join(", ")}]`, params: l.params, note: l.note })) ??
      null,
    parameterCount: v.summary?.params ?? null,
  };
}
