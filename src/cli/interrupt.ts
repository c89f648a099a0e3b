// Stopping a run from outside (DESIGN §6, CLI.md): SIGINT or SIGTERM during
// `run`, `resume` or `trace` (from the moment rar starts, bin.cts noting
// those that come while the CLI loads), or a spent --timeout, suspends the
// run at the next instruction boundary; the command then writes the image like any
// suspension (exit 3). Nothing is lost, and the stop is a recorded host
// event, so the run stays transparent.

import { Option } from "commander";
import { UsageError } from "./exit.js";

/** The key under which bin.cts leaves the signals that came while the CLI was loading. */
const EARLY_SIGNALS = Symbol.for("rar.earlySignals");

/** Stops bin.cts noting signals and gives those it noted (none when rar was started without it). */
function earlySignals(): readonly NodeJS.Signals[] {
  const slot = globalThis as Record<symbol, unknown>;
  const release = slot[EARLY_SIGNALS] as (() => readonly NodeJS.Signals[]) | undefined;
  delete slot[EARLY_SIGNALS];
  return release ? release() : [];
}

/** For a command that runs no program: signals obey their default again, and one that came while rar was loading stops it now. */
export function releaseInterrupts(): void {
  for (const s of earlySignals()) process.kill(process.pid, s);
}

/** Set by takeInterrupts: the one controller SIGINT and SIGTERM abort until the process exits. */
let taken: AbortController | undefined;

/**
 * From now until the process exits, SIGINT and SIGTERM no longer kill it:
 * they abort the signal interruptible() hands its work. main.ts calls it
 * first thing for the commands that run a program (run, resume, trace), so
 * a signal while the program is still being compiled, decoded or negotiated
 * stops the run at its first instruction boundary (exit 3, image written),
 * and one while the image is being written does not cut the write short.
 */
export function takeInterrupts(): void {
  if (taken) return;
  const controller = new AbortController();
  taken = controller;
  const stop = (): void => controller.abort();
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  if (earlySignals().length > 0) stop();
}

/** Runs `work` with a signal that SIGINT and SIGTERM abort (while it runs, they do not kill the process). */
export async function interruptible<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  if (taken) return await work(taken.signal);
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
