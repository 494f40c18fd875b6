import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { openStore } from "../../src/store/store";
import type { StoreConfig } from "../../src/store/config";

const bin = path.resolve(__dirname, "../../bin/rubato.js");

export interface Rubato {
  child: ChildProcess;
  pid: number;
  /** stdout and stderr so far. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the output matches; rejects (with the output) after timeoutMs or when the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** The processes started by the test file that are still running. */
const running = new Set<ChildProcess>();
// A test that fails before it stops its process would leave it running, and jest waiting for it.
afterAll(async () => {
  const left = [...running];
  for (const child of left) child.kill("SIGKILL");
  await Promise.all(
    left.map(
      (child) =>
        new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once("exit", resolve))),
    ),
  );
});

/**
 * `rubato ARGS` as a child process (logs at info level, a short heartbeat timeout), with
 * NODE_ENV=production as deployed rather than jest's "test": libraries behave differently
 * under "test" (Apollo Server installs SIGINT/SIGTERM handlers of its own only outside it).
 * Killed after the file's tests if still running.
 */
export function rubato(args: string[], env: NodeJS.ProcessEnv): Rubato {
  const child = spawn("node", [bin, ...args], {
    env: { ...process.env, NODE_ENV: "production", RUBATO_LOG_LEVEL: "info", RUBATO_HEARTBEAT_TIMEOUT_MS: "1500", ...env },
  });
  let out = "";
  let ended = false;
  child.stdout!.on("data", (d: Buffer) => (out += d));
  child.stderr!.on("data", (d: Buffer) => (out += d));
  running.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => {
      ended = true;
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  return {
    child,
    pid: child.pid!,
    output: () => out,
    exited,
    async waitFor(pattern, timeoutMs = 60_000) {
      const started = Date.now();
      while (!pattern.test(out)) {
        if (ended) throw new Error(`rubato ${args.join(" ")} exited before printing ${pattern}:\n${out}`);
        if (Date.now() - started > timeoutMs)
          throw new Error(`rubato ${args.join(" ")} did not print ${pattern} in ${timeoutMs} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** The processes below pid (Linux /proc; empty elsewhere). */
export function descendants(pid: number): number[] {
  if (!fs.existsSync("/proc/self/stat")) return [];
  const parentOf = new Map<number, number>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid ...; comm may hold spaces and parentheses.
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  let frontier = [pid];
  while (frontier.length) {
    frontier = [...parentOf].filter(([, ppid]) => frontier.includes(ppid)).map(([p]) => p);
    found.push(...frontier);
  }
  return found;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Sends SIGTERM and waits at most `deadlineMs` for the process to exit (SIGKILL and a
 * failure with its output if it does not); also checks that no process it started outlives it.
 */
export async function terminate(p: Rubato, deadlineMs = 10_000): Promise<{ code: number | null; ms: number }> {
  const below = descendants(p.pid);
  const sent = Date.now();
  p.child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([p.exited, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), deadlineMs)))]);
  clearTimeout(timer);
  if (!exit) {
    p.child.kill("SIGKILL");
    await p.exited;
    throw new Error(`still running ${deadlineMs} ms after SIGTERM:\n${p.output()}`);
  }
  const ms = Date.now() - sent;
  expect(alive(p.pid)).toBe(false);
  expect(below.filter(alive)).toEqual([]);
  return { code: exit.code, ms };
}

/** The run as the store holds it (the store must not be open in another process when it is PGlite). */
export async function runRow(
  config: StoreConfig,
  id: string,
): Promise<{ status: string; attempts: number; error: string | null; checkpoint_bytes: number | null; worker_id: string | null }> {
  const store = await openStore(config);
  try {
    const [row] = await store.sql.query<{
      status: string;
      attempts: number;
      error: string | null;
      checkpoint_bytes: number | null;
      worker_id: string | null;
    }>(`SELECT status, attempts, error, octet_length(checkpoint) AS checkpoint_bytes, worker_id FROM run WHERE id = $1`, [id]);
    return row;
  } finally {
    await store.close();
  }
}

/**
 * kill -9: no handler runs, nothing is closed or flushed. Waits for the exit and checks
 * that no process it started outlives it.
 */
export async function kill9(p: Rubato): Promise<void> {
  const below = descendants(p.pid);
  p.child.kill("SIGKILL");
  const exit = await p.exited;
  expect(exit.signal).toBe("SIGKILL");
  expect(below.filter(alive)).toEqual([]);
}

/** Resolves when the output matches `pattern` `times` times (e.g. the second pause at a point). */
export function waitForNth(p: Rubato, pattern: RegExp, times: number, timeoutMs?: number): Promise<void> {
  return p.waitFor(new RegExp(`(?:${pattern.source}[\\s\\S]*?){${times - 1}}${pattern.source}`), timeoutMs);
}

/** The time (pino's epoch milliseconds) of the first log line matching `msg`, or null. */
export function loggedAt(p: Rubato, msg: RegExp): number | null {
  const line = p
    .output()
    .split("\n")
    .find((l) => msg.test(l));
  return line ? (JSON.parse(line) as { time: number }).time : null;
}

/** A `rubato serve`'s GraphQL endpoint, from its "listening" log line. */
export function graphqlUrl(p: Rubato): string {
  const line = p
    .output()
    .split("\n")
    .find((l) => l.includes('"msg":"listening"'));
  if (!line) throw new Error(`not listening yet:\n${p.output()}`);
  return (JSON.parse(line) as { graphql: string }).graphql;
}
