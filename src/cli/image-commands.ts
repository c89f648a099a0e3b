// The image side of the CLI (CLI.md): `rar run --out` writing images,
// `rar run IMAGE` (continue without refuel), `rar resume` (refuel and
// continue, replacing the image atomically unless --out) and `rar inspect`.

import { Option, type Command } from "commander";
import { decodeImage } from "../image/decode.js";
import { inspectImage, type ImageReport, type ProcessReport } from "../image/inspect.js";
import { DEFAULT_GAS, Session, type RunOptions, type RunResult } from "../session.js";
import { RarError } from "../vm/errors.js";
import { StatusCode } from "../vm/opcodes.js";
import { parseCount } from "./args.js";
import { checkWritable, runImagePath, writeFileAtomic } from "./atomic.js";
import { EXIT, UsageError, escapeControls } from "./exit.js";
import { readInput } from "./read.js";
import { interruptible, timeoutOption } from "./interrupt.js";
import { addPolicyOptions, policyFromFlags, promptAnswers, type PolicyFlags } from "./policy-flags.js";
import { addLogOption, logSink } from "./log-file.js";
import type { ForensicFlags } from "./forensics-command.js";
import { err, writeOut } from "./output.js";

/** Prints a run's fault line and summary on stderr and gives its exit code (main.ts owns the format). */
export type Finish = (r: RunResult) => number;


const suspended = (r: RunResult): boolean => r.status !== "done" && r.status !== "fault";

/** After `rar run`: writes the image if the run suspended, or whenever --out was given. */
export function writeRunImage(session: Session, input: string, out: string | undefined, r: RunResult): void {
  if (!suspended(r) && out === undefined) return;
  const path = runImagePath(input, out);
  writeFileAtomic(path, session.snapshot());
  err(suspended(r) ? `rar: suspended; image written to ${path}\n` : `rar: image written to ${path}\n`);
}

/** A traced image (one with checkpoints) keeps recording them when it is continued; a trace slice cannot be continued. */
async function recording(session: Session, file: string): Promise<RunOptions["checkpoints"]> {
  const debug = session.history.debug;
  if (!debug) return undefined;
  if (debug.slice) (await import("../debug/slice.js")).refuseSlice({ meta: { debug } }, "continuing a run", file);
  return (await import("../debug/record.js")).checkpointing(session);
}

function finished(session: Session): boolean {
  const st = session.root.status;
  return st === StatusCode.DONE || st === StatusCode.FAULT;
}

/**
 * `rar run IMAGE`: continues the image as it is (no refuel). The image's
 * grants are requests, negotiated against this host's flags and policy
 * before anything runs (CLI.md "Authority").
 */
export async function runImage(file: string, rawArgs: readonly string[], flags: RunFlags, finish: Finish): Promise<number> {
  if (flags.out !== undefined) checkWritable(flags.out);
  if (rawArgs.length > 0) throw new RarError("usage.args", undefined, file);
  const out = flags.out;
  const path = out !== undefined ? runImagePath(file, out) : undefined;
  const log = await logSink(flags.log, [[file, "the image the command reads"], [path, "the image the command writes"], [flags.policy, "the policy the command reads"]]);
  const policy = policyFromFlags(flags);
  const session = Session.fromImage(readInput(file), { where: file, policy, stdout: writeOut, stderr: err, onLog: log.onLog, ...promptAnswers(policy) });
  // The default image (./STEM.rimg, or ./STEM.out.rimg beside the input) is checked before anything runs, as --out is: a suspension must not lose its state.
  if (out === undefined && !finished(session)) checkWritable(runImagePath(file, undefined));
  const checkpoints = await recording(session, file);
  let r: RunResult;
  try {
    r = finished(session) ? session.result() : await interruptible((signal) => session.runAsync({ signal, timeout: flags.timeout, checkpoints }));
  } finally {
    log.flush();
  }
  writeRunImage(session, file, path, r);
  return finish(r);
}

interface RunFlags extends PolicyFlags {
  out?: string;
  timeout?: number;
  log?: string;
}

interface ResumeFlags extends RunFlags {
  gas: number;
  mem: number;
}

