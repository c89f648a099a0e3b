// Exit codes (CLI.md) and the one-line error format. A JavaScript stack trace
// never reaches the user.

import { RarError } from "../vm/errors.js";

export const EXIT = {
  /** The program finished. */
  done: 0,
  /** The guest faulted (or audit found a divergence). */
  fault: 1,
  /** Bad input, usage, or a capability the policy does not grant. */
  usage: 2,
  /** Suspended: out of gas or memory at the root; the image was written. */
  suspended: 3,
  /** A bug in rar itself. */
  internal: 4,
} as const;

/** Turns any error into one line on stderr and an exit code. */
export function reportError(e: unknown, write: (s: string) => void): number {
  if (e instanceof RarError) {
    write(`rar: error: ${e.message}\n`);
    return EXIT.usage;
  }
  const msg = e instanceof Error ? e.message : String(e);
  write(`rar: internal error: ${msg}\n`);
  return EXIT.internal;
}
