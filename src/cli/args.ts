// Parsing of command-line values: integers with underscores, budgets. A bad
// value is a UsageError naming the flag.

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

/** Program arguments: signed 32-bit integers. */
export function parseProgramArgs(args: readonly string[]): number[] {
  const p = parseCount("program argument", -0x80000000, 0x7fffffff);
  return args.map((a) => p(a));
}