/**
 * `rar resume IMAGE`: negotiates the image's grants against this host's
 * (nothing runs and nothing is written if one is not covered), refuels the
 * root by --gas/--mem, continues, and writes the resulting image.
 */
export async function resumeImage(file: string, flags: ResumeFlags, finish: Finish): Promise<number> {
  checkWritable(flags.out ?? file);
  const target = flags.out ?? file;
  const log = await logSink(flags.log, [[file, "the image the command reads"], [target, "the image the command writes"], [flags.policy, "the policy the command reads"]]);
  const policy = policyFromFlags(flags);
  const session = Session.fromImage(readInput(file), { where: file, policy, stdout: writeOut, stderr: err, onLog: log.onLog, ...promptAnswers(policy) });
  if (finished(session)) {
    err(`rar: nothing to resume: the root is ${session.root.statusName}\n`);
    log.flush();
    if (flags.out !== undefined) writeFileAtomic(target, session.snapshot());
    return finish(session.result());
  }
  session.refuel(flags.gas, flags.mem);
  const checkpoints = await recording(session, file);
  let r: RunResult;
  try {
    r = await interruptible((signal) => session.runAsync({ signal, timeout: flags.timeout, checkpoints }));
  } finally {
    log.flush();
  }
  writeFileAtomic(target, session.snapshot());
  err(suspended(r) ? `rar: suspended; image written to ${target}\n` : `rar: image written to ${target}\n`);
  return finish(r);
}

// --- inspect ---------------------------------------------------------------

function jsonOf(p: ProcessReport): string {
  const fields: [string, unknown][] = [
    ["handle", p.handle],
    ["status", p.status],
    ["result", p.result],
    ["gasUsed", p.gasUsed],
    ["gasLimit", p.gasLimit],
    ["memUsed", p.memUsed],
    ["memLimit", p.memLimit],
    ["started", p.started],
    ["pc", p.pc],
    ["function", p.function],
    ["source", p.source],
    ["waiting", p.waiting],
    ["caps", p.caps],
    ["traps", p.traps],
  ];
  if (p.fault !== null) fields.push(["fault", p.fault]);
  if (p.need !== null) fields.push(["need", p.need]);
  return fields.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",");
}

/** One JSON object; the tree is nested (root.children[...]) but built without recursion. */
export function reportJson(r: ImageReport): string {
  const out: string[] = [
    `{"digest":${JSON.stringify(r.digest)},"imageDigest":${JSON.stringify(r.imageDigest)},"format":${r.format},`,
    `"runtime":${JSON.stringify(r.runtime)},"policy":${JSON.stringify(r.policy)},"initialDigest":${JSON.stringify(r.initialDigest)},"root":`,
  ];
  let open = 0;
  for (let i = 0; i < r.processes.length; i++) {
    const p = r.processes[i];
    while (open > p.depth) {
      out.push("]}");
      open--;
    }
    if (i > 0 && r.processes[i - 1].depth >= p.depth) out.push(",");
    out.push(`{${jsonOf(p)},"children":[`);
    open = p.depth + 1;
  }
  while (open > 0) {
    out.push("]}");
    open--;
  }
  out.push(`,"trace":{"events":${r.trace.events},"head":${JSON.stringify(r.trace.head)}}`);
  out.push(`,"files":{"entries":${r.files.entries},"bytes":${r.files.bytes},"words":${r.files.words}}}`);
  return out.join("");
}

const MAX_INDENT = 32;

