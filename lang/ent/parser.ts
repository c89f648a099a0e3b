// The Ent parser: tokens -> syntax tree, by recursive descent with one
// function per precedence level. Nesting is bounded so that no input, however
// hostile, can exhaust the host stack; the work spent on the one ambiguous
// construct (`f<gas, mem>(args)` against `f < x`) is bounded too. What is
// flat in the source stays unbounded: a chain `1 + 1 + ... + 1` is parsed by
// a loop, and every later pass walks its left spine with a loop too.

import type {
  BinaryOp,
  Block,
  Decl,
  Expr,
  FileAst,
  FnDecl,
  Param,
  SpawnExpr,
  Stmt,
  TypeExpr,
  UnaryOp,
} from "./ast.js";
import { CompileError, type Pos } from "./errors.js";
import { describeToken, lex, type Token } from "./lexer.js";

/** Deepest nesting of blocks, parentheses and brackets. */
export const MAX_NESTING = 200;
/**
 * Deepest expression tree, counted as the passes after parsing recurse: the
 * left operand of a binary operator does not count (chains of any length are
 * walked by loops), a right operand, an operand, an index or an argument does.
 * Without parentheses only chains of indexing `a[0][0]...` come near it.
 */
export const MAX_EXPR_DEPTH = 1000;

// Binary operator levels, loosest first (LANGUAGE.md).
const LEVELS: readonly (readonly BinaryOp[])[] = [
  ["||"],
  ["&&"],
  ["==", "!="],
  ["<", "<=", ">", ">="],
  ["|"],
  ["^"],
  ["&"],
  ["<<", ">>"],
  ["+", "-"],
  ["*", "/", "%"],
];
/** Each binary operator's level (its index in LEVELS). */
const LEVEL_OF: ReadonlyMap<string, number> = new Map(LEVELS.flatMap((ops, level) => ops.map((op) => [op, level] as const)));
/** Levels whose operators do not chain (`a < b < c` is an error). */
const NON_ASSOC = new Set([2, 3]);
/** Gas and memory of `f<gas, mem>` are parsed above the comparisons, so `>` closes them. */
const SANDBOX_LEVEL = 4;

class Parser {
  private i = 0;
  private nesting = 0;
  private work = 0;
  private readonly workLimit: number;
  private readonly failedSandbox = new Set<number>();

  constructor(
    private readonly toks: Token[],
    private readonly source: string,
    /** Names that may start a sandboxed call (see sandboxCallees); undefined: any name. */
    private readonly callees?: SandboxCallees,
  ) {
    this.workLimit = 64 * toks.length + 100_000;
  }

  // --- token helpers -------------------------------------------------------

  private get tok(): Token {
    return this.toks[this.i];
  }

