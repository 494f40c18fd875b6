import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-test-"));

/** Writes a temporary input file and returns its path. */
export function writeTemp(name: string, text: string): string {
  const file = path.join(tempDir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** A deterministic small embedding for track i. */
export function embeddingOf(i: number, dim: number): number[] {
  return Array.from({ length: dim }, (_, j) => Math.round(Math.sin(i * 7.3 + j * 1.7) * 1000) / 1000);
}

/** A message with the temporary directory taken out, as a user would see it for a file in the current directory. */
export function relative(message: string): string {
  return message.split(tempDir + "/").join("");
}
