/**
 * Limits on an operation, the same over HTTP and WebSocket: its tokens (when
 * parsed), its depth and aliases (graphql-armor's rules, in validation), and its
 * cost (checked before any resolver runs). Cost is estimated from the fields'
 * `complexity` (lists multiply their children by `first`, `k` or the ids
 * asked for) and 1 for any other field.
 */
import {
  GraphQLError,
  Kind,
  parse,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from "graphql";
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from "graphql-query-complexity";
import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { BadUserInput } from "../errors";

export interface Limits {
  /** Field levels, leaves included: `{ run { id } }` has depth 2. */
  maxDepth: number;
  /** Aliased fields in an operation, its fragments included. */
  maxAliases: number;
  maxCost: number;
  /** Bytes of an HTTP body or a WebSocket message. */
  maxRequestBytes: number;
}

export const DEFAULT_LIMITS: Limits = { maxDepth: 8, maxAliases: 30, maxCost: 5000, maxRequestBytes: 1_000_000 };

/**
 * Tokens a document may have: parsing stops there, before validation, so a
 * megabyte of aliases is refused in milliseconds, not seconds. The largest
 * operations are a few hundred tokens; big recordPlays batches go in variables.
 *
 * This is graphql-js's own parse option (`maxTokens`), on both transports.
 * graphql-armor's max-tokens does the same count in a parser subclass that
 * Apollo Server 5 cannot be given: its Apollo plugin parses again in
 * `parsingDidStart`, where a thrown error is answered as a 500 internal error.
 */
export const MAX_TOKENS = 50_000;

/**
 * Fragment definitions a document may have. graphql-js's own NoFragmentCycles
 * rule, which Apollo runs beside ours, recurses once per link of a chain of
 * fragments each spreading the next: about 5,000 of them (well within the token
 * limit) overflow the stack inside Apollo's validation, which answers 500. So
 * the count is checked before a document reaches validation (fragmentLimitError).
 * Real operations define a handful.
 */
export const MAX_FRAGMENTS = 1_000;

/** A validation error when `document` defines more than MAX_FRAGMENTS fragments; null otherwise. */
export function fragmentLimitError(document: DocumentNode): GraphQLError | null {
  const n = document.definitions.reduce((count, d) => count + Number(d.kind === Kind.FRAGMENT_DEFINITION), 0);
  if (n <= MAX_FRAGMENTS) return null;
  return new GraphQLError(`the document defines ${n} fragments; at most ${MAX_FRAGMENTS}`, {
    extensions: { code: "GRAPHQL_VALIDATION_FAILED" },
  });
}

/**
 * fragmentLimitError for a query's text, before Apollo parses it: the text is
 * parsed only when it says `fragment` more than MAX_FRAGMENTS times, so an
 * ordinary request costs one scan. Null too when it does not parse (Apollo
 * answers that itself).
 */
export function fragmentLimitErrorOfText(query: string): GraphQLError | null {
  let mentions = 0;
  for (const _ of query.matchAll(/\bfragment\b/g)) if (++mentions > MAX_FRAGMENTS) break;
  if (mentions <= MAX_FRAGMENTS) return null;
  try {
    return fragmentLimitError(parse(query, { maxTokens: MAX_TOKENS }));
  } catch {
    return null;
  }
}

/** RUBATO_MAX_DEPTH, RUBATO_MAX_ALIASES, RUBATO_MAX_COST, RUBATO_MAX_REQUEST_BYTES override the defaults. */
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
    maxAliases: read("RUBATO_MAX_ALIASES", DEFAULT_LIMITS.maxAliases),
    maxCost: read("RUBATO_MAX_COST", DEFAULT_LIMITS.maxCost),
    maxRequestBytes: read("RUBATO_MAX_REQUEST_BYTES", DEFAULT_LIMITS.maxRequestBytes),
  };
}

/**
 * graphql-armor's max-depth and max-aliases as validation rules: an operation
 * over a limit is one validation error (GRAPHQL_VALIDATION_FAILED). Depth
 * counts fields where fragments are spread (a spread or inline fragment adds
 * no level); introspection's `__schema` is not counted. Both walk each
 * fragment once per document, so fragment cycles (which validation also
 * reports) and repeated spreads end. Beside them, nesting of every kind is
 * bounded at maxDepth + 32 (nestingRule).
 */
export function documentRules(limits: Limits): ValidationRule[] {
  // Armor throws out of validation by default; reported instead, the error joins the others, with the usual code.
  const reject = [
    (context: ValidationContext | null, error: GraphQLError) =>
      context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, ""))),
  ];
  return [
    maxDepthRule({ n: limits.maxDepth, flattenFragments: true, propagateOnRejection: false, onReject: reject }),
    // Every alias counts (armor's default lets `__typename` ones through).
    maxAliasesRule({ n: limits.maxAliases, allowList: [], propagateOnRejection: false, onReject: reject }),
  ]
    .map(bounded)
    .concat(nestingRule(limits.maxDepth + 32));
}

