// How `rar run` and `rar resume` answer a policy's prompts (caps/prompt.ts):
// on a terminal, one question on stderr, read back as one line of stdin
// ("y" or "yes" allows, anything else refuses). When stdin is not a
// terminal nobody can be asked: the prompt is refused (the call faults
// cap_failed) and stderr says so, naming the flag that grants it instead.

import { fdLines } from "../caps/builtins.js";
import { err } from "./output.js";

/** What the asker needs of a terminal. */
export interface Terminal {
  /** Whether stdin is a terminal someone can answer on. */
  readonly isTTY: boolean;
  write(text: string): void;
  /** One line of the answer (at most `max` characters), null at end of input; may throw for a longer one. */
  readLine(max: number): string | null;
}

/** Longest answer read, in characters. */
const ANSWER_MAX = 256;

/** The process's own terminal: stderr for the question, stdin for the answer. */
export function processTerminal(): Terminal {
  let lines: ((max?: number) => string | null) | null = null;
  return {
    isTTY: process.stdin.isTTY === true,
    write: err,
    readLine: (max) => (lines ??= fdLines(0))(max),
  };
}

/** An onPrompt for a Session: asks `term` about each prompted grant. */
export function terminalAsker(term: Terminal): (cap: string, path: string) => boolean {
  return (cap, path) => {
    if (!term.isTTY) {
      term.write(`rar: refused ${cap} for process ${path}: stdin is not a terminal to ask on (grant it with --allow ${cap})\n`);
      return false;
    }
    term.write(`rar: allow ${cap} for process ${path}? [y/N] `);
    let line: string | null;
    try {
      line = term.readLine(ANSWER_MAX);
    } catch {
      line = null;
    }
    const yes = line !== null && /^\s*y(es)?\s*$/i.test(line);
    if (line === null) term.write("\n");
    return yes;
  };
}
