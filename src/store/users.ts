/** Table `app_user`: listeners, known by their external id. */
import type { Store } from "./store";

/** A user's ids: the store's (`id`, what plays reference) and the external one. */
export interface UserIds {
  id: number;
  externalId: string;
}

/** Users with at least one play at or before `cutoff` (any play when null); in no particular order. */
export function usersWithPlays(store: Store, cutoff: Date | null): Promise<UserIds[]> {
  return store.prisma.user.findMany({
    where: { events: { some: cutoff ? { playedAt: { lte: cutoff } } : {} } },
    select: { id: true, externalId: true },
  });
}
