/**
 * The GraphQL API: one schema (type-graphql), served by Apollo Server over
 * HTTP and by graphql-ws over WebSocket on the same path, with the same
 * access policy, limits (tokens, depth, aliases, cost) and error codes on both.
 */
import "reflect-metadata";
import type http from "node:http";
import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import {
  GraphQLError,
  OperationTypeNode,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from "graphql";
import { buildSchemaSync } from "type-graphql";
import { WebSocketServer } from "ws";
import { useServer } from "graphql-ws/use/ws";
import { RubatoError } from "../errors";
import { authorize, hasKey, type OperationKind } from "./auth";
import { requestContext, type ApiContext, type ApiServices } from "./context";
import { formatError, toGraphQLError } from "./errors";
import { checkInputs } from "./inputs";
import { MAX_TOKENS, checkCost, documentRules, fragmentLimitError, type Limits } from "./limits";
import { CatalogResolver, PlayResolver, UserResolver } from "./schema/catalog";
import { RunResolver } from "./schema/runs";
import { ServingResolver, TrackNeighbourResolver } from "./schema/serving";

let schema: GraphQLSchema | null = null;

export function apiSchema(): GraphQLSchema {
  schema ??= buildSchemaSync({
    resolvers: [RunResolver, ServingResolver, TrackNeighbourResolver, CatalogResolver, UserResolver, PlayResolver],
    validate: false,
    // Subscriptions bring their own source (`subscribe`); type-graphql still asks for a PubSub, which nothing uses.
    pubSub: {
      publish: () => undefined,
      subscribe: () => {
        throw new Error("topic subscriptions are not used");
      },
    },
  });
  return schema;
}

function operationKind(op: OperationDefinitionNode): OperationKind {
  return op.operation === OperationTypeNode.MUTATION
    ? "mutation"
    : op.operation === OperationTypeNode.SUBSCRIPTION
      ? "subscription"
      : "query";
}

/**
 * Access, inputs (variables that coerce, no NUL in any argument) and cost,
 * checked once the operation is known and before any resolver runs; the same
 * on HTTP and WebSocket. Throws a RubatoError.
 */
function guard(
  schema: GraphQLSchema,
  document: DocumentNode,
  op: OperationDefinitionNode,
  variables: Record<string, unknown> | null | undefined,
  authenticated: boolean,
  policy: ApiServices["policy"],
  limits: Limits,
): void {
  authorize(operationKind(op), authenticated, policy);
  checkInputs(schema, document, op, variables);
  checkCost(schema, document, variables ?? undefined, op.name?.value, limits);
}

/** The guard on Apollo's pipeline (HTTP). */
function guardPlugin(limits: Limits): ApolloServerPlugin<ApiContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request, operation, contextValue, schema }) {
          // Without one (an unknown operationName), execution answers OPERATION_RESOLUTION_FAILURE.
          if (!operation) return;
          if (operation.operation === OperationTypeNode.SUBSCRIPTION)
            throw new GraphQLError("subscriptions are served over WebSocket (graphql-ws) on this path, not over HTTP", {
              extensions: { code: "BAD_REQUEST", http: { status: 400 } },
            });
          try {
            guard(schema, document, operation, request.variables, contextValue.authenticated, contextValue.policy, limits);
          } catch (err) {
            throw err instanceof RubatoError ? toGraphQLError(err) : err;
          }
        },
      };
    },
  };
}

export function createApollo(limits: Limits): ApolloServer<ApiContext> {
  return new ApolloServer<ApiContext>({
    schema: apiSchema(),
    validationRules: documentRules(limits),
    parseOptions: { maxTokens: MAX_TOKENS },
    formatError,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    // Apollo pretty-prints by default: every float of mu and sigma on its own line, twice the bytes.
    stringifyResult: (result) => JSON.stringify(result),
    // Apollo's own landing pages load from a CDN; a browser gets the offline GraphiQL instead (graphiql.ts).
    plugins: [guardPlugin(limits), ApolloServerPluginLandingPageDisabled()],
    // The process handles SIGINT/SIGTERM itself (src/cli/signals.ts). Apollo's own handlers
    // (installed unless NODE_ENV is "test") stop Apollo and send the signal again, which
    // the process took for a second one: it exited 1 before closing the worker and the store.
    stopOnTerminationSignals: false,
  });
}

/** graphql-ws on the HTTP server's `path`: the same schema, policy and limits as HTTP. */
export function attachWebSocket(server: http.Server, path: string, services: ApiServices, limits: Limits): { close(): Promise<void> } {
  const wss = new WebSocketServer({ server, path, maxPayload: limits.maxRequestBytes });
  const schema = apiSchema();
  const disposable = useServer<Record<string, unknown>>(
    {
      schema,
      onSubscribe(ctx, _id, payload) {
        let document: DocumentNode;
        try {
          document = parse(payload.query, { maxTokens: MAX_TOKENS });
        } catch (err) {
          return [new GraphQLError((err as Error).message, { extensions: { code: "GRAPHQL_PARSE_FAILED" } })];
        }
        const tooManyFragments = fragmentLimitError(document);
        if (tooManyFragments) return [tooManyFragments];
        const invalid = validate(schema, document, [...specifiedRules, ...documentRules(limits)]);
        if (invalid.length)
          return invalid.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }));
        const authorization =
          (ctx.connectionParams?.authorization as string | undefined) ??
          (ctx.connectionParams?.Authorization as string | undefined) ??
          ctx.extra.request.headers.authorization;
        const authenticated = hasKey(authorization, services.policy.apiKey);
        const op = getOperationAST(document, payload.operationName);
        if (!op) {
          const message = payload.operationName
            ? `Unknown operation named "${payload.operationName}".`
            : "Must provide operation name if query contains multiple operations.";
          return [new GraphQLError(message, { extensions: { code: "OPERATION_RESOLUTION_FAILURE" } })];
        }
        try {
          guard(schema, document, op, payload.variables, authenticated, services.policy, limits);
        } catch (err) {
          if (err instanceof RubatoError) return [toGraphQLError(err)];
          throw err;
        }
        return {
          schema,
          document,
          variableValues: payload.variables,
          operationName: payload.operationName,
          contextValue: requestContext(services, authenticated),
        };
      },
      onError(_ctx, _id, _payload, errors) {
        return errors.map((e) => formatError(e.toJSON(), e));
      },
      onNext(_ctx, _id, _payload, _args, result) {
        if (!result.errors?.length) return;
        return { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e)) };
      },
    },
    wss,
  );
  return {
    async close() {
      for (const client of wss.clients) client.terminate();
      await disposable.dispose();
    },
  };
}
