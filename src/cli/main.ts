#!/usr/bin/env node
// The `rar` command line (CLI.md). Each command is a thin layer over the
// embedding API; this file only parses flags, prints and picks exit codes.

import { Command, CommanderError, Option } from "commander";
import { DEFAULT_GAS, DEFAULT_MEM, Session, type RunResult } from "../session.js";
import { parseCount, parseProgramArgs, takesTextArgs } from "./args.js";
import { EXIT, escapeControls, reportError, usageLines } from "./exit.js";
import { extensionOf, loadProgram, refuseImageLimits } from "./load.js";
import { interruptible, releaseInterrupts, takeInterrupts, timeoutOption } from "./interrupt.js";
import { addPolicyOptions, policyFromFlags, promptAnswers } from "./policy-flags.js";
import { addLogOption, logSink } from "./log-file.js";
import { packageVersion } from "./version.js";
import { err, writeOut } from "./output.js";


function summary(r: RunResult): string {
  const result = r.value !== undefined ? ` result=${r.value}` : "";
  return `rar: ${r.status}${result} gas=${r.gasUsed}/${r.gasLimit} mem=${r.memUsed}/${r.memLimit}\n`;
}

function exitFor(r: RunResult): number {
  switch (r.status) {
    case "done":
      return EXIT.done;
    case "fault":
      return EXIT.fault;
    default:
      return EXIT.suspended;
  }
}

interface RunFlags {
  gas: number;
  mem: number;
  allow: string[];
  deny: string[];
  prompt: string[];
  policy?: string;
  out?: string;
  timeout?: number;
  log?: string;
}

/** Prints a run's fault line and one-line summary on stderr; returns the exit code. */
function finish(r: RunResult): number {
  // The fault line quotes what the guest gave (a path, a message): never raw control characters.
  if (r.fault) err(`rar: ${escapeControls(r.fault, false)}\n`);
  err(summary(r));
  return exitFor(r);
}

async function runCommand(file: string, rawArgs: string[], flags: RunFlags): Promise<number> {
  // The image code (encoding, decoding, inspection) loads only when an image is read or written (start-up time).
  if (extensionOf(file) === ".rimg") return await (await import("./image-commands.js")).runImage(file, rawArgs, flags, finish);
  // The image a suspension writes (--out, or ./STEM.rimg) is checked before anything runs: a run that suspended and could not write it would lose its state (CLI.md).
  // --out before the program is even compiled; the default once it is read, so a bad program is named first.
  const { checkWritable, runImagePath } = await import("./atomic.js");
  const image = runImagePath(file, flags.out);
  if (flags.out !== undefined) checkWritable(image);
  // The log may replace none of the command's files: the program, the image it writes when it stops, the policy.
  const log = await logSink(flags.log, [[file, "the program the command runs"], [image, "the image the command writes"], [flags.policy, "the policy the command reads"]]);
  const { module, linked } = await loadProgram(file);
  if (flags.out === undefined) checkWritable(image);
  const args = parseProgramArgs(rawArgs, takesTextArgs(module));
  // Negotiation happens in Session.start: a capability the policy does not grant is exit 2, nothing run.
  const policy = policyFromFlags(flags);
  const session = Session.start(module, { gas: flags.gas, mem: flags.mem, args, policy, linked, stdout: writeOut, stderr: err, onLog: log.onLog, ...promptAnswers(policy) });
  let r: RunResult;
  try {
    r = await interruptible((signal) => session.runAsync({ signal, timeout: flags.timeout }));
  } finally {
    log.flush();
  }
  if (flags.out !== undefined || (r.status !== "done" && r.status !== "fault"))
    (await import("./image-commands.js")).writeRunImage(session, file, flags.out, r);
  return finish(r);
}

/**
 * Commands beyond run and disasm, each registered from its own module. Only
 * the invoked command's module is loaded (start-up time: `rar run` must not
 * load the compiler or the GP harness); --version loads none; help and
 * unknown commands load all.
 */
const EXTRA_COMMANDS: Readonly<Record<string, (program: Command) => Promise<void>>> = {
  images: async (p) => (await import("./image-commands.js")).addImageCommands(p, finish),
  traces: async (p) => (await import("./trace-commands.js")).addTraceCommands(p),
  gp: async (p) => (await import("./gp-command.js")).addGpCommand(p),
  compile: async (p) => (await import("./ent-commands.js")).addCompileCommand(p, err),
  debug: async (p) => (await import("./debug-commands.js")).addDebugCommands(p, finish),
  cluster: async (p) => (await import("./cluster-commands.js")).addClusterCommands(p, finish),
  caps: async (p) => (await import("./caps-command.js")).addCapsCommand(p),
  fs: async (p) => (await import("./fs-command.js")).addFsCommand(p),
};
const COMMAND_GROUP: Readonly<Record<string, string>> = {
  resume: "images",
  inspect: "images",
  replay: "traces",
  audit: "traces",
  gp: "gp",
  compile: "compile",
  trace: "debug",
  debug: "debug",
  "trace-slice": "debug",
  view: "debug",
  worker: "cluster",
  submit: "cluster",
  status: "cluster",
  fetch: "cluster",
  cancel: "cluster",
  caps: "caps",
  fs: "fs",
};

