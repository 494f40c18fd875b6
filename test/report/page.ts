/** Reading a rendered report: its embedded data, the URLs it could load, and its DOM after headless Chromium ran it. */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export function embeddedData(html: string): unknown {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  if (!m) throw new Error("no <script id=report-data> in the page");
  return JSON.parse(m[1]);
}

/** Every http(s) or protocol-relative URL the page would fetch: src/href/poster/action/srcset attributes, CSS url() and @import. */
export function loadableUrls(html: string): string[] {
  const patterns = [
    /\b(?:src|href|poster|action|srcset|data)\s*=\s*["']?\s*((?:https?:)?\/\/[^"'\s>]+)/gi,
    /url\(\s*["']?((?:https?:)?\/\/[^"')\s]+)/gi,
    /@import\s+["']((?:https?:)?\/\/[^"']+)/gi,
  ];
  return patterns.flatMap((p) => [...html.matchAll(p)].map((m) => m[1]));
}

/** Every http(s) URL written anywhere in a text. */
export const allUrls = (text: string): string[] => [...text.matchAll(/https?:\/\/[^\s"'<>)]+/g)].map((m) => m[0]);

export const CHROMIUM = "/usr/bin/chromium";

/** The DOM of a local page after headless Chromium ran its scripts (no network: a file URL, background networking off). */
export function dumpDom(file: string): Promise<string> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "rubato-chromium-"));
  const args = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--user-data-dir=${profile}`,
    "--virtual-time-budget=10000",
    "--dump-dom",
    `file://${file}`,
  ];
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, args, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      fs.rmSync(profile, { recursive: true, force: true });
      if (err) reject(new Error(`${CHROMIUM} failed: ${err.message}\n${stderr.slice(-2000)}`));
      else resolve(stdout);
    });
  });
}