  private peek(k = 1): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)];
  }

  private advance(): Token {
    const t = this.toks[this.i];
    if (t.kind !== "eof") this.i++;
    if (++this.work > this.workLimit) throw new LimitError(t.pos, "program is too complex to parse", this.source);
    return t;
  }

  private is(text: string): boolean {
    const t = this.tok;
    return (t.kind === "op" || t.kind === "kw") && t.text === text;
  }

  private accept(text: string): boolean {
    if (!this.is(text)) return false;
    this.advance();
    return true;
  }

  private fail(pos: Pos, msg: string): never {
    throw new CompileError(pos, msg, this.source);
  }

  private expect(text: string, what: string): Token {
    if (!this.is(text)) {
      // A missing ';' is reported right after the previous token, not on the next line.
      const prev = this.i > 0 ? this.toks[this.i - 1] : undefined;
      const pos =
        text === ";" && prev && prev.pos.line < this.tok.pos.line
          ? { file: prev.pos.file, line: prev.pos.line, col: prev.pos.col + prev.text.length }
          : this.tok.pos;
      this.fail(pos, `expected '${text}' ${what}, found ${describeToken(this.tok)}`);
    }
    return this.advance();
  }

  private ident(what: string): Token {
    const t = this.tok;
    if (t.kind !== "ident") {
      const found = t.kind === "kw" ? `keyword '${t.text}'` : describeToken(t);
      this.fail(t.pos, `expected ${what}, found ${found}`);
    }
    return this.advance();
  }

  private enter(pos: Pos): void {
    if (++this.nesting > MAX_NESTING) throw new LimitError(pos, `nesting deeper than ${MAX_NESTING} levels`, this.source);
  }

  private leave(): void {
    this.nesting--;
  }

  /** Depth of a node over these children (an array, not a spread: a literal may have a million elements). */
  private depthOf(pos: Pos, parts: readonly (Expr | undefined)[], base = 0): number {
    let d = base;
    for (const p of parts) if (p && p.depth > d) d = p.depth;
    if (d + 1 > MAX_EXPR_DEPTH) throw new LimitError(pos, `expression nested deeper than ${MAX_EXPR_DEPTH} levels`, this.source);
    return d + 1;
  }

  // --- declarations --------------------------------------------------------

  file(name: string): FileAst {
    const decls: Decl[] = [];
    while (this.tok.kind !== "eof") decls.push(this.decl());
    return { file: name, decls };
  }

  private decl(): Decl {
    const t = this.tok;
    if (this.is("fn")) return this.fnDecl();
    if (this.accept("const")) {
      const name = this.ident("a constant name");
      this.expect("=", "after the constant name");
      const value = this.expr();
      this.expect(";", "after the constant");
      return { kind: "const", name: name.text, value, pos: name.pos };
    }
    if (this.accept("cap")) {
      const name = this.dotted("a capability name");
      let sig: { args: ("int" | "array")[]; result: "int" | "array" } | undefined;
      if (this.accept("(")) {
        const args: ("int" | "array")[] = [];
        if (!this.is(")")) {
          do args.push(this.capType());
          while (this.accept(","));
        }
        this.expect(")", "after the capability's argument types");
        this.expect("->", "and the capability's result type");
        sig = { args, result: this.capType() };
      }
      this.expect(";", "after the capability declaration");
      return { kind: "cap", name: name.text, sig, pos: name.pos };
    }
    if (this.accept("import")) {
      const untrusted = this.accept("untrusted");
      const path = this.tok;
      if (path.kind !== "str") this.fail(path.pos, `expected the imported file as a string, found ${describeToken(path)}`);
      this.advance();
      this.expect("as", "and a name after the imported file");
      const alias = this.ident("a name for the import");
      this.expect(";", "after the import");
      return { kind: "import", path: codeText(path.codes), alias: alias.text, untrusted, pos: t.pos };
    }
    const found = t.kind === "eof" ? "the end of the file" : describeToken(t);
    this.fail(t.pos, `expected a declaration (fn, const, cap, import), found ${found}`);
  }

  private capType(): "int" | "array" {
    const t = this.typeExpr();
    if (t.kind === "int") return "int";
    if (t.elem.kind !== "int") this.fail(t.pos, "capability arguments and results are int or [int]");
    return "array";
  }

  private dotted(what: string): Token {
    const first = this.ident(what);
    let text = first.text;
    while (this.is(".") && this.peek().kind === "ident") {
      this.advance();
      text += "." + this.advance().text;
    }
    return { ...first, text };
  }

  private fnDecl(): FnDecl {
    this.expect("fn", "");
    const name = this.ident("a function name");
    this.expect("(", "after the function name");
    const params: Param[] = [];
    if (!this.is(")")) {
      do {
        const p = this.ident("a parameter name");
        const type = this.accept(":") ? this.typeExpr() : undefined;
        params.push({ name: p.text, type, pos: p.pos });
      } while (this.accept(","));
    }
    this.expect(")", "after the parameters");
    const result = this.accept("->") ? this.typeExpr() : undefined;
    const body = this.block();
    const endPos = this.toks[this.i - 1].pos;
    return { kind: "fn", name: name.text, params, result, body, pos: name.pos, endPos };
  }

  private typeExpr(): TypeExpr {
    const t = this.tok;
    if (t.kind === "ident" && t.text === "int") {
      this.advance();
      return { kind: "int", pos: t.pos };
    }
    if (this.accept("[")) {
      this.enter(t.pos);
      const elem = this.typeExpr();
      this.expect("]", "to close the array type");
      this.leave();
      return { kind: "array", elem, pos: t.pos };
    }
    this.fail(t.pos, `expected a type (int or [T]), found ${describeToken(t)}`);
  }

  // --- statements ----------------------------------------------------------

  private block(): Block {
    const open = this.expect("{", "to open a block");
    this.enter(open.pos);
    const stmts: Stmt[] = [];
    while (!this.is("}")) {
      if (this.tok.kind === "eof") this.fail(this.tok.pos, "expected '}' to close the block, found the end of the file");
      stmts.push(this.stmt());
    }
    this.advance();
    this.leave();
    return { kind: "block", stmts, pos: open.pos };
  }

  private stmt(): Stmt {
    const t = this.tok;
    if (this.is("{")) return this.block();
    if (this.accept("let")) {
      const name = this.ident("a variable name after 'let'");
      const type = this.accept(":") ? this.typeExpr() : undefined;
      this.expect("=", "after the variable name (every let has a value)");
      const init = this.expr();
      this.expect(";", "after the let statement");
      return { kind: "let", name: name.text, type, init, pos: name.pos };
    }
    if (this.accept("if")) {
      const clauses: { cond: Expr; body: Block }[] = [];
      clauses.push({ cond: this.expr(), body: this.block() });
      let otherwise: Block | undefined;
      while (this.accept("else")) {
        if (this.accept("if")) {
          clauses.push({ cond: this.expr(), body: this.block() });
        } else {
          otherwise = this.block();
          break;
        }
      }
      return { kind: "if", clauses, otherwise, pos: t.pos };
    }
    if (this.accept("while")) {
      const cond = this.expr();
      return { kind: "while", cond, body: this.block(), pos: t.pos };
    }
    if (this.accept("for")) {
      const name = this.ident("a loop variable after 'for'");
      this.expect("in", "after the loop variable");
      const from = this.expr();
      this.expect("..", "between the bounds of the range");
      const to = this.expr();
      return { kind: "for", name: name.text, from, to, body: this.block(), pos: name.pos };
    }
    if (this.is("break") || this.is("continue")) {
      this.advance();
      this.expect(";", `after '${t.text}'`);
      return { kind: t.text as "break" | "continue", pos: t.pos };
    }
    if (this.accept("return")) {
      const value = this.is(";") ? undefined : this.expr();
      this.expect(";", "after the return statement");
      return { kind: "return", value, pos: t.pos };
    }
    const e = this.expr();
    if (this.is("=")) {
      const eq = this.advance();
      const value = this.expr();
      this.expect(";", "after the assignment");
      if (e.kind === "name" && e.path.length === 1) return { kind: "assign", name: e.path[0], value, pos: e.pos };
      if (e.kind === "index") return { kind: "index_assign", array: e.array, index: e.index, value, pos: e.pos };
      this.fail(eq.pos, "can only assign to a variable or an array element");
    }
    this.expect(";", "after the expression");
    return { kind: "expr", expr: e, pos: e.pos };
  }

  // --- expressions ---------------------------------------------------------

  expr(): Expr {
    return this.binary(0);
  }

  /** The level of a binary operator token, or -1. */
  private levelOf(t: Token): number {
    return t.kind === "op" ? (LEVEL_OF.get(t.text) ?? -1) : -1;
  }

  /**
   * Operators of level `min` or tighter, by precedence climbing: a loop over
   * the operators of one level, recursion only into a tighter right operand
   * (at most LEVELS.length deep between two parentheses).
   */
  private binary(min: number): Expr {
    let left = this.unary();
    for (;;) {
      const t = this.tok;
      const level = this.levelOf(t);
      if (level < min) return left;
      this.advance();
      const right = this.binary(level + 1);
      // The left operand is walked by a loop in later passes: it adds no depth (see MAX_EXPR_DEPTH).
      const depth = Math.max(left.depth, this.depthOf(t.pos, [right]));
      left = { kind: "binary", op: t.text as BinaryOp, left, right, pos: t.pos, depth };
      if (NON_ASSOC.has(level)) {
        const n = this.tok;
        if (this.levelOf(n) === level) this.fail(n.pos, `comparisons do not chain: write 'a ${t.text} b && b ${n.text} c'`);
      }
    }
  }

  private unary(): Expr {
    const t = this.tok;
    if (t.kind === "op" && (t.text === "-" || t.text === "!" || t.text === "~")) {
      this.advance();
      this.enter(t.pos);
      const operand = this.unary();
      this.leave();
      // A literal's minus is part of the literal: -2147483648 is an int.
      if (t.text === "-" && operand.kind === "int" && this.toks[this.i - 1].kind === "int")
        return { kind: "int", value: -operand.value | 0, pos: t.pos, depth: 1 };
      return { kind: "unary", op: t.text as UnaryOp, operand, pos: t.pos, depth: this.depthOf(t.pos, [operand]) };
    }
    return this.postfix(this.primary());
  }

  private postfix(e: Expr): Expr {
    let r = e;
    while (this.is("[")) {
      const open = this.advance();
      this.enter(open.pos);
      const index = this.expr();
      this.expect("]", "to close the index");
      this.leave();
      r = { kind: "index", array: r, index, pos: open.pos, depth: this.depthOf(open.pos, [r, index]) };
    }
    return r;
  }

  private args(what: string): Expr[] {
    const open = this.expect("(", what);
    this.enter(open.pos);
    const args: Expr[] = [];
    if (!this.is(")")) {
      do args.push(this.expr());
      while (this.accept(","));
    }
    this.expect(")", "to close the argument list");
    this.leave();
    return args;
  }

  private primary(): Expr {
    const t = this.tok;
    switch (t.kind) {
      case "int":
        this.advance();
        return { kind: "int", value: t.value, pos: t.pos, depth: 1 };
      case "str":
        this.advance();
        return { kind: "str", codes: t.codes, pos: t.pos, depth: 1 };
      case "ident":
        return this.named();
      case "kw":
        if (t.text === "true" || t.text === "false") {
          this.advance();
          return { kind: "int", value: t.text === "true" ? 1 : 0, pos: t.pos, depth: 1 };
        }
        if (t.text === "spawn") return this.spawn();
        break;
      case "op":
        if (t.text === "(") {
          this.advance();
          this.enter(t.pos);
          const e = this.expr();
          this.expect(")", "to close the parenthesis");
          this.leave();
          return e;
        }
        if (t.text === "[") {
          this.advance();
          this.enter(t.pos);
          const elems: Expr[] = [];
          if (!this.is("]")) {
            do elems.push(this.expr());
            while (this.accept(","));
          }
          this.expect("]", "to close the array literal");
          this.leave();
          return { kind: "array", elems, pos: t.pos, depth: this.depthOf(t.pos, elems) };
        }
        break;
      default:
        break;
    }
    const found = t.kind === "kw" ? `keyword '${t.text}'` : describeToken(t);
    this.fail(t.pos, `expected an expression, found ${found}`);
  }

  private path(): { path: string[]; pos: Pos } {
    const first = this.ident("a name");
    const path = [first.text];
    while (this.is(".")) {
      this.advance();
      path.push(this.ident("a name after '.'").text);
    }
    return { path, pos: first.pos };
  }

  private named(): Expr {
    const { path, pos } = this.path();
    if (this.is("(")) {
      const args = this.args("");
      return { kind: "call", callee: path, args, pos, depth: this.depthOf(pos, args) };
    }
    if (this.is("<") && (this.callees === undefined || this.callees.may(path))) {
      const sandbox = this.trySandbox(path, pos);
      if (sandbox) return sandbox;
    }
    return { kind: "name", path, pos, depth: 1 };
  }

  /** `f<gas, mem>(args) [else e]`, or undefined (tokens untouched) when this `<` is a comparison. */
  private trySandbox(callee: string[], pos: Pos): Expr | undefined {
    const start = this.i;
    if (this.failedSandbox.has(start)) return undefined;
    const nesting = this.nesting;
    let gas: Expr;
    let mem: Expr;
    try {
      this.advance();
      this.enter(pos);
      gas = this.binary(SANDBOX_LEVEL);
      if (!this.accept(",")) throw new Backtrack();
      mem = this.binary(SANDBOX_LEVEL);
      this.leave();
      if (!this.is(">") || !(this.peek().kind === "op" && this.peek().text === "(")) throw new Backtrack();
      this.advance();
    } catch (e) {
      if (!(e instanceof Backtrack) && !(e instanceof CompileError)) throw e;
      if (e instanceof LimitError) throw e;
      this.failedSandbox.add(start);
      this.i = start;
      this.nesting = nesting;
      return undefined;
    }
    const args = this.args("");
    let otherwise: Expr | undefined;
    if (this.accept("else")) {
      // `else expr` (LANGUAGE.md): a whole expression, as far right as it goes, like the last branch of a conditional.
      this.enter(pos);
      otherwise = this.expr();
      this.leave();
    }
    return {
      kind: "sandbox",
      callee,
      gas,
      mem,
      args,
      otherwise,
      pos,
      depth: this.depthOf(pos, args, this.depthOf(pos, [gas, mem, otherwise]) - 1),
    };
  }

  private spawn(): SpawnExpr {
    const kw = this.advance();
    const { path, pos } = this.path();
    const args = this.args("after the spawned function's name");
    this.expect("with", "after the spawned call (spawn f(x) with { gas: G, mem: M })");
    const open = this.expect("{", "after 'with'");
    this.enter(open.pos);
    let gas: Expr | undefined;
    let mem: Expr | undefined;
    let caps: { name: string; pos: Pos }[] = [];
    let traps: { name: string; pos: Pos }[] = [];
    const seen = new Set<string>();
    if (!this.is("}")) {
      do {
        if (this.is("}")) break;
        const key = this.ident("gas, mem, caps or trap");
        if (seen.has(key.text)) this.fail(key.pos, `'${key.text}' given twice`);
        seen.add(key.text);
        this.expect(":", `after '${key.text}'`);
        switch (key.text) {
          case "gas":
            gas = this.expr();
            break;
          case "mem":
            mem = this.expr();
            break;
          case "caps":
          case "trap": {
            const list = this.capList();
            if (key.text === "caps") caps = list;
            else traps = list;
            break;
          }
          default:
            this.fail(key.pos, `unknown spawn option '${key.text}' (expected gas, mem, caps or trap)`);
        }
      } while (this.accept(","));
    }
    const close = this.expect("}", "to close the spawn options");
    this.leave();
    if (!gas) this.fail(close.pos, "spawn needs a gas limit (gas: N)");
    if (!mem) this.fail(close.pos, "spawn needs a memory limit (mem: N)");
    return {
      kind: "spawn",
      callee: path,
      args,
      gas,
      mem,
      caps,
      traps,
      pos: kw.pos,
      depth: this.depthOf(kw.pos, args, this.depthOf(kw.pos, [gas, mem]) - 1),
    };
  }

  private capList(): { name: string; pos: Pos }[] {
    this.expect("[", "to open the list of capabilities");
    const list: { name: string; pos: Pos }[] = [];
    if (!this.is("]")) {
      do {
        const n = this.dotted("a capability name");
        list.push({ name: n.text, pos: n.pos });
      } while (this.accept(","));
    }
    this.expect("]", "to close the list of capabilities");
    return list;
  }
}

