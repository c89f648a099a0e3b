// Scopes of capabilities (`fs.read:/data`): narrowing is lexical on normalized
// absolute paths. This only decides which grants a parent may hand down; for
// host directories NARROW also compares real paths (fs.ts realScopeWithin),
// and every fs call checks the real path it touches against every scope on
// the caller's chain (fs.ts ChainScopes).

import { posix } from "node:path";

/** `rel` resolved inside `scope` and normalized; absolute `rel` stays absolute. */
export function resolveScope(scope: string, rel: string): string {
  return posix.resolve(scope.startsWith("/") ? scope : "/" + scope, rel);
}

/** True when `inner` is `outer` or lies below it. */
export function scopeWithin(inner: string, outer: string): boolean {
  const o = posix.normalize(outer);
  const i = posix.normalize(inner);
  return i === o || i.startsWith(o.endsWith("/") ? o : o + "/");
}
