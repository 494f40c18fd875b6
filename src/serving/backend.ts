import { initBackend } from "../model/backend";
import { log } from "../log";

let backend: Promise<unknown> | null = null;

/** tfjs on this thread (serving runs its forward passes on the main thread), initialised once for the whole process. */
export function servingBackend(): Promise<unknown> {
  backend ??= initBackend(undefined, { logger: (message) => log.info(message) }).catch((err) => {
    backend = null;
    throw err;
  });
  return backend;
}
