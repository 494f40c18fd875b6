/**
 * Depth and cost limits, the same over HTTP and WebSocket. Cost is estimated
 * from the fields' `complexity` (lists multiply their children by `first` or
 * `k`) and 1 for any other field.
 */
import { type DocumentNode, type GraphQLSchema, type ValidationRule } from "graphql";
import depthLimit from "graphql-depth-limit";
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from "graphql-query-complexity";
import { BadUserInput } from "../errors";

export interface Limits {
  maxDepth: number;
  maxCost: number;
  /** Bytes of an HTTP body or a WebSocket message. */
  maxRequestBytes: number;
}

export const DEFAULT_LIMITS: Limits = { maxDepth: 8, maxCost: 5000, maxRequestBytes: 1_000_000 };

/** RUBATO_MAX_DEPTH, RUBATO_MAX_COST, RUBATO_MAX_REQUEST_BYTES override the defaults. */
export function limitsFromEnv(env: NodeJS.ProcessEnv = process.env): Limits {
  const read = (name: string, fallback: number) => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
    return n;
  };
  return {
    maxDepth: read("RUBATO_MAX_DEPTH", DEFAULT_LIMITS.maxDepth),
    maxCost: read("RUBATO_MAX_COST", DEFAULT_LIMITS.maxCost),
    maxRequestBytes: read("RUBATO_MAX_REQUEST_BYTES", DEFAULT_LIMITS.maxRequestBytes),
  };
}

export function depthRule(limits: Limits): ValidationRule {
  return depthLimit(limits.maxDepth);
}

/**
 * Costs already estimated, by document (Apollo keeps one DocumentNode per
 * query text) and by the variables with their strings blanked: every field's
 * complexity is a constant or `perItem` of a number argument, so ids do not
 * change a cost, and the same query for another user is not estimated again
 * (that walk was ~4 % of a served request's CPU).
 */
const estimated = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<string, number>>>();
const COSTS_PER_DOCUMENT = 256;

/** Throws BAD_USER_INPUT (with the cost and the limit) when an operation costs too much. */
export function checkCost(
  schema: GraphQLSchema,
  query: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | undefined | null,
  limits: Limits,
): number {
  let byDocument = estimated.get(schema);
  if (!byDocument) estimated.set(schema, (byDocument = new WeakMap()));
  let costs = byDocument.get(query);
  if (!costs) byDocument.set(query, (costs = new Map()));
  const key = `${operationName ?? ""} ${JSON.stringify(variables ?? {}, (_name, v: unknown) => (typeof v === "string" ? "" : v))}`;
  let cost = costs.get(key);
  if (cost === undefined) {
    cost = getComplexity({
      schema,
      query,
      variables: variables ?? {},
      operationName: operationName ?? undefined,
      estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })],
    });
    if (costs.size >= COSTS_PER_DOCUMENT) costs.clear();
    costs.set(key, cost);
  }
  if (cost > limits.maxCost) {
    throw new BadUserInput(`the operation costs ${cost}; the limit is ${limits.maxCost}: ask for fewer items (first, k) or fewer fields`, {
      cost,
      maxCost: limits.maxCost,
    });
  }
  return cost;
}

/** Lists cost their page size times what each item asks for. */
export const perItem =
  (arg: string, fallback: number) =>
  ({ args, childComplexity }: { args: Record<string, unknown>; childComplexity: number }) =>
    1 + (typeof args[arg] === "number" ? (args[arg] as number) : fallback) * Math.max(1, childComplexity);
