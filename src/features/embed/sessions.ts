/**
 * Listening sessions within one user's history, for co-occurrence windows that
 * stop at session boundaries: consecutive plays are in one session when both
 * carry a context and it is the same (the `sessions` import format stores the
 * log's SessionId as the context), or, where either has none, when they are at
 * most `gapMs` apart.
 */

/** Minutes between two plays beyond which, without a context, a new session starts (a common choice for listening logs). */
export const SESSION_GAP_MINUTES = 30;

/** 1 where a play begins a session (always the first), else 0. `context` may be omitted: gaps alone decide. */
export function sessionStarts(
  playedAt: ArrayLike<number>,
  context: readonly (string | null)[] | null | undefined,
  gapMs: number = SESSION_GAP_MINUTES * 60_000,
): Uint8Array {
  const n = playedAt.length;
  if (context && context.length !== n) throw new Error(`sessions: ${n} plays but ${context.length} contexts`);
  const starts = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    if (p === 0) starts[p] = 1;
    else {
      const a = context?.[p - 1] ?? null;
      const b = context?.[p] ?? null;
      starts[p] = (a !== null && b !== null ? a !== b : playedAt[p] - playedAt[p - 1] > gapMs) ? 1 : 0;
    }
  }
  return starts;
}
