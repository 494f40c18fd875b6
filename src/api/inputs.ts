/**
 * An operation's inputs, checked once for every operation (HTTP and
 * WebSocket alike) after validation and before any resolver runs:
 *
 * - the variables are coerced to their declared types; GraphQL's own
 *   variable errors (a wrong type, an Int beyond 32 bits, a bad DateTime, a
 *   missing required variable) are BAD_USER_INPUT;
 * - no string anywhere in an argument, inline or from a variable, nested in an
 *   input object, a list or JSON (keys included), may hold a NUL character
 *   (U+0000), which PostgreSQL cannot store in text: BAD_USER_INPUT naming the
 *   argument and where inside it.
 *
 * Resolvers therefore never see either, and stay free of such checks.
 */
import {
  Kind,
  getVariableValues,
  visit,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValueNode,
} from "graphql";
import { BadUserInput } from "../errors";

const NUL = "\u0000";

/** Throws BadUserInput for a variable that does not coerce or a NUL character in any argument. */
export function checkInputs(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | null | undefined,
): void {
  const coerced = coerceVariables(schema, operation, variables);
  const nul = findNul(document, operation, coerced);
  if (nul) {
    throw new BadUserInput(`${nul.where}: strings may not contain the NUL character (U+0000)`, {
      argument: nul.argument,
      ...(nul.variable ? { variable: nul.variable } : {}),
      at: nul.where,
    });
  }
}

function coerceVariables(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | null | undefined,
): Record<string, unknown> {
  const result = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {}, { maxErrors: 20 });
  if (!result.errors) return result.coerced;
  const messages = result.errors.map((e) => short(e.message));
  const more = messages.length > 1 ? ` (and ${messages.length - 1} more variable error${messages.length > 2 ? "s" : ""})` : "";
  const variable = result.errors[0].nodes?.find((n) => n.kind === Kind.VARIABLE_DEFINITION);
  throw new BadUserInput(`${messages[0]}${more}`, {
    ...(variable ? { variable: variable.variable.name.value } : {}),
    ...(messages.length > 1 ? { errors: messages } : {}),
  });
}

/** GraphQL's messages quote the value: a megabyte of it is not sent back. */
function short(message: string, max = 300): string {
  return message.length <= max ? message : `${message.slice(0, max)}… (${message.length.toLocaleString("en")} characters in all)`;
}

interface NulFound {
  /** e.g. `recordPlays(input).plays[2].userId`. */
  where: string;
  argument: string;
  variable?: string;
}

/** The first NUL character in the operation's arguments (and the fragments it may use), or null. */
function findNul(document: DocumentNode, operation: OperationDefinitionNode, coerced: Record<string, unknown>): NulFound | null {
  let found: NulFound | null = null;
  const check = (owner: string, name: string, value: ValueNode) => {
    if (found) return;
    const at = inLiteral(value, coerced);
    if (at !== null) found = { where: `${owner}(${name})${at.path}`, argument: name, ...(at.variable ? { variable: at.variable } : {}) };
  };
  const definitions = document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION || d === operation);
  for (const definition of definitions) {
    visit(definition, {
      Field(node) {
        for (const arg of node.arguments ?? []) check(node.name.value, arg.name.value, arg.value);
      },
      Directive(node) {
        for (const arg of node.arguments ?? []) check(`@${node.name.value}`, arg.name.value, arg.value);
      },
    });
    if (found) return found;
  }
  return null;
}

/** Where inside a literal (or the variable it names) a NUL is, as a path suffix; null when there is none. */
function inLiteral(value: ValueNode, coerced: Record<string, unknown>): { path: string; variable?: string } | null {
  switch (value.kind) {
    case Kind.STRING:
    case Kind.ENUM:
      return value.value.includes(NUL) ? { path: "" } : null;
    case Kind.LIST:
      for (const [i, item] of value.values.entries()) {
        const at = inLiteral(item, coerced);
        if (at) return { ...at, path: `[${i}]${at.path}` };
      }
      return null;
    case Kind.OBJECT:
      for (const field of value.fields) {
        const at = inLiteral(field.value, coerced);
        if (at) return { ...at, path: `.${field.name.value}${at.path}` };
      }
      return null;
    case Kind.VARIABLE: {
      const path = inValue(coerced[value.name.value]);
      return path === null ? null : { path, variable: value.name.value };
    }
    default:
      return null;
  }
}

/**
 * The same for a value (a coerced variable): strings, list items, object keys
 * and values. Iterative: JSON variables may nest deeper than the call stack.
 */
function inValue(root: unknown): string | null {
  const stack: { value: unknown; path: string }[] = [{ value: root, path: "" }];
  while (stack.length) {
    const { value, path } = stack.pop()!;
    if (typeof value === "string") {
      if (value.includes(NUL)) return path;
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: `${path}[${i}]` });
    } else if (value !== null && typeof value === "object" && !(value instanceof Date)) {
      const entries = Object.entries(value);
      for (const [key] of entries) if (key.includes(NUL)) return `${path}.${JSON.stringify(key)}`;
      for (let i = entries.length - 1; i >= 0; i--) stack.push({ value: entries[i][1], path: `${path}.${entries[i][0]}` });
    }
  }
  return null;
}
