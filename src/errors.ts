/**
 * Errors the services throw for the edges to map: each carries the stable
 * code the GraphQL API reports as `extensions.code` (docs/api.md, "Errors").
 */
export type ErrorCode = "BAD_USER_INPUT" | "NOT_FOUND" | "UNAUTHENTICATED" | "SPEC_INVALID" | "CONFLICT";

export class RubatoError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Structured detail for clients (e.g. the index of a bad play, the spec errors). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The input is wrong: what, where, and what was expected. */
export class BadUserInput extends RubatoError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("BAD_USER_INPUT", message, details);
  }
}

export class NotFound extends RubatoError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("NOT_FOUND", message, details);
  }
}

/** The request is valid but the state does not allow it (e.g. no trained model yet, a run already finished). */
export class Conflict extends RubatoError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("CONFLICT", message, details);
  }
}

export class Unauthenticated extends RubatoError {
  constructor(message: string) {
    super("UNAUTHENTICATED", message);
  }
}
