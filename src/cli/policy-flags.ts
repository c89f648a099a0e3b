// The policy flags of `rar run` and `rar resume` (--allow, --deny, --prompt, --policy)
// and how they become the root's grants (CLI.md, spec/capabilities.md).

import type { Command } from "commander";
import { loadPolicy, type Policy } from "../caps/policy.js";
import { UsageError } from "./exit.js";
import { processTerminal, terminalAsker } from "./prompt-tty.js";

/** The policy flags as commander parses them. */
export interface PolicyFlags {
  allow: string[];
  deny: string[];
  prompt: string[];
  mount?: string[];
  policy?: string;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Adds --allow, --deny and --policy to a command (run, resume). */
export function addPolicyOptions(cmd: Command): Command {
  return cmd
    .option("--allow <cap>", "grant a capability to the root (repeatable): io.read, io.eprint, clock.now[:real], env.get:KEY, net.fetch:ORIGIN, fs.read:DIR, fs.write:tree:/notes, 'fs.*:tree:/' (every fs family), ...", collect, [])
    .option("--deny <cap>", "refuse a capability, even one granted by the policy (repeatable)", collect, [])
    .option("--prompt <cap>", "ask on the terminal at the capability's first use (repeatable): net.fetch:ORIGIN, env.get:KEY, clock.now:real, ...; refused when stdin is not a terminal", collect, [])
    .option("--mount <guest=host>", "place a host directory in the process's file tree at an absolute guest path, read-only with :ro (GUEST=HOST[:ro], repeatable); grants every fs family there", collect, [])
    .option("--policy <file>", "a policy file (JSON) granting, denying and mocking capabilities");
}

/** The host's policy for `rar run` and `rar resume`: io.print by default, then the file, then the flags; denials win. */
export function policyFromFlags(flags: PolicyFlags): Policy {
  if (flags.policy === "") throw new UsageError("--policy: an empty file name was given for the policy file");
  return loadPolicy({ file: flags.policy, allow: flags.allow, deny: flags.deny, prompt: flags.prompt, mounts: flags.mount, defaults: ["io.print"] });
}

/** How the CLI answers the policy's prompts: on the terminal (prompt-tty.ts); nothing to answer without prompts. */
export function promptAnswers(policy: Policy): { onPrompt?: (cap: string, path: string) => boolean } {
  return policy.prompts !== undefined && policy.prompts.length > 0 ? { onPrompt: terminalAsker(processTerminal()) } : {};
}
