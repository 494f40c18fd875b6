import fs from "node:fs";
import path from "node:path";

/** ../shared/data beside the repository (read-only data sets); absent on some machines. */
export const sharedDir = process.env.RUBATO_SHARED_DIR ?? path.resolve(__dirname, "../../../shared/data");

export function sharedFile(relative: string): string | null {
  const file = path.join(sharedDir, relative);
  return fs.existsSync(file) ? file : null;
}

/** `it` when the shared file exists, otherwise a skipped test that says why. */
export function itWithShared(relative: string): jest.It {
  if (sharedFile(relative)) return it;
  console.warn(`skipping: ${path.join(sharedDir, relative)} is absent (the ../shared data sets are not on this machine)`);
  return it.skip;
}
