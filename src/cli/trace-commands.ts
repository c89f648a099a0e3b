// The trace side of the CLI (CLI.md): `rar replay IMAGE`, `rar audit IMAGE
// [--json]` (the policy flags of run and resume are in policy-flags.ts). Exit codes: 0 the trace checks and replays to the image's
// state; 1 a broken link or a divergence; 2 not a readable image.

import type { Command } from "commander";
import { codePointsToText } from "../caps/registry.js";
import { decodeImage } from "../image/decode.js";
import { auditDecoded, formatAudit, type AuditReport } from "../trace/audit.js";
import { EXIT, escapeControls } from "./exit.js";
import { readInput } from "./read.js";
import { err, writeOut } from "./output.js";

function auditJson(r: AuditReport): string {
  return JSON.stringify({
    valid: r.valid,
    problem: r.problem,
    outcome: r.outcome,
    digest: r.digest,
    replayDigest: r.replayDigest,
    imageDigest: r.imageDigest,
    initialDigest: r.originDigest,
    trace: { events: r.events, head: r.head, host: r.host, resumes: r.resumes, legs: r.legs },
    capabilities: r.capabilities,
    processes: r.processes,
    calls: r.calls,
  });
}

/** `rar audit IMAGE [--json]`. */
export async function auditCommand(file: string, json: boolean): Promise<number> {
  const img = decodeImage(readInput(file), { where: file });
  if (img.meta.debug?.slice) (await import("../debug/slice.js")).refuseSlice(img, "audit", file);
  const report = auditDecoded(img);
  writeOut(json ? auditJson(report) + "\n" : escapeControls(formatAudit(report), true));
  return report.valid ? EXIT.done : EXIT.fault;
}

/** `rar replay IMAGE`: re-executes, printing the replayed program's io.print lines; a summary on stderr. */
export async function replayCommand(file: string): Promise<number> {
  const img = decodeImage(readInput(file), { where: file });
  if (img.meta.debug?.slice) (await import("../debug/slice.js")).refuseSlice(img, "replay", file);
  const report = auditDecoded(img, {
    onCall(e) {
      if (e.kind === "cap" && e.cap === "io.print") writeOut(codePointsToText(e.args[0] as Int32Array) + "\n");
    },
  });
    if (report.valid) {
    err(`rar replay: reproduced ${report.events} events (${report.calls.length} capability calls); final state ${report.digest} matches the image\n`);
    return EXIT.done;
  }
  const p = report.problem;
  if (p) {
    err(`rar replay: ${p.kind.replace("_", " ")} at event ${p.index}: ${escapeControls(p.message, false)}\n`);
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
    .action(async (file: string) => {
      process.exitCode = await replayCommand(file);
    });

  program
    .command("audit")
    .description('check an image\'s trace chain and replay it: "audit: valid" and a summary, or the first broken link or divergence')
    .argument("<image>", "a .rimg image")
    .option("--json", "one JSON object")
    .action(async (file: string, flags: { json?: boolean }) => {
      process.exitCode = await auditCommand(file, flags.json === true);
    });
}
