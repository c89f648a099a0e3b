// The time-travel side of the CLI (CLI.md "Inspecting a run"): `rar trace`
// (run with checkpoints), `rar debug`, `rar trace-slice` and `rar view`.
// Registered by main.ts only when one of them is invoked.

import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { createInterface } from "node:readline";
import { Option, type Command } from "commander";
import { Debugger } from "../debug/debugger.js";
import { refuseSlice, sliceImage } from "../debug/slice.js";
import { VIEW_STEPS, viewData, viewHtml } from "../debug/view.js";
import { decodeImage } from "../image/decode.js";
import { RarError } from "../vm/errors.js";
import { EXIT, escapeControls } from "./exit.js";
import { newDebugPart, checkpointing } from "../debug/record.js";
import { DEFAULT_GAS, DEFAULT_MEM, Session, type RunResult } from "../session.js";
import { parseCount, parseProgramArgs, takesTextArgs } from "./args.js";
import { checkOutput, checkWritable, runImagePath, writeFileAtomic } from "./atomic.js";
import type { Finish } from "./image-commands.js";
import { interruptible, timeoutOption } from "./interrupt.js";
import { extensionOf, loadProgram, refuseImageLimits } from "./load.js";
import { addPolicyOptions, policyFromFlags, promptAnswers, type PolicyFlags } from "./policy-flags.js";
import { addLogOption, logSink } from "./log-file.js";
import { readInput } from "./read.js";
import { err, writeOut } from "./output.js";


interface TraceFlags extends PolicyFlags {
  gas: number;
  mem: number;
  out?: string;
  timeout?: number;
  log?: string;
}

/**
 * `rar trace FILE [ARG...]`: runs like `rar run` and records checkpoints
 * (image debug part); the image is always written (default ./<stem>.rimg).
 * An image as FILE is continued as it is, recording from there on.
 */
export async function traceCommand(file: string, rawArgs: readonly string[], flags: TraceFlags, finish: Finish): Promise<number> {
  const out = runImagePath(file, flags.out);
  checkWritable(out);
  const log = await logSink(flags.log, [[file, "the program the command runs"], [out, "the image the command writes"], [flags.policy, "the policy the command reads"]]);
  const policy = policyFromFlags(flags);
  let session: Session;
  if (extensionOf(file) === ".rimg") {
    if (rawArgs.length > 0) throw new RarError("usage.args", undefined, file);
    session = Session.fromImage(readInput(file), { where: file, policy, onLog: log.onLog, ...promptAnswers(policy) });
    if (session.history.debug?.slice) refuseSlice({ meta: { debug: session.history.debug } }, "continuing a run", file);
    session.history.debug ??= newDebugPart();
  } else {
    const { module, linked, sources } = await loadProgram(file);
    const args = parseProgramArgs(rawArgs, takesTextArgs(module));
    session = Session.start(module, { gas: flags.gas, mem: flags.mem, args, policy, linked, onLog: log.onLog, ...promptAnswers(policy) });
    session.history.debug = newDebugPart(sources);
  }
  const st = session.root.statusName;
  let r: RunResult;
  try {
    r =
      st === "done" || st === "fault"
        ? session.result()
        : await interruptible((signal) => session.runAsync({ signal, timeout: flags.timeout, checkpoints: checkpointing(session) }));
  } finally {
    log.flush();
  }
  writeFileAtomic(out, session.snapshot());
  const n = session.history.debug?.checkpoints.length ?? 0;
  err(`rar: ${r.status === "done" || r.status === "fault" ? "" : "suspended; "}image written to ${out} (${n} checkpoint${n === 1 ? "" : "s"})\n`);
  return finish(r);
}

/**
 * Runs one debugger command line; an error is reported and the session goes
 * on. What it prints goes through output.ts, like any report: a reader that
 * went away (`| head -1`) ends it quietly, a slow one is waited for.
 */
function runLine(dbg: Debugger, line: string): boolean {
  try {
    writeOut(dbg.run(line));
    return true;
  } catch (e) {
    if (!(e instanceof RarError)) throw e;
    err(`rar: error: ${escapeControls(e.message, false)}\n`);
    return false;
  }
}

/**
 * `rar debug IMAGE [--commands "C1;C2"]`: a scripted session (exit 2 if a
 * command was refused), or a prompt on a terminal.
 */
