// Running the built CLI from tests: one place for where it is, how it is
// spawned and how a stale build is refreshed. Tests run the command users
// get: package.json's `bin`, the launcher of the bundled CLI with its code
// cache (scripts/build-cli.ts).

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";

export const ROOT = join(__dirname, "..", "..");
/** The installed `rar` command, as package.json's `bin` names it. */
export const CLI = join(ROOT, (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: { rar: string } }).bin.rar);
/** What `npm run build` writes after tsc, last of all the code cache. */
const BUILT = ["bundle.cjs", "bundle.cache"].map((f) => join(ROOT, "dist", "src", "cli", f));

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
    else if (/\.c?ts$/.test(e.name)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** `npm test` builds first; this builds too (as `npm run build` does) when the CLI is missing or older than its sources. */
export function ensureBuilt(): void {
  const newest = Math.max(...["src", "lang", "gp"].map((d) => newestSource(join(ROOT, d))), statSync(join(ROOT, "scripts", "build-cli.ts")).mtimeMs);
  if ([CLI, ...BUILT].every((f) => existsSync(f) && statSync(f).mtimeMs >= newest)) return;
  execFileSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", ROOT], { stdio: "pipe" });
  execFileSync(process.execPath, [join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"), join(ROOT, "scripts", "build-cli.ts")], { stdio: "pipe" });
}

/** A usage error (CLI.md): the message line, the hint naming the command's help (null: rar's), exit 2, nothing on stdout. */
export function expectUsage(r: Out, command: string | null, message: RegExp): void {
  const hint = command === null ? "see 'rar --help'" : `see 'rar ${command} --help'`;
  expect(r.stderr).toMatch(/^rar: error: [^\n]+\nsee '[^\n]+'\n$/);
  const [line, seeLine] = r.stderr.split("\n");
  expect(line).toMatch(message);
  expect(seeLine).toBe(hint);
  expect(r.stdout).toBe("");
  expect(r.code).toBe(2);
}

/** Runs `rar ARGS...` in `cwd` with stdout read until its first chunk, then closed (a reader that goes away); `stdin` given if any. */
export function readerLeaves(cwd: string, args: string[], stdin?: string): Promise<{ code: number | null; stderr: string; first: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    if (stdin !== undefined) child.stdin?.end(stdin);
    let stderr = "";
    let first = "";
    child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t));
    child.stdout.once("data", (b: Buffer) => {
      first = b.toString("utf8");
      child.stdout.destroy();
    });
    child.on("close", (code) => resolve({ code, stderr, first }));
  });
}
