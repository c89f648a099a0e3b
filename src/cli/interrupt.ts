// Stopping a run from outside (DESIGN §6, CLI.md): SIGINT or SIGTERM during
// `run` or `resume`, or a spent --timeout, suspends the run at the next
// instruction boundary; the command then writes the image like any
// suspension (exit 3). Nothing is lost, and the stop is a recorded host
// event, so the run stays transparent.

import { Option } from "commander";
import { UsageError } from "./exit.js";

/** Runs `work` with a signal that SIGINT and SIGTERM abort (while it runs, they do not kill the process). */
export async function interruptible<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    return await work(controller.signal);
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

/** --timeout SECONDS as milliseconds (a positive number of seconds). */
export function parseTimeout(raw: string): number {
  const s = Number(raw);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(raw.trim()) || !Number.isFinite(s) || s <= 0 || s * 1000 > 2 ** 31)
    throw new UsageError(`--timeout must be a number of seconds above 0 and at most ${Math.floor(2 ** 31 / 1000)}, not '${raw}'`);
  return Math.round(s * 1000);
}

/** The --timeout flag of run and resume. */
export function timeoutOption(): Option {
  return new Option("--timeout <seconds>", "wall-clock budget: suspend at an instruction boundary and write the image (exit 3)").argParser(parseTimeout);
}
