// rar's version, as package.json states it. The CLI bundle (scripts/build-cli.ts)
// replaces this module by the version itself, read from the same package.json
// when the bundle is built: a CommonJS bundle has no import.meta, and the
// installed command then reads no file to answer --version.

import { readFileSync } from "node:fs";

/**
 * The version in the nearest package.json above this module: the package's
 * own, whether this runs as dist/src/cli/version.js (in a checkout or an
 * installed package) or as src/cli/version.ts (through tsx).
 */
export function packageVersion(): string {
  for (let dir = new URL(".", import.meta.url); ; ) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as { version?: unknown };
      return typeof pkg.version === "string" ? pkg.version : "unknown";
    } catch (e) {
      const parent = new URL("..", dir);
      if ((e as NodeJS.ErrnoException).code !== "ENOENT" || parent.href === dir.href) return "unknown";
      dir = parent;
    }
  }
}
