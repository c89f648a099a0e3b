// The policy flags of `rar run` and `rar resume` (--allow, --deny, --policy)
// and how they become the root's grants (CLI.md, spec/capabilities.md).

import type { Command } from "commander";
import { loadPolicy, narrowGrants, type Policy } from "../caps/policy.js";
import type { Session } from "../session.js";

/** The policy flags as commander parses them. */
export interface PolicyFlags {
  allow: string[];
  deny: string[];
  policy?: string;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Adds --allow, --deny and --policy to a command (run, resume). */
export function addPolicyOptions(cmd: Command): Command {
  return cmd
    .option("--allow <cap>", "grant a capability to the root (repeatable): io.read, clock.now[:real], fs.read:DIR, ...", collect, [])
    .option("--deny <cap>", "refuse a capability, even one granted by the policy (repeatable)", collect, [])
    .option("--policy <file>", "a policy file (JSON) granting, denying and mocking capabilities");
}

/** The root's policy for `rar run`: io.print by default, then the file, then the flags; denials win. */
export function policyFromFlags(flags: PolicyFlags): Policy {
  return loadPolicy({ file: flags.policy, allow: flags.allow, deny: flags.deny, defaults: ["io.print"] });
}

/**
 * `rar resume` with policy flags: a resumed image keeps the grants it had
 * unless narrowed. --allow / --policy name the grants to keep (each within a
 * held one; a wider one is an error, exit 2), --deny removes. The narrowing
 * is recorded in the trace. Without flags nothing changes.
 */
export function narrowOnResume(session: Session, flags: PolicyFlags): void {
  if (flags.allow.length === 0 && flags.deny.length === 0 && flags.policy === undefined) return;
  const asked = loadPolicy({ file: flags.policy, allow: flags.allow, deny: flags.deny });
  const held = session.root.caps;
  const next = narrowGrants(held, asked.grants, asked.denials);
  if (next.join("\n") !== held.join("\n")) session.narrow(next);
}