class Backtrack extends Error {}

/** Code points as a string, one at a time (spreading them into fromCodePoint overflows for long ones). */
function codeText(codes: readonly number[]): string {
  let s = "";
  for (const c of codes) s += String.fromCodePoint(c);
  return s;
}

/** A resource limit of the parser: never a reason to backtrack. */
class LimitError extends CompileError {}

/** Which paths may be the callee of `f<gas, mem>(args)`. */
interface SandboxCallees {
  may(path: readonly string[]): boolean;
}

/**
 * The names of a file that can be sandboxed: its functions (a name) and its
 * imports (a path through one), gathered from the tokens before parsing, so
 * declaration order does not matter. `fn` appears only in declarations and
 * `as` only in imports, so a scan of token pairs finds them all.
 */
function sandboxCallees(toks: readonly Token[]): SandboxCallees {
  const fns = new Set<string>();
  const imports = new Set<string>();
  for (let i = 0; i + 1 < toks.length; i++) {
    const t = toks[i];
    const next = toks[i + 1];
    if (t.kind !== "kw" || next.kind !== "ident") continue;
    if (t.text === "fn") fns.add(next.text);
    else if (t.text === "as") imports.add(next.text);
  }
  return { may: (path) => (path.length === 1 ? fns.has(path[0]) : imports.has(path[0])) };
}

/**
 * Parses one Ent source file. Throws a CompileError on the first syntax error.
 *
 * `a < b, c > (d)` reads as a sandboxed call `a<b, c>(d)` only when `a` can
 * be one (a function of the file, or a path through one of its imports):
 * otherwise, e.g. in `print(x < y, y > (z))` with x a variable, it is two
 * comparisons. Should that reading not parse, the file is parsed again
 * reading every such `<` as a sandboxed call when it can, so a sandboxed call
 * of a name that is no function is reported as such ("unknown function").
 */
export function parse(source: string, file: string): FileAst {
  const toks = lex(source, file);
  try {
    return new Parser(toks, source, sandboxCallees(toks)).file(file);
  } catch (e) {
    if (!(e instanceof CompileError) || e instanceof LimitError) throw e;
    return new Parser(toks, source).file(file);
  }
}

/** Parses a lone expression (tests and tools). */
export function parseExpr(source: string, file = "<expr>"): Expr {
  const p = new Parser(lex(source, file), source);
  return p.expr();
}
