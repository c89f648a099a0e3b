// Authority along the chain (DESIGN §4): a child is granted only what its
// parent holds (SPAWN's grant mask), a parent may narrow a child's scopes
// (NARROW), and a restored subtree keeps only what its new parent holds
// (caps/grants.ts inheritDown, the same walk a host's grants use).

import { isPathScoped, realScopeWithin } from "../caps/fs.js";
import { inheritDown, type GrantSets } from "../caps/grants.js";
import { GRANT_MAX, capFamily, capScope, intersectGrants } from "../caps/registry.js";
import { TREE_PREFIX, resolveScope, scopeWithin } from "../caps/scope.js";
import { GAS, Op, WIDTH, wordGas } from "../vm/opcodes.js";
import type { Process } from "./process.js";
import { Step, charge, fault, type SlowOp } from "./slow.js";

/** The grant or trap set of a child given none (shared: grant arrays are replaced, never mutated). */
export const NO_CAPS = Object.freeze([]) as readonly string[] as string[];

/**
 * Capability names selected by a bitmask over d's manifest (SPAWN's grant
 * and trap operands), or why the mask is refused. For grants (`mustHold`),
 * d must hold each, and the child receives exactly d's grants of that family.
 */
export function capSet(sets: GrantSets, d: Process, mask: number, mustHold: boolean): string[] | string {
  if (mask === 0) return NO_CAPS;
  const names: string[] = [];
  const manifest = d.module.caps;
  for (let i = 0; i < 32; i++) {
    if ((mask & (1 << i)) === 0) continue;
    const name = manifest[i];
    if (name === undefined) return `capability bit ${i} is not in the manifest`;
    const family = capFamily(name);
    if (!mustHold) {
      names.push(family);
      continue;
    }
    // Same scopes as the parent's, never wider.
    const held = d.caps.filter((c) => capFamily(c) === family);
    if (held.length === 0) return `cannot grant ${name}: not held`;
    names.push(...held);
  }
  const set = [...new Set(names)].sort();
  // Everything the parent holds: share its array.
  if (mustHold && set.length === d.caps.length) return d.caps;
  return sets.shared(set);
}

/**
 * Places a restored tree under `parent`: depth and grants are re-derived from
 * the new position (an image's grants are requests, never more than the new
 * parent holds). Returns the greatest depth in the tree.
 */
export function placeRestored(tree: Process, parent: Process): number {
  tree.depth = parent.depth + 1;
  tree.caps = intersectGrants(tree.caps, parent.caps);
  return inheritDown(tree);
}

/** NARROW c: h ptr len. */
const narrow: SlowOp = (m, d) => {
  const cpu = m.cpu;
  const s = cpu.stack;
  const sp = cpu.sp;
  const c = d.children.get(s[sp - 3]);
  const ptr = s[sp - 2];
  const len = s[sp - 1];
  if (!c) return fault(cpu, "bad_handle", `handle ${s[sp - 3]}`);
  // No scope longer than a grant may be is worth reading.
  if (len < 0 || len > GRANT_MAX || ptr < 0 || ptr + len > cpu.memSize) return fault(cpu, "mem_bounds", `scope of ${len} at ${ptr}`);
  const family = capFamily(d.module.caps[d.module.code[cpu.pc + 1]]);
  const held = c.caps.filter((x) => capFamily(x) === family).map(capScope);
  let text = "";
  for (let i = 0; i < len; i++) text += String.fromCodePoint(Math.max(0, Math.min(0x10ffff, cpu.mem[ptr + i])));
  // The new scope must lie within one of the child's current scopes; the first that contains it wins.
  const scope = held
    .filter((h) => h !== "")
    .map((h) => ({ h, n: resolveScope(h, text) }))
    .find(({ h, n }) => scopeWithin(n, h));
  if (!scope) return fault(cpu, "cap_denied", `cannot narrow ${family} to '${text}': not within a held scope`);
  // Defense in depth for host directories: where the new scope exists (or its deepest existing
  // ancestor), its real path must stay inside the held one's. Calls check the whole chain again.
  if (isPathScoped(family) && !scope.h.startsWith(TREE_PREFIX) && !realScopeWithin(scope.n, scope.h))
    return fault(cpu, "cap_denied", `cannot narrow ${family} to '${text}': its real path leaves the held scope`);
  const grant = `${family}:${scope.n}`;
  if (grant.length > GRANT_MAX) return fault(cpu, "cap_denied", `cannot narrow ${family}: the scope is longer than ${GRANT_MAX - family.length - 1}`);
  if (!charge(cpu, GAS[Op.NARROW] + wordGas(len))) return Step.Gas;
  c.caps = m.grantSets.shared([...c.caps.filter((x) => capFamily(x) !== family), grant].sort());
  cpu.sp = sp - 3;
  cpu.pc += WIDTH[Op.NARROW];
  return Step.Continue;
};

/** The slow instructions of this room, by opcode. */
export const AUTHORITY_OPS: Readonly<Record<number, SlowOp>> = {
  [Op.NARROW]: narrow,
};
