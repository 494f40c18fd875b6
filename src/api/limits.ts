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

/** Throws BAD_USER_INPUT (with the cost and the limit) when an operation costs too much. */
export function checkCost(
  schema: GraphQLSchema,
  query: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | undefined | null,
  limits: Limits,
): number {
  const cost = getComplexity({
    schema,
    query,
    variables: variables ?? {},
    operationName: operationName ?? undefined,
    estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })],
  });
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
