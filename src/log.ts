import pino from "pino";

/** Structured logs on stderr; RUBATO_LOG_LEVEL=debug|info|warn|error|silent. */
export const log = pino(
  { level: process.env.RUBATO_LOG_LEVEL ?? (process.env.NODE_ENV === "test" ? "silent" : "info"), base: undefined },
  // Synchronous: a CLI that exits right after logging must not lose the last lines.
  pino.destination({ dest: 2, sync: true }),
);
