/**
 * `rubato report`: gathers a report's data from the store and writes it as
 * DIR/index.html, one self-contained page.
 */
import fs from "node:fs";
import path from "node:path";
import type { Store } from "../store/store";
import { gatherReport, type ReportData, type ReportOptions } from "./data";
import { chartLibraries } from "./libraries";
import { renderReport } from "./render";

export { gatherReport, renderReport, chartLibraries, type ReportData, type ReportOptions };

export async function writeReport(
  store: Store,
  runIds: readonly string[],
  outDir: string,
  options: ReportOptions = {},
): Promise<{ file: string; data: ReportData; charts: number; bytes: number }> {
  const data = await gatherReport(store, runIds, options);
  const html = renderReport(data, chartLibraries());
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.resolve(outDir, "index.html");
  fs.writeFileSync(file, html);
  const charts = Number(/data-charts="(\d+)"/.exec(html)?.[1] ?? 0);
  return { file, data, charts, bytes: Buffer.byteLength(html) };
}
