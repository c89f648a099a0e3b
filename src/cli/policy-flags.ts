// The policy flags of `rar run` and `rar resume` (--allow, --deny, --policy)
// and how they become the root's grants (CLI.md, spec/capabilities.md).

import type { Command } from "commander";
import { loadPolicy, type Policy } from "../caps/policy.js";

/** The policy flags as commander parses them. */
export interface PolicyFlags {
  allow: string[];
  deny: string[];
  mount?: string[];
  policy?: string;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Adds --allow, --deny and --policy to a command (run, resume). */
export function addPolicyOptions(cmd: Command): Command {
  return cmd
    .option("--allow <cap>", "grant a capability to the root (repeatable): io.read, io.eprint, clock.now[:real], env.get:KEY, fs.read:DIR, fs.write:tree:/notes, 'fs.*:tree:/' (every fs family), ...", collect, [])
    .option("--deny <cap>", "refuse a capability, even one granted by the policy (repeatable)", collect, [])
    .option("--mount <guest=host>", "place a host directory in the process's file tree at an absolute guest path, read-only with :ro (GUEST=HOST[:ro], repeatable); grants every fs family there", collect, [])
    .option("--policy <file>", "a policy file (JSON) granting, denying and mocking capabilities");
}

/** The host's policy for `rar run` and `rar resume`: io.print by default, then the file, then the flags; denials win. */
export function policyFromFlags(flags: PolicyFlags): Policy {
  return loadPolicy({ file: flags.policy, allow: flags.allow, deny: flags.deny, mounts: flags.mount, defaults: ["io.print"] });
}
