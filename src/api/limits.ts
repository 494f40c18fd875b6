/**
 * Depth and cost limits, the same over HTTP and WebSocket. Cost is estimated
 * from the fields' `complexity` (lists multiply their children by `first` or
 * `k`) and 1 for any other field.
 */
import {
  GraphQLError,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationRule,
} from "graphql";
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from "graphql-query-complexity";
import { BadUserInput } from "../errors";

export interface Limits {
  maxDepth: number;
  maxCost: number;
  /** Bytes of an HTTP body or a WebSocket message. */
  maxRequestBytes: number;
}

export const DEFAULT_LIMITS: Limits = { maxDepth: 8, maxCost: 5000, maxRequestBytes: 1_000_000 };

/**
 * Tokens a document may have: parsing stops there, before validation, so a
 * megabyte of aliases is refused in milliseconds, not seconds. The largest
 * operations are a few hundred tokens; big recordPlays batches go in variables.
 */
export const MAX_TOKENS = 50_000;

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

/**
 * Operations nest at most `maxDepth` fields (introspection fields, `__...`,
 * are not counted). Fragments count where they are
 * spread; a spread already on the path (a cycle, which validation reports) and
 * nesting of any kind (inline fragments included) well beyond the limit end
 * the walk, so no document can make it recurse without bound.
 */
export function depthRule(limits: Limits): ValidationRule {
  const maxNesting = limits.maxDepth + 32;
  return (context) => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of context.getDocument().definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    /** The deepest field depth under `set`, or Infinity once the walk has gone too deep. */
    const depthOf = (set: SelectionSetNode, depth: number, nesting: number, path: Set<string>): number => {
      if (depth > limits.maxDepth || nesting > maxNesting) return Infinity;
      let deepest = depth;
      for (const selection of set.selections) {
        let d = depth;
        if (selection.kind === Kind.FIELD) {
          if (selection.selectionSet && !selection.name.value.startsWith("__"))
            d = depthOf(selection.selectionSet, depth + 1, nesting + 1, path);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          d = depthOf(selection.selectionSet, depth, nesting + 1, path);
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (fragment && !path.has(name)) d = depthOf(fragment.selectionSet, depth, nesting + 1, new Set(path).add(name));
        }
        deepest = Math.max(deepest, d);
        if (deepest === Infinity) break;
      }
      return deepest;
    };
    return {
      OperationDefinition(node) {
        if (depthOf(node.selectionSet, 0, 0, new Set()) > limits.maxDepth) {
          const name = node.name?.value ?? "";
          context.reportError(new GraphQLError(`'${name}' exceeds maximum operation depth of ${limits.maxDepth}`, { nodes: [node] }));
        }
        return false;
      },
    };
  };
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
/** Selections (fields, fragments) the cost estimate walks at most; past them an operation is refused as too costly. */
const MAX_NODES = 10_000;

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
  const key = costKey(operationName, variables);
  let cost = key === null ? undefined : costs.get(key);
  if (cost === undefined) {
    try {
      cost = getComplexity({
        schema,
        query,
        variables: variables ?? {},
        operationName: operationName ?? undefined,
        estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })],
        maxQueryNodes: MAX_NODES,
      });
    } catch (err) {
      // The estimator stops counting at MAX_NODES selections (it says so with a GraphQLError without a code).
      if (!(err instanceof GraphQLError && /maximum allowed number of nodes/.test(err.message))) throw err;
      throw new BadUserInput(
        `the operation has more than ${MAX_NODES} fields and fragments; the limit on its cost is ${limits.maxCost}: ask for fewer fields`,
        { maxCost: limits.maxCost },
      );
    }
    if (costs.size >= COSTS_PER_DOCUMENT) costs.clear();
    if (key !== null) costs.set(key, cost);
  }
  if (cost > limits.maxCost) {
    throw new BadUserInput(`the operation costs ${cost}; the limit is ${limits.maxCost}: ask for fewer items (first, k) or fewer fields`, {
      cost,
      maxCost: limits.maxCost,
    });
  }
  return cost;
}

/** The cache key: the variables with their strings blanked; null (not cached) for JSON too deep to serialise. */
function costKey(operationName: string | undefined | null, variables: Record<string, unknown> | undefined): string | null {
  try {
    return `${operationName ?? ""} ${JSON.stringify(variables ?? {}, (_name, v: unknown) => (typeof v === "string" ? "" : v))}`;
  } catch {
    return null;
  }
}

/** Fields whose work does not show in their children (reading and parsing specs, queueing runs). */
export const COST = { models: 50, spec: 200 } as const;

/** recordPlays: a tenth of its plays (10,000 plays, the most a call takes, cost 1,001). */
export const perPlays = ({ args, childComplexity }: { args: Record<string, unknown>; childComplexity: number }) =>
  1 + childComplexity + Math.ceil((Array.isArray(args.plays) ? args.plays.length : 1) / 10);

/** Lists cost their page size times what each item asks for. */
export const perItem =
  (arg: string, fallback: number) =>
  ({ args, childComplexity }: { args: Record<string, unknown>; childComplexity: number }) =>
    1 + (typeof args[arg] === "number" ? (args[arg] as number) : fallback) * Math.max(1, childComplexity);