/**
 * Selection sets nest at most `max` deep counting every kind of level (a
 * field's, an inline fragment's, a spread's): armor's depth leaves fragments
 * out, and a chain of a thousand fragments, each spreading the next, would
 * pass it and then overflow the stack of the cost estimate or of execution.
 * Iterative, and each fragment is measured once (a cycle, which validation
 * reports, counts as nothing), so no document can make it recurse or blow up.
 */
function nestingRule(max: number): ValidationRule {
  return (context) => ({
    Document(document) {
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
      const measured = new Map<string, number>();
      /** The deepest level under `set` (at 1); a spread nests as deep as its fragment (measured already) would in its place. */
      const nestingOf = (set: SelectionSetNode): number => {
        let deepest = 0;
        const stack: [SelectionSetNode, number][] = [[set, 1]];
        while (stack.length) {
          const [current, level] = stack.pop()!;
          deepest = Math.max(deepest, level);
          for (const s of current.selections) {
            if (s.kind === Kind.FRAGMENT_SPREAD) deepest = Math.max(deepest, level + (measured.get(s.name.value) ?? 1));
            else if (s.selectionSet) stack.push([s.selectionSet, level + 1]);
          }
        }
        return deepest;
      };
      const spreadsIn = (set: SelectionSetNode): string[] => {
        const names: string[] = [];
        const stack = [set];
        while (stack.length)
          for (const s of stack.pop()!.selections) {
            if (s.kind === Kind.FRAGMENT_SPREAD) names.push(s.name.value);
            else if (s.selectionSet) stack.push(s.selectionSet);
          }
        return names;
      };
      // Fragments measured after those they spread (an iterative depth-first walk).
      for (const start of fragments.keys()) {
        if (measured.has(start)) continue;
        const walk = [{ name: start, spreads: spreadsIn(fragments.get(start)!.selectionSet), next: 0 }];
        const onPath = new Set([start]);
        while (walk.length) {
          const top = walk[walk.length - 1];
          if (top.next < top.spreads.length) {
            const name = top.spreads[top.next++];
            if (fragments.has(name) && !measured.has(name) && !onPath.has(name)) {
              onPath.add(name);
              walk.push({ name, spreads: spreadsIn(fragments.get(name)!.selectionSet), next: 0 });
            }
          } else {
            measured.set(top.name, nestingOf(fragments.get(top.name)!.selectionSet));
            onPath.delete(top.name);
            walk.pop();
          }
        }
      }
      for (const d of document.definitions) {
        if (d.kind !== Kind.OPERATION_DEFINITION) continue;
        const nesting = nestingOf(d.selectionSet);
        if (nesting > max)
          context.reportError(new GraphQLError(`the operation nests fields and fragments ${nesting} deep; at most ${max}`, { nodes: [d] }));
      }
    },
  });
}

/**
 * Armor's rules walk an operation and its fragments recursively when they
 * enter it: a chain of a few thousand fragments, each spreading the next (a
 * document well under the token limit), overflows the stack, which
 * validation would throw on as an internal error. Here it is a validation
 * error like the others.
 */
function bounded(rule: ValidationRule): ValidationRule {
  return (context) => {
    const visitor = rule(context) as { OperationDefinition: { enter: (node: OperationDefinitionNode) => void } };
    const enter = visitor.OperationDefinition.enter;
    return {
      OperationDefinition: {
        enter(node: OperationDefinitionNode) {
          try {
            enter.call(visitor, node);
          } catch (err) {
            if (!(err instanceof RangeError)) throw err;
            context.reportError(new GraphQLError("the operation nests fragments too deeply to be measured", { nodes: [node] }));
          }
        },
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
export const perPlays = ({ args, childComplexity }: { args: Record<string, unknown>; childComplexity: number }) => {
  const plays = (args.input as { plays?: unknown } | undefined)?.plays;
  return 1 + childComplexity + Math.ceil((Array.isArray(plays) ? plays.length : 1) / 10);
};

/** A list of one item per id asked for (userEmbeddings: userIds) costs what one item asks for, times the ids. */
export const perListed =
  (arg: string) =>
  ({ args, childComplexity }: { args: Record<string, unknown>; childComplexity: number }) =>
    1 + (Array.isArray(args[arg]) ? (args[arg] as unknown[]).length : 1) * Math.max(1, childComplexity);

/** Lists cost their page size times what each item asks for. */
export const perItem =
  (arg: string, fallback: number) =>
  ({ args, childComplexity }: { args: Record<string, unknown>; childComplexity: number }) =>
    1 + (typeof args[arg] === "number" ? (args[arg] as number) : fallback) * Math.max(1, childComplexity);
