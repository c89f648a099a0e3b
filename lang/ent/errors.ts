// Compile errors of Ent: a RarError of phase "compile" whose message names
// file:line:col, says what was expected, and shows the source line with a
// caret under the column. Every compiler stage throws only these.

import { RarError } from "../../src/vm/errors.js";

/** A position in a source file: 1-based line and column. */
export interface Pos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** Characters of a source line shown at most; a longer line is cut to a window around the column. */
const EXCERPT_WIDTH = 100;

/** Line `line` (1-based) of `source`, without its line break; undefined past the end. */
function lineOf(source: string, line: number): string | undefined {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const nl = source.indexOf("\n", start);
    if (nl < 0) return undefined;
    start = nl + 1;
  }
  const nl = source.indexOf("\n", start);
  const text = source.slice(start, nl < 0 ? source.length : nl);
  return text.endsWith("\r") ? text.slice(0, -1) : text;
}

/**
 * The source line of `pos` and a caret under its column, indented by two
 * spaces. A line longer than EXCERPT_WIDTH (a generated million-element
 * literal) is shown as a window around the column, cut ends marked with "…",
 * so the message stays a few short lines.
 */
export function excerpt(source: string | undefined, pos: Pos): string {
  if (source === undefined) return "";
  const text = lineOf(source, pos.line);
  if (text === undefined) return "";
  let col = Math.max(0, Math.min(pos.col - 1, text.length));
  let shown = text;
  if (text.length > EXCERPT_WIDTH) {
    const from = Math.max(0, Math.min(col - EXCERPT_WIDTH / 2, text.length - EXCERPT_WIDTH));
    const to = from + EXCERPT_WIDTH;
    shown = `${from > 0 ? "…" : ""}${text.slice(from, to)}${to < text.length ? "…" : ""}`;
    col = col - from + (from > 0 ? 1 : 0);
  }
  shown = shown.replace(/\t/g, " ");
  // The caret is placed by code points (a character beyond U+FFFF is two UTF-16 units of the column).
  return `\n  ${shown}\n  ${" ".repeat([...shown.slice(0, col)].length)}^`;
}

export class CompileError extends RarError {
  /** The message without location or excerpt, e.g. "expected ';' after the expression". */
  readonly detail: string;
  readonly pos: Pos;

  constructor(pos: Pos, detail: string, source?: string) {
    super("compile.ent", detail + excerpt(source, pos), `${pos.file}:${pos.line}:${pos.col}`);
    this.name = "CompileError";
    this.detail = detail;
    this.pos = pos;
  }
}

/** Source texts by file name, so errors raised deep in the compiler can show the line. */
export class Sources {
  private readonly texts = new Map<string, string>();

  set(file: string, text: string): void {
    this.texts.set(file, text);
  }

  get(file: string): string | undefined {
    return this.texts.get(file);
  }

  entries(): Map<string, string> {
    return new Map(this.texts);
  }

  error(pos: Pos, detail: string): CompileError {
    return new CompileError(pos, detail, this.texts.get(pos.file));
  }
}