export async function debugCommand(file: string, flags: { commands?: string }): Promise<number> {
  const dbg = new Debugger(decodeImage(readInput(file), { where: file }));
  if (flags.commands !== undefined || !process.stdin.isTTY) {
    const script = flags.commands ?? readFileSync(0, "utf8");
    let ok = true;
    for (const line of script.split(/[;\n]/)) {
      if (dbg.quit) break;
      ok = runLine(dbg, line) && ok;
    }
    return ok ? EXIT.done : EXIT.usage;
  }
  writeOut(dbg.where());
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: "(rar) " });
  rl.prompt();
  for await (const line of rl) {
    runLine(dbg, line);
    if (dbg.quit) break;
    rl.prompt();
  }
  rl.close();
  return EXIT.done;
}

/** `rar trace-slice IMAGE --from S --to T --out OUT`. */
export function sliceCommand(file: string, flags: { from: number; to: number; out: string }): number {
  checkOutput(flags.out, [[file, "the image the command reads"]], "--out");
  const slice = sliceImage(decodeImage(readInput(file), { where: file }), flags.from, flags.to);
  writeFileAtomic(flags.out, slice.bytes);
  err(`rar: slice of steps ${slice.from}..${slice.to} written to ${flags.out} (${slice.bytes.length} bytes)\n`);
  return EXIT.done;
}

/** `rar view IMAGE [--out FILE.html] [--from S] [--to T]`. */
export function viewCommand(file: string, flags: { out?: string; from?: number; to?: number }): number {
  const out = flags.out ?? `${basename(file).replace(/\.[^.]*$/, "") || "view"}.html`;
  checkOutput(out, [[file, "the image the command reads"]], "--out");
  const html = viewHtml(viewData(decodeImage(readInput(file), { where: file }), basename(file), { from: flags.from, to: flags.to }));
  writeFileAtomic(out, Buffer.from(html, "utf8"));
  err(`rar: view written to ${out} (${Buffer.byteLength(html)} bytes)\n`);
  return EXIT.done;
}

/** Registers `trace`, `debug`, `trace-slice` and `view`. */
export function addDebugCommands(program: Command, finish: Finish): void {
  const trace = program
    .command("trace")
    .description("run like `rar run` and record checkpoints in the image, so that debug and view can visit every instruction")
    .argument("<file>", "program to run (.ent, .rasm, .rmod) or image to continue (.rimg)")
    .argument("[args...]", "passed to main(args): integers, or texts for main(args: [[int]]) when any is not an integer")
    .addOption(new Option("--gas <n>", "root gas limit").argParser(parseCount("--gas")).default(DEFAULT_GAS))
    .addOption(new Option("--mem <n>", "root memory limit in words").argParser(parseCount("--mem")).default(DEFAULT_MEM));
  addLogOption(addPolicyOptions(trace))
    .option("--out <image>", "where to write the image (default ./<stem>.rimg)")
    .addOption(timeoutOption())
    .action(async (file: string, args: string[], flags: TraceFlags) => {
      refuseImageLimits(trace, file);
      process.exitCode = await traceCommand(file, args, flags, finish);
    });

  program
    .command("debug")
    .description("time-travel debugger over a recorded run (a prompt on a terminal)")
    .argument("<image>", "a .rimg image with a trace (from rar trace, run --out, resume) or a trace slice")
    .option("--commands <script>", "run these commands (separated by ';'), print their output and exit")
    .action(async (file: string, flags: { commands?: string }) => {
      process.exitCode = await debugCommand(file, flags);
    });

  program
    .command("trace-slice")
    .description("an inspection-only image of steps S..T of a recorded run (debug and view accept it; replay and audit refuse it)")
    .argument("<image>", "a .rimg image with a trace")
    .requiredOption("--from <step>", "first step", parseCount("--from"))
    .requiredOption("--to <step>", "last step", parseCount("--to"))
    .requiredOption("--out <image>", "where to write the slice")
    .action((file: string, flags: { from: number; to: number; out: string }) => {
      process.exitCode = sliceCommand(file, flags);
    });

  program
    .command("view")
    .description("one self-contained HTML viewer of a recorded run: process tree, source, stack, locals, memory, capability events, gas and memory plots")
    .argument("<image>", "a .rimg image with a trace, or a trace slice")
    .option("--out <file.html>", "where to write the page (default: <stem>.html)")
    .option("--from <step>", `first step shown one by one (default: the last ${VIEW_STEPS})`, parseCount("--from"))
    .option("--to <step>", "last step shown one by one (default: the end)", parseCount("--to"))
    .action((file: string, flags: { out?: string; from?: number; to?: number }) => {
      process.exitCode = viewCommand(file, flags);
    });
}
