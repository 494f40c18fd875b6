/**
 * The chart library the report inlines, read from node_modules: Chart.js 4
 * (UMD build) and the chartjs-chart-matrix plugin, which registers itself on
 * the global Chart.
 */
import fs from "node:fs";
import path from "node:path";
import type { InlineScript } from "./render";

const LIBRARIES = [
  { pkg: "chart.js", file: "dist/chart.umd.min.js" },
  { pkg: "chartjs-chart-matrix", file: "dist/chartjs-chart-matrix.min.js" },
] as const;

/** The package's directory: up from its main entry to the package.json that names it (chart.js does not export its package.json). */
function packageRoot(pkg: string): { root: string; version: string } {
  for (let dir = path.dirname(require.resolve(pkg)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (!fs.existsSync(file)) continue;
    const json = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version: string };
    if (json.name === pkg) return { root: dir, version: json.version };
  }
  throw new Error(`report: cannot find the package directory of ${pkg}; reinstall it (npm install)`);
}

export function chartLibraries(): InlineScript[] {
  return LIBRARIES.map(({ pkg, file }) => {
    const { root, version } = packageRoot(pkg);
    const where = path.join(root, file);
    if (!fs.existsSync(where)) throw new Error(`report: ${pkg} ${version} has no ${file}; reinstall it (npm install)`);
    return { name: `${pkg} ${version}`, source: fs.readFileSync(where, "utf8") };
  });
}
