// The Ent lexer: source text -> tokens with positions. Integers are i32
// (literals up to 0xFFFF_FFFF wrap), strings are arrays of code points,
// identifiers are ASCII or Unicode (UAX #31, not normalized).
// Characters are classified by code (no per-character regex or substring):
// generated sources with a million-element literal lex in well under a second.

import { CompileError, type Pos } from "./errors.js";

export type TokenKind = "int" | "str" | "ident" | "kw" | "op" | "eof";

export interface Token {
  readonly kind: TokenKind;
  /** Keyword, operator or identifier text; the literal text for int and str. */
  readonly text: string;
  /** int: the i32 value. */
  readonly value: number;
  /** str: the code points. */
  readonly codes: readonly number[];
  readonly pos: Pos;
}

export const KEYWORDS: ReadonlySet<string> = new Set([
  "fn",
  "let",
  "if",
  "else",
  "while",
  "for",
  "in",
  "break",
  "continue",
  "return",
  "cap",
  "import",
  "untrusted",
  "as",
  "const",
  "true",
  "false",
  "spawn",
  "with",
]);

// Two-character operators win over one-character ones: `<<` over `<`, `..` over `.`.
const OPERATORS_2: ReadonlySet<string> = new Set(["<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "->", ".."]);
/** First characters of the two-character operators (only these need a look at the next one). */
const STARTS_2: ReadonlySet<number> = new Set([...OPERATORS_2].map((o) => o.charCodeAt(0)));
const OPERATORS_1: ReadonlySet<string> = new Set([
  "+", "-", "*", "/", "%", "&", "|", "^", "~", "!", "<", ">", "=",
  "(", ")", "{", "}", "[", "]", ",", ";", ":", ".",
]);

const NO_CODES: readonly number[] = [];

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isHexDigit = (c: number): boolean => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
/** A-Z, a-z, _ */
const isIdentStart = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
const isIdentPart = (c: number): boolean => isIdentStart(c) || isDigit(c);
// Beyond ASCII, identifiers are Unicode's (UAX #31): a letter starts one
// (ID_Start), letters, digits and combining marks continue it (ID_Continue).
// Only a character past 0x7F pays for the property test.
const UNI_START = /^\p{ID_Start}$/u;
const UNI_PART = /^\p{ID_Continue}$/u;
/** The length in UTF-16 units of the identifier character at `i` (0 if there is none); `start`: whether it may begin one. */
function identChar(source: string, i: number, start: boolean): number {
  const c = source.charCodeAt(i);
  if (c < 0x80) return (start ? isIdentStart(c) : isIdentPart(c)) ? 1 : 0;
  const cp = source.codePointAt(i) as number;
  const ch = String.fromCodePoint(cp);
  return (start ? UNI_START : UNI_PART).test(ch) ? ch.length : 0;
}
const UNDERSCORE = 0x5f;

/** The largest literal accepted; larger values do not fit 32 bits. */
const MAX_LITERAL = 0xffffffff;

export function describeToken(t: Token): string {
  switch (t.kind) {
    case "eof":
      return "the end of the file";
    case "int":
      return `number ${t.text}`;
    case "str":
      return "a string";
    case "ident":
      return `'${t.text}'`;
    default:
      return `'${t.text}'`;
  }
}

export function lex(source: string, file: string): Token[] {
  const toks: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const n = source.length;
  const posAt = (at: number): Pos => ({ file, line, col: at - lineStart + 1 });
  const fail = (at: number, msg: string): never => {
    throw new CompileError(posAt(at), msg, source);
  };
  const push = (kind: TokenKind, text: string, at: number, value = 0, codes: readonly number[] = NO_CODES): void => {
    toks.push({ kind, text, value, codes, pos: posAt(at) });
  };

  while (i < n) {
    const code = source.charCodeAt(i);
    if (code === 0x0a) {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (code === 0x20 || code === 0x09 || code === 0x0d) {
      i++;
      continue;
    }
    const c = source[i];
    if (c === "/" && source[i + 1] === "/") {
      while (i < n && source[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && source[i + 1] === "*") {
      const startLine = line;
      const startCol = i - lineStart + 1;
      i += 2;
      for (;;) {
        if (i >= n) throw new CompileError({ file, line: startLine, col: startCol }, "unterminated block comment", source);
        if (source[i] === "*" && source[i + 1] === "/") {
          i += 2;
          break;
        }
        if (source[i] === "\n") {
          line++;
          lineStart = i + 1;
        }
        i++;
      }
      continue;
    }
    if (isDigit(code)) {
      const start = i;
      let digits = "";
      let value: number;
      if (c === "0" && (source[i + 1] === "x" || source[i + 1] === "X")) {
        i += 2;
        for (let d = source.charCodeAt(i); i < n && (isHexDigit(d) || d === UNDERSCORE); d = source.charCodeAt(++i))
          if (d !== UNDERSCORE) digits += source[i];
        if (digits.length === 0) fail(start, "hexadecimal literal needs digits after 0x");
        value = digits.length > 8 ? Infinity : parseInt(digits, 16);
      } else {
        const from = i;
        let plain = true;
        for (let d = code; i < n && (isDigit(d) || d === UNDERSCORE); d = source.charCodeAt(++i)) if (d === UNDERSCORE) plain = false;
        const text = source.slice(from, i);
        digits = plain ? text : text.replace(/_/g, "");
        value = digits.length > 10 ? Infinity : Number(digits);
      }
      if (i < n && identChar(source, i, true) > 0) fail(i, `unexpected character '${String.fromCodePoint(source.codePointAt(i) as number)}' in a number`);
      if (value > MAX_LITERAL) fail(start, "integer literal does not fit in 32 bits");
      push("int", source.slice(start, i), start, value | 0);
      continue;
    }
    if (isIdentStart(code) || (code >= 0x80 && identChar(source, i, true) > 0)) {
      const start = i;
      for (let w = identChar(source, i, true); w > 0 && i < n; w = i < n ? identChar(source, i, false) : 0) i += w;
      const text = source.slice(start, i);
      push(KEYWORDS.has(text) ? "kw" : "ident", text, start);
      continue;
    }
    if (c === '"') {
      const start = i;
      const codes: number[] = [];
      i++;
      for (;;) {
        if (i >= n || source[i] === "\n") fail(start, "unterminated string literal");
        const ch = source.codePointAt(i) as number;
        if (ch === 0x22) {
          i++;
          break;
        }
        if (ch === 0x5c) {
          const e = source[i + 1];
          switch (e) {
            case "n":
              codes.push(10);
              i += 2;
              break;
            case "t":
              codes.push(9);
              i += 2;
              break;
            case "r":
              codes.push(13);
              i += 2;
              break;
            case "0":
              codes.push(0);
              i += 2;
              break;
            case '"':
              codes.push(0x22);
              i += 2;
              break;
            case "\\":
              codes.push(0x5c);
              i += 2;
              break;
            case "u": {
              const m = /^\\u\{([0-9a-fA-F]{1,6})\}/.exec(source.slice(i, i + 10));
              if (!m) fail(i, "bad unicode escape (expected \\u{HEX})");
              const cp = parseInt((m as RegExpExecArray)[1], 16);
              if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail(i, "unicode escape is not a valid code point");
              codes.push(cp);
              i += (m as RegExpExecArray)[0].length;
              break;
            }
            default:
              fail(i, `unknown escape '\\${e ?? ""}' (expected \\n, \\t, \\r, \\0, \\", \\\\ or \\u{...})`);
          }
          continue;
        }
        codes.push(ch);
        i += ch > 0xffff ? 2 : 1;
      }
      push("str", source.slice(start, i), start, 0, codes);
      continue;
    }
    const two = STARTS_2.has(code) ? source.slice(i, i + 2) : "";
    const op = OPERATORS_2.has(two) ? two : OPERATORS_1.has(c) ? c : undefined;
    if (op === undefined) {
      const cp = source.codePointAt(i) as number;
      fail(i, `unexpected character '${String.fromCodePoint(cp)}'`);
    }
    push("op", op as string, i);
    i += (op as string).length;
  }
  push("eof", "", i);
  return toks;
}
