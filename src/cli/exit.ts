// Exit codes (CLI.md) and the one-line error format. A JavaScript stack trace
// never reaches the user.

import { RarError, type Phase } from "../vm/errors.js";

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

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * The exit code of a host error, by the phase it arose in (CLI.md "Output
 * and exit codes"): every host error is bad input, usage, or authority the
 * policy does not give, so nothing ran and nothing was written. A guest
 * fault or an audit divergence (exit 1) and a suspension (exit 3) are
 * outcomes of a run, never host errors.
 */
export const PHASE_EXIT: Readonly<Record<Phase, ExitCode>> = {
  usage: EXIT.usage,
  decode: EXIT.usage,
  verify: EXIT.usage,
  compile: EXIT.usage,
  image: EXIT.usage,
  policy: EXIT.usage,
  trace: EXIT.usage,
  io: EXIT.usage,
};

/**
 * A mistake in how rar was invoked: a bad flag value, a missing or surplus
 * argument, a file of the wrong kind for the command. Reported like every
 * other error, plus a hint to the command's help.
 */
export class UsageError extends RarError {
  constructor(message: string, where?: string) {
    super("usage.cli", message, where);
  }
}

/** The hint under a usage error: the help of the command, or of rar itself. */
export function usageHint(command: string | undefined): string {
  return command ? `see 'rar ${command} --help'` : "see 'rar --help'";
}

/**
 * Why a file system call failed, in words. Node's message also names the path
 * it was given (a temporary file, say); the caller names the user's path.
 */
export function fsReason(e: unknown): string {
  switch ((e as NodeJS.ErrnoException).code) {
    case "ENOENT":
      return "no such file or directory";
    case "EISDIR":
      return "is a directory";
    case "ENOTDIR":
      return "a parent is not a directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EROFS":
      return "read-only file system";
    case "ENOSPC":
      return "no space left on device";
    case "ENOTEMPTY":
      return "a non-empty directory is in the way";
    case "ENOTREG":
      return (e as Error).message;
  }
  return (e instanceof Error ? e.message : String(e)).replace(/^[A-Z]+: /, "").replace(/, \w+ '.*$/s, "");
}

/** Longest line of an error message; untrusted text (a 10 MB capability name) is cut in the middle. */
const LINE_MAX = 400;
const HEAD = 300;
const TAIL = 80;

/**
 * Control characters (and bidirectional overrides) from untrusted input
 * (a binary file's bytes in a parse error) as visible escapes, so an error
 * line cannot move the cursor, recolour the terminal or hide text. Line
 * breaks are kept only where a message may have several lines, and a line
 * longer than LINE_MAX keeps its start and end around a count of what was
 * left out.
 */
function printable(s: string, keepNewlines: boolean): string {
  return escapeControls(s, keepNewlines)
    .split("\n")
    .map((line) => (line.length <= LINE_MAX ? line : `${line.slice(0, HEAD)} … (${line.length - HEAD - TAIL} characters left out) … ${line.slice(-TAIL)}`))
    .join("\n");
}

/**
 * Control characters (but tabs, and line breaks when `keepNewlines`) and
 * bidirectional overrides as visible escapes: for rar's own text that quotes
 * untrusted input (an image's fault details, a job's reason), so it cannot
 * move the cursor, recolour or retitle the terminal, or hide text. (The
 * program's own output is written as it is: it is the program's.)
 */
export function escapeControls(s: string, keepNewlines: boolean): string {
  return s.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === "\n" && keepNewlines) return c;
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`;
  });
}

/** A usage error's two lines: the message and the hint to the help of `command`. */
export function usageLines(message: string, command: string | undefined): string {
  return `rar: error: ${printable(message, false)}\n${usageHint(command)}\n`;
}

/**
 * Turns any error into one line on stderr (a compile error adds its source
 * excerpt) and an exit code. `command` is the command that was running, for
 * the hint under a usage error.
 */
export function reportError(e: unknown, write: (s: string) => void, command?: string): ExitCode {
  if (e instanceof UsageError) {
    write(usageLines(e.message, command));
    return PHASE_EXIT[e.phase];
  }
  if (e instanceof RarError) {
    write(`rar: error: ${printable(e.message, e.phase === "compile")}\n`);
    return PHASE_EXIT[e.phase];
  }
  const msg = e instanceof Error ? e.message : String(e);
  write(`rar: internal error: ${printable(msg, false)}\n`);
  return EXIT.internal;
}