/**
 * commander's message for a parse error as one line, without its "error: "
 * prefix: "unknown option '--gass'\n(Did you mean --gas?)" becomes
 * "unknown option '--gass' (did you mean --gas?)".
 */
function commanderMessage(message: string): string {
  return message
    .replace(/^error: /, "")
    .replace(/\n\(Did you mean (.*)\?\)$/s, " (did you mean $1?)")
    .replace(/\n/g, " ");
}

/**
 * Builds the program. commander prints help and the version itself but no
 * errors: those are thrown (exitOverride) and main reports them. `onCommand`
 * learns which command runs, for the hint under a usage error.
 */
async function build(argv: readonly string[], onCommand: (name: string) => void): Promise<Command> {
  const program = new Command("rar")
    .description("rar: a recursive sandbox runtime (metered VM, nested budgets, images, traces)")
    .version(packageVersion(), "-V, --version", "print rar's version")
    .exitOverride()
    .configureOutput({ writeErr: err, outputError: () => {} })
    .hook("preSubcommand", (_program, command) => onCommand(command.name()));
  const run = program
    .command("run")
    .description("run a program (.ent, .rasm, .rmod) with bounded gas and memory, or continue an image (.rimg) as it is")
    .argument("<file>", "program to run")
    .argument("[args...]", "passed to main(args): integers, or texts for main(args: [[int]]) when any is not an integer")
    .addOption(new Option("--gas <n>", "root gas limit").argParser(parseCount("--gas")).default(DEFAULT_GAS))
    .addOption(new Option("--mem <n>", "root memory limit in words").argParser(parseCount("--mem")).default(DEFAULT_MEM));
  addLogOption(addPolicyOptions(run))
    .option("--out <image>", "where to write the image when the run suspends (default ./<stem>.rimg); also written when it finishes or faults")
    .addOption(timeoutOption())
    .action(async (file: string, args: string[], flags: RunFlags) => {
      refuseImageLimits(run, file);
      process.exitCode = await runCommand(file, args, flags);
    });

  program
    .command("disasm")
    .description("print the code of a .ent, .rasm, .rmod or .rimg as assembly text (with source lines where known; an image: every module it holds, the root's first)")
    .argument("<file>", "module or image to disassemble")
    .action(async (file: string) => {
      if (extensionOf(file) === ".rimg") return void writeOut(await (await import("./image-commands.js")).disasmImage(file));
      const { module, sources } = await loadProgram(file);
      const { disassemble } = await import("../../lang/disasm.js");
      writeOut(disassemble(module, { sources }));
    });

  const invoked = argv[2] ?? "";
  const group = COMMAND_GROUP[invoked];
  if (group) await EXTRA_COMMANDS[group](program);
  else if (invoked !== "run" && invoked !== "disasm" && invoked !== "-V" && invoked !== "--version") for (const g of Object.keys(EXTRA_COMMANDS)) await EXTRA_COMMANDS[g](program);
  return program;
}

/** The commands during which SIGINT and SIGTERM suspend the run instead of killing rar. */
const RUNS_A_PROGRAM: ReadonlySet<string | undefined> = new Set(["run", "resume", "trace"]);

export async function main(argv: string[]): Promise<void> {
  let command: string | undefined;
  // `rar` alone is a usage error like any other (CLI.md): one line and the hint, not the whole help.
  if (argv.length <= 2) {
    err(usageLines("no command given", undefined));
    process.exitCode = EXIT.usage;
    return;
  }
  // CLI.md: a signal during run, resume or trace suspends and writes the image, even one that comes before the first instruction.
  if (RUNS_A_PROGRAM.has(argv[2])) takeInterrupts();
  else releaseInterrupts();
  try {
    const program = await build(argv, (name) => (command = name));
    // `rar help NAME` for no such command: commander would print the whole help on stderr.
    const [, , first, asked] = argv;
    if (first === "help" && asked !== undefined && !program.commands.some((c) => c.name() === asked || c.aliases().includes(asked)))
      program.error(`error: unknown command '${asked}'`, { code: "commander.unknownCommand" });
    await program.parseAsync(argv);
  } catch (e) {
    if (!(e instanceof CommanderError)) {
      process.exitCode = reportError(e, err, command);
    } else if (e.exitCode === 0) {
      process.exitCode = EXIT.done; // --help, --version
    } else {
      // A command group without a subcommand printed its help on stderr; anything else is one line and a hint.
      if (e.code !== "commander.help") err(usageLines(commanderMessage(e.message), command));
      process.exitCode = EXIT.usage;
    }
  }
}

void main(process.argv);
