// The Ent syntax tree. The parser builds it; the checker fills in the
// annotation fields (`ty`, `ref`, `target`), which code generation reads.

import type { Pos } from "./errors.js";
import type { Type } from "./types.js";

export type TypeExpr = { readonly kind: "int"; readonly pos: Pos } | { readonly kind: "array"; readonly elem: TypeExpr; readonly pos: Pos };

// --- declarations -----------------------------------------------------------

export interface Param {
  readonly name: string;
  readonly type?: TypeExpr;
  readonly pos: Pos;
}

export interface FnDecl {
  readonly kind: "fn";
  readonly name: string;
  readonly params: readonly Param[];
  readonly result?: TypeExpr;
  readonly body: Block;
  readonly pos: Pos;
  /** Position of the closing brace: where falling off the end returns. */
  readonly endPos: Pos;
}

export interface ConstDecl {
  readonly kind: "const";
  readonly name: string;
  readonly value: Expr;
  readonly pos: Pos;
}

/** `cap NAME;` or, for capabilities the compiler does not know, `cap NAME(int, [int]) -> [int];`. */
export interface CapDecl {
  readonly kind: "cap";
  readonly name: string;
  readonly sig?: { readonly args: readonly ("int" | "array")[]; readonly result: "int" | "array" };
  readonly pos: Pos;
}

export interface ImportDecl {
  readonly kind: "import";
  readonly path: string;
  readonly alias: string;
  readonly untrusted: boolean;
  readonly pos: Pos;
}

export type Decl = FnDecl | ConstDecl | CapDecl | ImportDecl;

/** One parsed source file. */
export interface FileAst {
  readonly file: string;
  readonly decls: readonly Decl[];
}

// --- statements -------------------------------------------------------------

export interface Block {
  readonly kind: "block";
  readonly stmts: readonly Stmt[];
  readonly pos: Pos;
}

export interface LetStmt {
  readonly kind: "let";
  readonly name: string;
  readonly type?: TypeExpr;
  readonly init: Expr;
  readonly pos: Pos;
  /** Filled by the checker. */
  local?: Local;
}

export interface AssignStmt {
  readonly kind: "assign";
  readonly name: string;
  readonly value: Expr;
  readonly pos: Pos;
  local?: Local;
}

export interface IndexAssignStmt {
  readonly kind: "index_assign";
  readonly array: Expr;
  readonly index: Expr;
  readonly value: Expr;
  readonly pos: Pos;
}

export interface IfStmt {
  readonly kind: "if";
  /** `if c {..} else if c {..}`: one clause per condition, in order. */
  readonly clauses: readonly { readonly cond: Expr; readonly body: Block }[];
  readonly otherwise?: Block;
  readonly pos: Pos;
}

export interface WhileStmt {
  readonly kind: "while";
  readonly cond: Expr;
  readonly body: Block;
  readonly pos: Pos;
}

export interface ForStmt {
  readonly kind: "for";
  readonly name: string;
  readonly from: Expr;
  readonly to: Expr;
  readonly body: Block;
  readonly pos: Pos;
  local?: Local;
  /** Hidden local holding the bound, evaluated once. */
  bound?: Local;
}

export interface JumpStmt {
  readonly kind: "break" | "continue";
  readonly pos: Pos;
}

export interface ReturnStmt {
  readonly kind: "return";
  readonly value?: Expr;
  readonly pos: Pos;
}

export interface ExprStmt {
  readonly kind: "expr";
  readonly expr: Expr;
  readonly pos: Pos;
}

export type Stmt =
  | Block
  | LetStmt
  | AssignStmt
  | IndexAssignStmt
  | IfStmt
  | WhileStmt
  | ForStmt
  | JumpStmt
  | ReturnStmt
  | ExprStmt;

// --- expressions ------------------------------------------------------------

interface ExprBase {
  readonly pos: Pos;
  /** Nesting depth of the expression tree (bounded by the parser). */
  readonly depth: number;
  /** Filled by the checker. */
  ty?: Type;
}

