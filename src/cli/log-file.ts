// `--log FILE` of run and resume (CLI.md "Host surface"): the guest's
// log.write records and the root's lifecycle events as JSON lines, collected
// while the command runs and written atomically when it ends (whatever the
// ending: a fault, a suspension, an interrupt). The path is the user's flag,
// never anything the guest or an image names.

import type { Command } from "commander";
import type { LogEvent } from "../caps/log.js";
import { UsageError } from "./exit.js";

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
 * are files the command writes too (its image), which the log must not replace.
 */
export async function logSink(file: string | undefined, others: readonly (string | undefined)[] = []): Promise<LogSink> {
  if (file === undefined) return { flush: () => undefined };
  // Loaded only with --log (start-up time of a plain run).
  const { checkWritable, sameFile, writeFileAtomic } = await import("./atomic.js");
  checkWritable(file);
  for (const o of others) if (o !== undefined && sameFile(file, o)) throw new UsageError(`--log ${file} is also the image the command writes`);
  const lines: string[] = [];
  return {
    onLog: (e) => void lines.push(JSON.stringify(e)),
    flush: () => writeFileAtomic(file, new TextEncoder().encode(lines.map((l) => l + "\n").join(""))),
  };
}
