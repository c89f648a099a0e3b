// Grants as the process tree holds them: authority flows down (a process
// holds at most what its parent holds, DESIGN §4), and equal grant sets are
// one shared array. Grant arrays are replaced, never mutated, so an array
// identifies its set (the scheduler caches scopes per array).

import type { Process } from "../process/process.js";
import { intersectGrants } from "./registry.js";

/**
 * Re-derives what every process below `top` holds after the subtree took a
 * new place, or `top` new grants: each sits one level below its parent and
 * keeps of its grants what its parent holds (intersectGrants). Used by a
 * guest's RESTORE (the restored root under its new parent) and by a host
 * granting an image's root (caps/policy.ts applyGrants). Iterative: no host
 * recursion with the depth of the tree. Returns the greatest depth in the
 * subtree.
 */
export function inheritDown(top: Process): number {
  let deepest = top.depth;
  const todo: Process[] = [top];
  while (todo.length > 0) {
    const p = todo.pop() as Process;
    for (const c of p.children.values()) {
      c.depth = p.depth + 1;
      c.caps = intersectGrants(c.caps, p.caps);
      if (c.depth > deepest) deepest = c.depth;
      todo.push(c);
    }
  }
  return deepest;
}

/** Distinct grant and trap sets remembered for sharing. */
const GRANT_SETS = 256;

/**
 * One array per distinct set of names (sorted), so that siblings given the
 * same grants share it, and with it the scopes cached for it: the host holds
 * nothing per child for them. Bounded: the table is dropped when full (sets
 * made before stay valid: they are never mutated).
 */
export class GrantSets {
  /** Made at the first set shared (a restore that narrows nothing makes none). */
  private sets: Map<string, string[]> | null = null;

  /** The shared array of this sorted set of names. */
  shared(names: string[]): string[] {
    // JSON: unambiguous whatever the names contain (a NARROW'd scope may hold any code point).
    const key = JSON.stringify(names);
    const sets = (this.sets ??= new Map<string, string[]>());
    const known = sets.get(key);
    if (known) return known;
    if (sets.size >= GRANT_SETS) sets.clear();
    sets.set(key, names);
    return names;
  }
}
