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

/** The source line of `pos` and a caret under its column, indented by two spaces. */
export function excerpt(source: string | undefined, pos: Pos): string {
  if (source === undefined) return "";
  const text = source.split(/\r?\n/)[pos.line - 1];
  if (text === undefined) return "";
  const shown = text.replace(/\t/g, " ");
  const caret = " ".repeat(Math.max(0, Math.min(pos.col - 1, shown.length))) + "^";
  return `\n  ${shown}\n  ${caret}`;
}

export class CompileError extends RarError {
  /** The message without location or excerpt, e.g. "expected ';' after the expression". */
  readonly detail: string;
  readonly pos: Pos;

  constructor(pos: Pos, detail: string, source?: string) {
    super("compile", "ent", detail + excerpt(source, pos), `${pos.file}:${pos.line}:${pos.col}`);
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
