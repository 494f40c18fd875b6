/**
 * Every error leaves with a stable `extensions.code`: the service layer's
 * codes (src/errors.ts), GraphQL's own (GRAPHQL_PARSE_FAILED,
 * GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT for bad variables), and
 * INTERNAL_SERVER_ERROR for anything unexpected, whose message is logged
 * here and not sent (no stack traces in responses).
 *
 * HTTP status, as Apollo Server does it: an error that stops the operation
 * before it runs (it does not parse or validate, its variables do not coerce,
 * an argument holds a NUL, it costs too much) is a request error, 400 with no
 * `data` (401 for UNAUTHENTICATED); an error met while resolving comes with
 * `data` (null where the field failed) and 200.
 */
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { unwrapResolverError } from "@apollo/server/errors";
import { RubatoError } from "../errors";
import { log } from "../log";

/**
 * Every code an answer may carry (docs/api.md, "Errors"); INTERNAL_SERVER_ERROR is
 * not one of them: it is a bug. The fuzzer, the fault tests and bench:soak check
 * answers against this list.
 */
export const DOCUMENTED_CODES: readonly string[] = [
  "BAD_USER_INPUT",
  "NOT_FOUND",
  "UNAUTHENTICATED",
  "SPEC_INVALID",
  "CONFLICT",
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_REQUEST",
  "PAYLOAD_TOO_LARGE",
  "OPERATION_RESOLUTION_FAILURE",
  "PERSISTED_QUERY_NOT_FOUND",
];

/** Statuses of request errors (see above); anything else refused before execution is a 400. */
const HTTP_STATUS: Record<string, number> = { UNAUTHENTICATED: 401 };

/** A service error that refuses the whole request as a GraphQLError (thrown before execution, by a plugin or on the WebSocket path). */
export function toGraphQLError(err: RubatoError): GraphQLError {
  return new GraphQLError(err.message, {
    originalError: err,
    extensions: { code: err.code, ...err.details, http: { status: HTTP_STATUS[err.code] ?? 400 } },
  });
}

export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof RubatoError) {
    return {
      message: original.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: original.code, ...original.details },
    };
  }
  const code = formatted.extensions?.code;
  if (typeof code === "string" && code !== "INTERNAL_SERVER_ERROR") {
    // `http` sets the status of an HTTP answer (Apollo takes it out there; the WebSocket path sends what is left).
    const { stacktrace: _, http: __, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  // Apollo refuses some malformed requests with a 4xx and no code (a persisted query's hash that does not match its query).
  const status = error instanceof GraphQLError ? (error.extensions?.http as { status?: number } | undefined)?.status : undefined;
  if (status !== undefined && status >= 400 && status < 500) return { message: formatted.message, extensions: { code: "BAD_REQUEST" } };
  log.error(
    { err: original instanceof Error ? { message: original.message, stack: original.stack } : String(original), path: formatted.path },
    "internal error in a GraphQL request",
  );
  return {
    message: "internal server error (details are in the server log)",
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: "INTERNAL_SERVER_ERROR" },
  };
}
