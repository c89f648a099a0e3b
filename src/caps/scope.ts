// Scopes of capabilities (`fs.read:/data`): narrowing is lexical on normalized
// absolute paths. This only decides which grants a parent may hand down; for
// host directories NARROW also compares real paths (fs.ts realScopeWithin),
// and every fs call checks the real path it touches against every scope on
// the caller's chain (fs.ts ChainScopes).

import { posix } from "node:path";

/** `rel` resolved inside `scope` and normalized; absolute `rel` stays absolute. A view of the file tree stays one (`tree:/notes` + `a` = `tree:/notes/a`). */
export function resolveScope(scope: string, rel: string): string {
  if (scope.startsWith(TREE_PREFIX)) return TREE_PREFIX + posix.resolve(scope.slice(TREE_PREFIX.length), rel.startsWith(TREE_PREFIX) ? rel.slice(TREE_PREFIX.length) : rel);
  return posix.resolve(scope.startsWith("/") ? scope : "/" + scope, rel);
}

/** True when `inner` is `outer` or lies below it. */
export function scopeWithin(inner: string, outer: string): boolean {
  const o = posix.normalize(outer);
  const i = posix.normalize(inner);
  return i === o || i.startsWith(o.endsWith("/") ? o : o + "/");
}

/**
 * Scopes of the filesystem families that name a view of the process tree's
 * own file tree, not a host directory: `fs.read:tree:/notes`.
 */
export const TREE_PREFIX = "tree:";

/** The view a scope names in the file tree (`tree:/notes` -> "/notes"), or null for any other scope. */
export function treeScope(grant: string): string | null {
  const i = grant.indexOf(":");
  if (i < 0 || !grant.startsWith(TREE_PREFIX, i + 1)) return null;
  return grant.slice(i + 1 + TREE_PREFIX.length);
}