export interface IntExpr extends ExprBase {
  readonly kind: "int";
  readonly value: number;
}

export interface StrExpr extends ExprBase {
  readonly kind: "str";
  readonly codes: readonly number[];
}

export interface ArrayExpr extends ExprBase {
  readonly kind: "array";
  readonly elems: readonly Expr[];
}

/** A name: `x`, `LIMIT`, `util.LIMIT`, `DONE`. */
export interface NameExpr extends ExprBase {
  readonly kind: "name";
  readonly path: readonly string[];
  ref?: NameRef;
}

export type UnaryOp = "-" | "!" | "~";
export type BinaryOp =
  | "||" | "&&" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "|" | "^" | "&" | "<<" | ">>" | "+" | "-" | "*" | "/" | "%";

export interface UnaryExpr extends ExprBase {
  readonly kind: "unary";
  readonly op: UnaryOp;
  readonly operand: Expr;
}

export interface BinaryExpr extends ExprBase {
  readonly kind: "binary";
  readonly op: BinaryOp;
  readonly left: Expr;
  readonly right: Expr;
}

export interface IndexExpr extends ExprBase {
  readonly kind: "index";
  readonly array: Expr;
  readonly index: Expr;
}

export interface CallExpr extends ExprBase {
  readonly kind: "call";
  readonly callee: readonly string[];
  readonly args: readonly Expr[];
  target?: CallTarget;
}

/** `f<gas, mem>(args)` with an optional `else expr`. */
export interface SandboxExpr extends ExprBase {
  readonly kind: "sandbox";
  readonly callee: readonly string[];
  readonly gas: Expr;
  readonly mem: Expr;
  readonly args: readonly Expr[];
  readonly otherwise?: Expr;
  target?: SpawnTarget;
}

/** `spawn f(args) with { gas: G, mem: M, caps: [..], trap: [..] }`. */
export interface SpawnExpr extends ExprBase {
  readonly kind: "spawn";
  readonly callee: readonly string[];
  readonly args: readonly Expr[];
  readonly gas: Expr;
  readonly mem: Expr;
  readonly caps: readonly { readonly name: string; readonly pos: Pos }[];
  readonly traps: readonly { readonly name: string; readonly pos: Pos }[];
  target?: SpawnTarget;
}

export type Expr =
  | IntExpr
  | StrExpr
  | ArrayExpr
  | NameExpr
  | UnaryExpr
  | BinaryExpr
  | IndexExpr
  | CallExpr
  | SandboxExpr
  | SpawnExpr;

// --- annotations (set by the checker) ----------------------------------------

/** A parameter or `let` variable. Slots are assigned by code generation. */
export interface Local {
  readonly name: string;
  readonly ty: Type;
  readonly pos: Pos;
  slot: number;
}

export type NameRef =
  | { readonly kind: "local"; readonly local: Local }
  | { readonly kind: "const"; readonly value: number }
  | { readonly kind: "const_str"; readonly codes: readonly number[] };

/** A function of the module being compiled. */
export interface FnInfo {
  /** Name in the module: `fib`, or `util.add` for a trusted import. */
  readonly name: string;
  readonly decl: FnDecl;
  readonly params: readonly Local[];
  readonly result: Type;
  /** Function index in the module. */
  readonly index: number;
  readonly isMain: boolean;
}

/** A function of an untrusted import, reachable only through SPAWNX. */
export interface LibFn {
  readonly name: string;
  /** Index of its entry wrapper (no parameters) in the library module. */
  readonly entry: number;
  readonly params: readonly Type[];
  readonly result: Type;
}

export type CallTarget =
  | { readonly kind: "fn"; readonly fn: FnInfo }
  | { readonly kind: "builtin"; readonly name: string }
  | { readonly kind: "cap"; readonly name: string; readonly args: readonly ("int" | "array")[]; readonly result: "int" | "array" };

export type SpawnTarget =
  | { readonly kind: "fn"; readonly fn: FnInfo }
  | { readonly kind: "lib"; readonly link: number; readonly fn: LibFn };
