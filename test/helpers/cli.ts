// Running the built CLI from tests: one place for where it is, how it is
// spawned and how a stale build is refreshed.

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(__dirname, "..", "..");
export const CLI = join(ROOT, "dist", "src", "cli", "main.js");

/** What a CLI run gave. */
export interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `rar ARGS...` in `cwd` and waits for it. */
export function rarIn(cwd: string, ...args: string[]): Out {
  // A hung CLI fails its test (code -1) instead of hanging the suite.
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Newest modification time of the TypeScript sources under `d`. */
function newestSource(d: string): number {
  let t = 0;
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) t = Math.max(t, newestSource(p));
    else if (e.name.endsWith(".ts")) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** `npm test` builds first; this builds too when dist/ is missing or older than the sources. */
export function ensureBuilt(): void {
  const stale = !existsSync(CLI) || statSync(CLI).mtimeMs < Math.max(...["src", "lang", "gp"].map((d) => newestSource(join(ROOT, d))));
  if (stale) execFileSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", ROOT], { stdio: "pipe" });
}
