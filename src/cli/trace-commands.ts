// The trace side of the CLI (CLI.md): `rar replay IMAGE`, `rar audit IMAGE
// [--json]`, and the policy flags of run and resume (--allow, --deny,
// --policy). Exit codes: 0 the trace checks and replays to the image's
// state; 1 a broken link or a divergence; 2 not a readable image.

import type { Command } from "commander";
import { codePointsToText } from "../caps/registry.js";
import { loadPolicy, narrowGrants, type Policy } from "../caps/policy.js";
import { decodeImage } from "../image/decode.js";
import type { Session } from "../session.js";
import { auditDecoded, formatAudit, type AuditReport } from "../trace/audit.js";
import { EXIT } from "./exit.js";
import { readInput } from "./load.js";

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

function auditJson(r: AuditReport): string {
  return JSON.stringify({
    valid: r.valid,
    problem: r.problem,
    outcome: r.outcome,
    digest: r.digest,
    replayDigest: r.replayDigest,
    imageDigest: r.imageDigest,
    initialDigest: r.originDigest,
    trace: { events: r.events, head: r.head, host: r.host, resumes: r.resumes },
    capabilities: r.capabilities,
    processes: r.processes,
    calls: r.calls,
  });
}

/** `rar audit IMAGE [--json]`. */
export function auditCommand(file: string, json: boolean): number {
  const report = auditDecoded(decodeImage(readInput(file), { where: file }));
  process.stdout.write(json ? auditJson(report) + "\n" : formatAudit(report));
  return report.valid ? EXIT.done : EXIT.fault;
}

/** `rar replay IMAGE`: re-executes, printing the replayed program's io.print lines; a summary on stderr. */
export function replayCommand(file: string): number {
  const img = decodeImage(readInput(file), { where: file });
  const report = auditDecoded(img, {
    onCall(e) {
      if (e.kind === "cap" && e.cap === "io.print") process.stdout.write(codePointsToText(e.args[0] as Int32Array) + "\n");
    },
  });
  const err = (s: string): void => void process.stderr.write(s);
  if (report.valid) {
    err(`rar replay: reproduced ${report.events} events (${report.calls.length} capability calls); final state ${report.digest} matches the image\n`);
    return EXIT.done;
  }
  const p = report.problem;
  if (p) {
    err(`rar replay: ${p.kind.replace("_", " ")} at event ${p.index}: ${p.message}\n`);
    if (p.state) err(`  state before it: ${p.state}\n`);
    if (p.before) err(`  chain digest before it: ${p.before}\n`);
  }
  return EXIT.fault;
}

/** Registers `replay` and `audit`. */
export function addTraceCommands(program: Command): void {
  program
    .command("replay")
    .description("re-execute an image's run from its initial state using the recorded capability results (never calls the host)")
    .argument("<image>", "a .rimg image")
    .action((file: string) => {
      process.exitCode = replayCommand(file);
    });

  program
    .command("audit")
    .description('check an image\'s trace chain and replay it: "audit: valid" and a summary, or the first broken link or divergence')
    .argument("<image>", "a .rimg image")
    .option("--json", "one JSON object")
    .action((file: string, flags: { json?: boolean }) => {
      process.exitCode = auditCommand(file, flags.json === true);
    });
}
