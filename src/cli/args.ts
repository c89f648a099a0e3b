// Parsing of command-line values: integers with underscores, budgets, program
// arguments. A bad value is a UsageError naming the flag.

import { UsageError } from "./exit.js";

/** An integer flag value like `10_000_000`, within [min, max]. */
export function parseCount(what: string, min = 0, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text: string) => {
    // Underscores only between digits (10_000_000), as in program arguments and Ent literals.
    if (!/^-?\d+(_\d+)*$/.test(text)) throw new UsageError(`${what}: '${text}' is not an integer`);
    const v = Number(text.replace(/_/g, ""));
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
 * every one is an integer; else, for a program whose main takes text
 * (`takesText`: an Ent main(args: [[int]])), every one as its text. A program
 * whose main takes integers (or says nothing: assembly) given anything else
 * is a usage error naming the argument, as before text arguments existed.
 */
export function parseProgramArgs(args: readonly string[], takesText = false): number[] | string[] {
  const ints = args.map(intArg);
  const bad = ints.findIndex((v) => v === null);
  if (bad < 0) return ints as number[];
  if (takesText) return [...args];
  const text = args[bad].slice(0, 100);
  if (/^-?\d+(_\d+)*$/.test(args[bad])) throw new UsageError(`program argument: ${text} is out of range (a signed 32-bit integer, -2147483648..2147483647)`);
  throw new UsageError(`program argument: '${text}' is not an integer`);
}

/** Whether a module's main takes text arguments: an Ent main(args: [[int]]) carries the runtime's $text_args. */
export function takesTextArgs(module: { readonly functions: readonly { readonly name: string }[] }): boolean {
  return module.functions.some((f) => f.name === "$text_args");
}