/** The tree view for people: one line per process. */
export function reportText(r: ImageReport, file: string): string {
  const lines = [
    `image ${file}: format ${r.format}, written by ${r.runtime}`,
    `digest       ${r.digest}`,
    `imageDigest  ${r.imageDigest}`,
    `initial      ${r.initialDigest}`,
  ];
  const handles: number[] = [];
  for (const p of r.processes) {
    handles.length = p.depth;
    handles.push(p.handle);
    const path = handles.length > 8 ? `0.….${handles.slice(-4).join(".")} (depth ${p.depth})` : handles.join(".");
    const indent = "  ".repeat(Math.min(p.depth, MAX_INDENT));
    const result = p.result !== null ? ` result=${p.result}` : "";
    const need = p.need !== null ? ` need=${p.need}` : "";
    const at = p.started
      ? ` at ${p.function}${p.source ? ` (${p.source})` : ""} pc ${p.pc}`
      : ` not started (enters ${p.function})`;
    const waits = p.waiting !== 0 ? ` waiting on ${p.waiting}` : "";
    const caps = p.caps.length > 0 ? ` caps ${p.caps.join(",")}` : "";
    const traps = p.traps.length > 0 ? ` traps ${p.traps.join(",")}` : "";
    lines.push(
      `${indent}${path}  ${p.status}${result}${need}  gas ${p.gasUsed}/${p.gasLimit}  mem ${p.memUsed}/${p.memLimit}${at}${waits}${caps}${traps}`,
    );
    if (p.fault) lines.push(`${indent}  ${p.fault}`);
  }
  lines.push(`trace: ${r.trace.events} event(s), head ${r.trace.head}`);
  if (r.files.entries > 0) lines.push(`files: ${r.files.entries} entries, ${r.files.bytes} bytes (${r.files.words} words; rar fs ${file} ls)`);
  return lines.join("\n") + "\n";
}

export function inspectCommand(file: string, json: boolean): number {
  const report = inspectImage(decodeImage(readInput(file), { where: file }));
  // The text quotes the image (fault details, grants): control characters escaped (JSON escapes its own).
  writeOut(json ? reportJson(report) + "\n" : escapeControls(reportText(report, file), true));
  return EXIT.done;
}

/**
 * `rar disasm IMAGE`: the code of every module the image holds, the root's
 * first, each under a comment naming its digest (comments, so the text of a
 * one-module image still assembles back to its code).
 */
export async function disasmImage(file: string): Promise<string> {
  const img = decodeImage(readInput(file), { where: file });
  const { disassemble } = await import("../../lang/disasm.js");
  const rootModule = img.root.module;
  const modules = [rootModule, ...img.modules.filter((m) => m.digest !== rootModule.digest)];
  return modules.map((m, i) => `; module ${i + 1} of ${modules.length}${i === 0 ? " (the root's)" : ""}: ${m.digest}\n${disassemble(m)}`).join("\n");
}

/** Registers `resume` and `inspect` on the program. */
export function addImageCommands(program: Command, finish: Finish): void {
  const resume = program
    .command("resume")
    .description("refuel an image's root and continue it; the image is replaced atomically unless --out")
    .argument("<image>", "a .rimg image")
    .addOption(new Option("--gas <n>", "gas added to the root's limit").argParser(parseCount("--gas")).default(DEFAULT_GAS))
    .addOption(new Option("--mem <n>", "words added to the root's memory limit").argParser(parseCount("--mem")).default(0));
  addLogOption(addPolicyOptions(resume))
    .option("--out <image>", "where to write the resulting image (default: the image itself)")
    .addOption(timeoutOption())
    .action(async (file: string, flags: ResumeFlags) => {
      process.exitCode = await resumeImage(file, flags, finish);
    });

  program
    .command("inspect")
    .description("show an image's process tree: status, result, budgets, where each process stands, digests")
    .argument("<image>", "a .rimg image")
    .option("--json", "one JSON object instead of the tree view")
    .option("--process <path>", "forensics of one process (0, 0.2, 0.2.1: as the tree view names them)")
    .option("--mem <addr:count>", "that process's memory words from addr, as hex and decimal")
    .option("--strings", "runs of printable code points in its memory, like strings(1)")
    .addOption(new Option("--min <n>", "shortest run --strings lists (default 4)").argParser(parseCount("--min", 1, 1_000_000)))
    .option("--find <w1,w2,...>", "every address where this word sequence occurs in its memory")
    .action(async (file: string, flags: ForensicFlags) => {
      const forensic = flags.process !== undefined || flags.mem !== undefined || flags.strings === true || flags.find !== undefined || flags.min !== undefined;
      process.exitCode = forensic ? (await import("./forensics-command.js")).forensicCommand(file, flags) : inspectCommand(file, flags.json === true);
    });
}
