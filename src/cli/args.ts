// Parsing of command-line values: integers with underscores, budgets, program
// arguments. A bad value is a UsageError naming the flag.

import { UsageError } from "./exit.js";

/** An integer flag value like `10_000_000`, within [min, max]. */
export function parseCount(what: string, min = 0, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text: string) => {
    const clean = text.replace(/_/g, "");
    if (!/^-?\d+$/.test(clean)) throw new UsageError(`${what}: '${text}' is not an integer`);
    const v = Number(clean);
    if (!Number.isSafeInteger(v) || v < min || v > max) throw new UsageError(`${what}: ${text} is out of range ${min}..${max}`);
    return v === 0 ? 0 : v; // "-0" is 0
  };
}

/** A program argument that is an integer: decimal, underscores between digits, a signed 32-bit value. */
function intArg(text: string): number | null {
  if (!/^-?\d+(_\d+)*$/.test(text)) return null;
  const v = Number(text.replace(/_/g, ""));
  return v >= -0x80000000 && v <= 0x7fffffff ? v | 0 : null;
}

/**
 * Program arguments (spec/language.md "Program arguments"): integers when
 * every one is an integer, else every one as its text (main(args: [[int]])).
 */
export function parseProgramArgs(args: readonly string[]): number[] | string[] {
  const ints = args.map(intArg);
  return ints.every((v) => v !== null) ? (ints as number[]) : [...args];
}
