// `--log FILE` of run and resume (CLI.md "Host surface"): the guest's
// log.write records and the root's lifecycle events as JSON lines, collected
// while the command runs and written atomically when it ends (whatever the
// ending: a fault, a suspension, an interrupt). The path is the user's flag,
// never anything the guest or an image names.

import type { Command } from "commander";
import type { LogEvent } from "../caps/log.js";
import type { OwnFile } from "./atomic.js";

/** Adds --log to a command (run, resume). */
export function addLogOption(cmd: Command): Command {
  return cmd.option("--log <file>", "write log records and lifecycle events (started, suspended, resumed, finished) as JSON lines");
}

/** Where a command's log events go, and how they reach the file. */
export interface LogSink {
  /** For SessionOptions.onLog; undefined without --log. */
  readonly onLog?: (event: LogEvent) => void;
  /** Writes the file (atomically); nothing without --log. */
  flush(): void;
}

/**
 * A sink for `--log FILE`, checked writable before anything runs; `others`
 * are the files the command reads or writes (program, image, policy), which
 * the log must not replace.
 */
export async function logSink(file: string | undefined, others: readonly OwnFile[] = []): Promise<LogSink> {
  if (file === undefined) return { flush: () => undefined };
  // Loaded only with --log (start-up time of a plain run).
  const { checkOutput, writeFileAtomic } = await import("./atomic.js");
  checkOutput(file, others, "--log");
  const lines: string[] = [];
  return {
    onLog: (e) => void lines.push(JSON.stringify(e)),
    flush: () => writeFileAtomic(file, new TextEncoder().encode(lines.map((l) => l + "\n").join(""))),
  };
}
