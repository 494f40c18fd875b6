import { openStore, type Store } from "../store/store";

/** Opens the configured store (migrating it), runs fn, and always closes it. */
export async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore();
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
