// rar's version, as package.json states it. The CLI bundle (scripts/build-cli.ts)
// replaces this module by the version itself, read from the same package.json
// when the bundle is built: a CommonJS bundle has no import.meta, and the
// installed command then reads no file to answer --version.

import { readFileSync } from "node:fs";

/** The version in the package.json next to dist/ (where it lies both in a checkout and in an installed package). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}
