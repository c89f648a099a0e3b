// Random Ent programs for the fuzzer: typed, so that most of them get through
// the checker into code generation and then run (a few wrong on purpose), and
// token soups and token-level mutations, which mostly stop in the lexer,
// parser or checker. Nesting is kept moderate (expressions at most ~6 deep,
// blocks at most 4): the compiler's limits on deep nesting are tested
// elsewhere, and this fuzzer looks for other failures.

import { StatusCode } from "../../src/vm/status.js";
import type { Rng } from "./rng.js";

export type Ty = "int" | "arr" | "arr2";

interface Sig {
  name: string;
  params: Ty[];
  ret: Ty;
}

export interface EntProgram {
  main: string;
  /** Other files the main one imports, by path. */
  files: Record<string, string>;
}

const MAX_EXPR = 5;
const MAX_BLOCK = 4;

const CAPS_DECLARABLE = ["clock.now", "random.u32", "kv.get", "kv.put", "io.read", "geo.lookup"];
const BIN_OPS = ["||", "&&", "==", "!=", "<", "<=", ">", ">=", "|", "^", "&", "<<", ">>", "+", "-", "*", "/", "%"];
/** The status constants Ent programs name (the status table, src/vm/status.ts). */
const STATUS = Object.keys(StatusCode);

function tyText(t: Ty): string {
  return t === "int" ? "int" : t === "arr" ? "[int]" : "[[int]]";
}

function intLiteral(rng: Rng): string {
  switch (rng.below(8)) {
    case 0:
      return rng.pick(["2147483647", "0x7FFF_FFFF", "0xFFFFFFFF", "0x80000000", "(-2147483648)", "1_000_000", "0", "true", "false"]);
    case 1:
      return `0x${rng.u32().toString(16)}`;
    case 2:
      return String(rng.int(0, 100_000));
    default:
      return String(rng.int(0, 12));
  }
}

const ESCAPES = ["\\n", "\\t", '\\"', "\\\\", "\\u{1F600}", "\\u{0}", "\\u{10FFFF}", "é", "ü", "😀", "a", "b", " "];

function strLiteral(rng: Rng): string {
  let s = "";
  const n = rng.size(12);
  for (let i = 0; i < n; i++) s += rng.chance(0.3) ? rng.pick(ESCAPES) : String.fromCharCode(rng.int(0x20, 0x7e)).replace(/["\\]/, "x");
  return `"${s}"`;
}

class Scope {
  readonly vars: { name: string; ty: Ty }[] = [];
  constructor(readonly parent: Scope | null) {}
  find(ty: Ty, rng: Rng): string | undefined {
    const all: string[] = [];
    for (let s: Scope | null = this; s; s = s.parent) for (const v of s.vars) if (v.ty === ty) all.push(v.name);
    return all.length > 0 ? rng.pick(all) : undefined;
  }
}

/** One file's generator: functions with known signatures, then their bodies. */
class FileGen {
  private scope = new Scope(null);
  private fresh = 0;
  private loops = 0;
  private blocks = 0;
  private ret: Ty = "int";
  readonly sigs: Sig[] = [];
  /** Capabilities declared with `cap`, callable by name. */
  private readonly caps: string[] = [];
  private readonly consts: { name: string; ty: Ty }[] = [];
  /** Trusted imports (called directly) and untrusted ones (only through sandboxes), by alias. */
  private readonly trusted: { alias: string; sigs: Sig[] }[] = [];
  private readonly untrusted: { alias: string; sigs: Sig[] }[] = [];

  constructor(
    private readonly rng: Rng,
    private readonly isMain: boolean,
  ) {}

  addImport(alias: string, sigs: Sig[], untrusted: boolean): void {
    (untrusted ? this.untrusted : this.trusted).push({ alias, sigs });
  }

  private ty(): Ty {
    return this.rng.pick(["int", "int", "int", "arr", "arr", "arr2"] as const);
  }

  private name(): string {
    return `v${this.fresh++}`;
  }

  // --- expressions ---------------------------------------------------------

  expr(ty: Ty, depth: number): string {
    const rng = this.rng;
    if (depth >= MAX_EXPR || rng.chance(0.25)) return this.leaf(ty);
    if (ty === "int") return this.intExpr(depth + 1);
    if (ty === "arr") return this.arrExpr(depth + 1);
    return this.arr2Expr(depth + 1);
  }

  private leaf(ty: Ty): string {
    const rng = this.rng;
    const v = this.scope.find(ty, rng);
    if (v && rng.chance(0.7)) return v;
    const c = this.consts.filter((x) => x.ty === ty);
    if (c.length > 0 && rng.chance(0.2)) return rng.pick(c).name;
    if (ty === "int") return rng.chance(0.1) ? rng.pick(STATUS) : intLiteral(rng);
    if (ty === "arr") return rng.chance(0.5) ? strLiteral(rng) : `[${Array.from({ length: rng.size(4) + 1 }, () => intLiteral(rng)).join(", ")}]`;
    return `[${Array.from({ length: rng.size(3) + 1 }, () => `[${intLiteral(rng)}]`).join(", ")}]`;
  }

  private args(params: readonly Ty[], depth: number): string {
    return params.map((p) => this.expr(p, depth)).join(", ");
  }

  /** A call of a function of this file or a trusted import returning ty, if any. */
  private call(ty: Ty, depth: number): string | undefined {
    const options: string[] = [];
    for (const s of this.sigs) if (s.ret === ty && s.name !== "main") options.push(s.name);
    for (const imp of this.trusted) for (const s of imp.sigs) if (s.ret === ty) options.push(`${imp.alias}.${s.name}`);
    if (options.length === 0) return undefined;
    const callee = this.rng.pick(options);
    return `${callee}(${this.args(this.sigOf(callee).params, depth)})`;
  }

  private sigOf(path: string): Sig {
    const [a, b] = path.split(".");
    if (b === undefined) return this.sigs.find((s) => s.name === a) as Sig;
    const imp = [...this.trusted, ...this.untrusted].find((i) => i.alias === a);
    return imp?.sigs.find((s) => s.name === b) as Sig;
  }

  /** `f<gas, mem>(args) [else e]` over a function of this file or an import returning ty. */
  private sandbox(ty: Ty, depth: number): string | undefined {
    const options: string[] = [];
    for (const s of this.sigs) if (s.ret === ty && s.name !== "main") options.push(s.name);
    for (const imp of [...this.trusted, ...this.untrusted]) for (const s of imp.sigs) if (s.ret === ty) options.push(`${imp.alias}.${s.name}`);
    if (options.length === 0) return undefined;
    const callee = this.rng.pick(options);
    const gas = this.rng.chance(0.8) ? String(this.rng.pick([0, 10, 100, 1000, 50_000])) : `(${this.expr("int", MAX_EXPR - 1)})`;
    const mem = this.rng.chance(0.8) ? String(this.rng.pick([0, 20, 64, 1000, 4096])) : `(${this.expr("int", MAX_EXPR - 1)})`;
    const otherwise = this.rng.chance(0.7) ? ` else ${this.leaf(ty)}` : "";
    return `(${callee}<${gas}, ${mem}>(${this.args(this.sigOf(callee).params, depth)})${otherwise})`;
  }

  private spawn(depth: number): string | undefined {
    const options: string[] = [];
    for (const s of this.sigs) if (s.name !== "main") options.push(s.name);
    for (const imp of [...this.trusted, ...this.untrusted]) for (const s of imp.sigs) options.push(`${imp.alias}.${s.name}`);
    if (options.length === 0) return undefined;
    const rng = this.rng;
    const callee = rng.pick(options);
    const opts = [`gas: ${rng.pick([0, 50, 500, 20_000])}`, `mem: ${rng.pick([0, 30, 200, 4096])}`];
    if (this.isMain && rng.chance(0.3)) opts.push("caps: [io.print]");
    if (rng.chance(0.3)) opts.push(`trap: [${rng.pick(["clock.now", "random.u32", "io.print", "kv.get"])}]`);
    return `spawn ${callee}(${this.args(this.sigOf(callee).params, depth)}) with { ${opts.join(", ")} }`;
  }

  private intExpr(depth: number): string {
    const rng = this.rng;
    const x = (t: Ty = "int"): string => this.expr(t, depth);
    switch (rng.weighted([30, 8, 6, 6, 5, 4, 3, 3, 3, 2, 2, 2, 2, 1, 1])) {
      case 0: {
        const op = rng.pick(BIN_OPS);
        // Mostly parenthesised; bare operands test precedence (and comparison chains, an error).
        return rng.chance(0.95) ? `(${x()} ${op} ${x()})` : `${x()} ${op} ${x()}`;
      }
      case 1:
        return `${rng.pick(["-", "!", "~"])}${rng.chance(0.8) ? `(${x()})` : x()}`;
      case 2:
        return `len(${x(rng.chance(0.8) ? "arr" : "arr2")})`;
      case 3:
        return `${this.indexable("arr", depth)}[${x()}]`;
      case 4:
        return this.call("int", depth) ?? this.leaf("int");
      case 5:
        return this.sandbox("int", depth) ?? this.leaf("int");
      case 6:
        return this.spawn(depth) ?? this.leaf("int");
      case 7:
        return `${rng.pick(["resume", "status", "result", "kill"])}(${x()})`;
      case 8:
        return rng.pick(["gas_left()", "mem_left()"]);
      case 9: {
        const cap = this.caps.filter((c) => c === "clock.now" || c === "random.u32");
        return cap.length > 0 ? `${rng.pick(cap)}()` : this.leaf("int");
      }
      case 10:
        return `refuel(${x()}, ${rng.pick(["100", "0", "-1", x()])}, ${rng.pick(["0", "64", x()])})`;
      case 11:
        return `restore(${x("arr")})`;
      case 12:
        return `answer(${x()}, ${rng.chance(0.7) ? x() : x("arr")})`;
      case 13:
        return `yield(${x(this.ty())})`;
      default:
        return `print(${Array.from({ length: rng.below(3) }, () => x(this.ty())).join(", ")})`;
    }
  }

  /** An array expression that can be indexed to give `of`'s elements. */
  private indexable(of: "arr" | "arr2", depth: number): string {
    const e = this.expr(of, depth);
    return /^[\w.]+$/.test(e) ? e : `(${e})`;
  }

  private arrExpr(depth: number): string {
    const rng = this.rng;
    const x = (t: Ty = "int"): string => this.expr(t, depth);
    switch (rng.weighted([10, 6, 6, 4, 4, 4, 3, 2, 2, 2])) {
      case 0:
        return `[${Array.from({ length: rng.size(5) }, () => x()).join(", ")}]`;
      case 1:
        return strLiteral(rng);
      case 2:
        return `array(${rng.chance(0.7) ? String(rng.int(-1, 20)) : x()})`;
      case 3:
        return `copy(${x("arr")})`;
      case 4:
        return `${this.indexable("arr2", depth)}[${x()}]`;
      case 5:
        return this.call("arr", depth) ?? this.leaf("arr");
      case 6:
        return this.sandbox("arr", depth) ?? this.leaf("arr");
      case 7:
        return `${rng.pick(["snapshot", "request"])}(${x()})`;
      case 8: {
        const cap = this.caps.filter((c) => c === "kv.get" || c === "io.read");
        if (cap.length === 0) return this.leaf("arr");
        return cap[0] === "kv.get" ? `kv.get(${x("arr")})` : "io.read()";
      }
      default:
        return `result(${x()})`;
    }
  }

  private arr2Expr(depth: number): string {
    const rng = this.rng;
    const x = (t: Ty): string => this.expr(t, depth);
    switch (rng.weighted([6, 3, 3, 2, 2])) {
      case 0:
        return `[${Array.from({ length: rng.size(4) + 1 }, () => x("arr")).join(", ")}]`;
      case 1:
        return this.call("arr2", depth) ?? this.leaf("arr2");
      case 2:
        return `request_args(${x("int")})`;
      case 3:
        return `copy(${x("arr2")})`;
      default:
        return this.sandbox("arr2", depth) ?? this.leaf("arr2");
    }
  }

  // --- statements ----------------------------------------------------------

  private block(out: string[], indent: string, n: number): void {
    this.scope = new Scope(this.scope);
    this.blocks++;
    for (let i = 0; i < n; i++) this.stmt(out, indent);
    this.blocks--;
    this.scope = this.scope.parent as Scope;
  }

  private stmtCount(): number {
    return this.blocks >= MAX_BLOCK ? this.rng.below(2) : this.rng.size(5) + (this.blocks === 0 ? 1 : 0);
  }

  private stmt(out: string[], ind: string): void {
    const rng = this.rng;
    const deep = this.blocks >= MAX_BLOCK;
    const k = rng.weighted([10, 8, 4, deep ? 0 : 4, deep ? 0 : 3, deep ? 0 : 3, this.loops > 0 ? 2 : 0, 2, 4, 4, 1, deep ? 0 : 1, deep ? 0 : 1, 1]);
    switch (k) {
      case 0: {
        const ty = this.ty();
        const name = this.name();
        const ann = rng.chance(0.2) ? `: ${tyText(ty)}` : "";
        out.push(`${ind}let ${name}${ann} = ${this.expr(ty, 0)};`);
        this.scope.vars.push({ name, ty });
        return;
      }
      case 1: {
        const ty = this.ty();
        const v = this.scope.find(ty, rng);
        if (v) out.push(`${ind}${v} = ${this.expr(ty, 0)};`);
        else out.push(`${ind}${this.expr("int", 1)};`);
        return;
      }
      case 2: {
        const two = rng.chance(0.3);
        const v = this.scope.find(two ? "arr2" : "arr", rng);
        if (v) out.push(`${ind}${v}[${this.expr("int", 2)}] = ${this.expr(two ? "arr" : "int", 1)};`);
        return;
      }
      case 3: {
        out.push(`${ind}if ${this.expr("int", 1)} {`);
        this.block(out, ind + "  ", this.stmtCount());
        while (rng.chance(0.3)) {
          out.push(`${ind}} else if ${this.expr("int", 1)} {`);
          this.block(out, ind + "  ", this.stmtCount());
        }
        if (rng.chance(0.4)) {
          out.push(`${ind}} else {`);
          this.block(out, ind + "  ", this.stmtCount());
        }
        out.push(`${ind}}`);
        return;
      }
      case 4: {
        // Bounded by a counter, so most runs end without using up the gas.
        const c = this.name();
        out.push(`${ind}let ${c} = 0;`);
        this.scope.vars.push({ name: c, ty: "int" });
        out.push(`${ind}while ${c} < ${rng.int(0, 6)}${rng.chance(0.3) ? ` && ${this.expr("int", 2)}` : ""} {`);
        out.push(`${ind}  ${c} = ${c} + 1;`);
        this.loops++;
        this.block(out, ind + "  ", this.stmtCount());
        this.loops--;
        out.push(`${ind}}`);
        return;
      }
      case 5: {
        const i = this.name();
        const from = rng.chance(0.7) ? String(rng.int(-2, 3)) : this.expr("int", 2);
        const to = rng.chance(0.7) ? String(rng.int(0, 6)) : `len(${this.expr("arr", 2)})`;
        out.push(`${ind}for ${i} in ${from}..${to} {`);
        this.scope = new Scope(this.scope);
        this.scope.vars.push({ name: i, ty: "int" });
        this.loops++;
        this.block(out, ind + "  ", this.stmtCount());
        this.loops--;
        this.scope = this.scope.parent as Scope;
        out.push(`${ind}}`);
        return;
      }
      case 6: {
        const kw = rng.pick(["break", "continue"]);
        out.push(rng.chance(0.3) ? `${ind}if ${this.expr("int", 2)} { ${kw}; }` : `${ind}${kw};`);
        return;
      }
      case 7:
        out.push(`${ind}return ${this.expr(this.ret, 1)};`);
        return;
      case 8:
        if (rng.chance(0.7)) out.push(`${ind}print(${Array.from({ length: rng.below(4) }, () => (rng.chance(0.3) ? strLiteral(rng) : this.expr(this.ty(), 2))).join(", ")});`);
        else out.push(`${ind}puts(${this.expr("arr", 2)});`);
        return;
      case 9:
        out.push(`${ind}${this.expr("int", 1)};`);
        return;
      case 10:
        out.push(`${ind}{`);
        this.block(out, ind + "  ", this.stmtCount());
        out.push(`${ind}}`);
        return;
      case 11:
        this.driveChild(out, ind);
        return;
      case 12:
        this.trapChild(out, ind);
        return;
      default: {
        const kv = this.caps.includes("kv.put");
        out.push(`${ind}${kv ? `kv.put(${this.expr("arr", 2)}, ${this.expr("arr", 2)})` : this.expr("int", 2)};`);
      }
    }
  }

  /** Spawn, run to the end refueling, maybe snapshot and restore: the example programs' pattern. */
  private driveChild(out: string[], ind: string): void {
    const sp = this.spawn(2);
    if (!sp) return;
    const h = this.name();
    const st = this.name();
    out.push(`${ind}let ${h} = ${sp};`, `${ind}let ${st} = resume(${h});`);
    out.push(`${ind}while ${st} == OUT_OF_GAS || ${st} == YIELDED { refuel(${h}, ${this.rng.pick([10, 100, 1000])}, 0); ${st} = resume(${h}); }`);
    if (this.rng.chance(0.5)) {
      const img = this.name();
      const r = this.name();
      out.push(`${ind}let ${img} = snapshot(${h});`, `${ind}let ${r} = restore(${img});`, `${ind}resume(${r});`);
      this.scope.vars.push({ name: img, ty: "arr" }, { name: r, ty: "int" });
    }
    this.scope.vars.push({ name: h, ty: "int" }, { name: st, ty: "int" });
  }

  /** A child whose capability calls are trapped and answered. */
  private trapChild(out: string[], ind: string): void {
    const fn = this.sigs.find((s) => s.name !== "main" && s.params.length === 0);
    if (!fn) return;
    const h = this.name();
    out.push(`${ind}let ${h} = spawn ${fn.name}() with { gas: 5000, mem: 1000, trap: [clock.now, io.print] };`);
    out.push(`${ind}while resume(${h}) == CAP_CALL {`);
    out.push(`${ind}  let ${h}n = request(${h});`, `${ind}  let ${h}a = request_args(${h});`);
    out.push(`${ind}  answer(${h}, ${this.rng.chance(0.5) ? `len(${h}a)` : `${h}n`});`, `${ind}}`);
    this.scope.vars.push({ name: h, ty: "int" });
  }

  // --- declarations ----------------------------------------------------------

  file(nfns: number): string {
    const rng = this.rng;
    const out: string[] = [];
    for (const c of CAPS_DECLARABLE)
      if (rng.chance(0.2)) {
        this.caps.push(c);
        out.push(c === "geo.lookup" ? "cap geo.lookup(int, [int]) -> int;" : `cap ${c};`);
      }
    for (let i = 0; i < rng.below(3); i++) {
      const ty: Ty = rng.chance(0.7) ? "int" : "arr";
      const name = `K${i}`;
      out.push(`const ${name} = ${ty === "int" ? (rng.chance(0.5) ? intLiteral(rng) : `${intLiteral(rng)} * ${intLiteral(rng)}`) : strLiteral(rng)};`);
      this.consts.push({ name, ty });
    }
    for (let i = 0; i < nfns; i++) this.sigs.push({ name: `f${i}`, params: Array.from({ length: rng.below(4) }, () => this.ty()), ret: this.ty() });
    if (this.isMain) this.sigs.push({ name: "main", params: rng.chance(0.3) ? ["arr"] : [], ret: "int" });
    for (const s of this.sigs) {
      this.scope = new Scope(null);
      this.ret = s.ret;
      const params = s.params.map((t) => {
        const name = this.name();
        this.scope.vars.push({ name, ty: t });
        // Imported files annotate parameters: an unconstrained one would be an int.
        return !this.isMain || rng.chance(0.3) ? `${name}: ${tyText(t)}` : name;
      });
      const result = rng.chance(0.3) && s.name !== "main" ? ` -> ${tyText(s.ret)}` : "";
      out.push(`fn ${s.name}(${params.join(", ")})${result} {`);
      this.block(out, "  ", this.stmtCount());
      out.push(`  return ${this.expr(s.ret, 1)};`, "}");
    }
    return out.join("\n");
  }
}

/** A random, mostly well-typed program: a main file and sometimes a trusted and an untrusted import. */
export function entProgram(rng: Rng): EntProgram {
  const files: Record<string, string> = {};
  const main = new FileGen(rng, true);
  const head: string[] = [];
  if (rng.chance(0.15)) {
    const lib = new FileGen(rng, false);
    files["util.ent"] = lib.file(rng.int(1, 3));
    main.addImport("util", lib.sigs, false);
    head.push('import "util.ent" as util;');
  }
  if (rng.chance(0.15)) {
    const lib = new FileGen(rng, false);
    files["lib/vendor.ent"] = lib.file(rng.int(1, 3));
    main.addImport("vendor", lib.sigs, true);
    head.push('import untrusted "lib/vendor.ent" as vendor;');
  }
  if (rng.chance(0.08)) head.push(...importGraph(rng, files));
  const body = main.file(rng.int(0, 4));
  return { main: [...head, body].join("\n") + "\n", files };
}

const GRAPH_PATHS = ["a.ent", "lib/b.ent", "lib/sub/c.ent", "d.ent", "main.ent", "lib/vendor.ent"];
const IMPORT_SPECS = ["a.ent", "../a.ent", "b.ent", "lib/b.ent", "sub/c.ent", "../../d.ent", "./d.ent", "/a.ent", "main.ent", "../main.ent", "missing.ent", "", "lib"];

/**
 * Extra files importing each other, trusted or not, by assorted relative
 * paths: cycles, self-imports, missing files and the main file among them.
 * Returns the main file's import lines.
 */
function importGraph(rng: Rng, files: Record<string, string>): string[] {
  const present = GRAPH_PATHS.filter((p) => p === "main.ent" || rng.chance(0.7));
  // Mostly a path that resolves to one of the files, from the importing file's directory.
  const spec = (from: string): string =>
    rng.chance(0.8) ? "../".repeat(from.split("/").length - 1) + rng.pick(present) : rng.pick(IMPORT_SPECS);
  const line = (from: string, k: number): string => `import ${rng.chance(0.4) ? "untrusted " : ""}"${spec(from)}" as m${k};`;
  for (const path of present) {
    if (path === "main.ent" || files[path] !== undefined) continue;
    const imports = Array.from({ length: rng.below(3) }, (_, k) => line(path, k));
    files[path] = [...imports, new FileGen(rng, false).file(rng.int(0, 2))].join("\n");
  }
  return Array.from({ length: 1 + rng.below(3) }, (_, k) => line("main.ent", k + 10));
}

// --- size ------------------------------------------------------------------------

/**
 * A program with one very long list or run of something: elements, arguments,
 * characters, statements, clauses, declarations. Lists of over ~100,000 items
 * catch code that spreads them into call arguments (a host stack overflow).
 * Locals and functions stay under the module limits (65,536), which the
 * compiler does not check itself (see the fuzz report).
 */
export function sizeProgram(rng: Rng): string {
  const big = rng.pick([100, 2000, 20_000, 150_000]);
  const n = rng.chance(0.5) ? big : rng.int(1, big);
  const ones = (k: number, item: string): string => Array(k).fill(item).join(", ");
  switch (rng.below(11)) {
    case 0:
      return `fn main() { let a = [${ones(n, rng.pick(["1", "-7", "0x7fffffff"]))}]; return len(a); }`;
    case 1:
      return `fn main() { let a = [${ones(n, rng.pick(["[1]", "[]", '"ab"']))}]; return len(a); }`;
    case 2:
      return `fn f(a, b) { return a; }\nfn main() { return f(${ones(n, "1")}); }`;
    case 3:
      return `fn f(a) { return a; }\nfn main() { return f<100, 100>(${ones(n, "1")}) else 0; }`;
    case 4:
      return `fn main() { print(${ones(Math.min(n, 60_000), rng.pick(["1", '"x"']))}); return 0; }`;
    case 5:
      return `fn main() { let s = "${rng.pick(["a", "\\n", "\\u{1F600}", "é"]).repeat(n)}"; puts(s); return len(s); }`;
    case 6:
      return `fn main() { let x = 0; ${"x = x + 1; ".repeat(n)}return x; }`;
    case 7:
      return `fn main() {\n${Array.from({ length: Math.min(n, 60_000) }, (_, i) => `  let v${i} = ${i};`).join("\n")}\n  return 0;\n}`;
    case 8:
      return `${Array.from({ length: Math.min(n, 60_000) }, (_, i) => `fn f${i}() { return ${i}; }`).join("\n")}\nfn main() { return f0(); }`;
    case 9:
      return `import "${"d/".repeat(n)}x.ent" as x;\nfn main() { return 0; }`;
    default:
      return `fn main() { let ${"v".repeat(Math.min(n, 100_000))} = 1; return ${"v".repeat(Math.min(n, 100_000))}; }`;
  }
}

// --- token soups and mutations ------------------------------------------------

const VOCAB = [
  "fn", "let", "if", "else", "while", "for", "in", "break", "continue", "return", "cap", "import", "untrusted", "as",
  "const", "true", "false", "spawn", "with", "main", "args", "x", "y", "f", "print", "puts", "len", "array", "copy",
  "resume", "result", "status", "refuel", "kill", "snapshot", "restore", "yield", "gas_left", "mem_left", "request",
  "request_args", "answer", "gas", "mem", "caps", "trap", "int", "io", "print", "clock", "now", "DONE", "OUT_OF_GAS",
  "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "->", "..", "+", "-", "*", "/", "%", "&", "|", "^", "~", "!", "<",
  ">", "=", "(", ")", "{", "}", "[", "]", ",", ";", ":", ".", "0", "1", "42", "0x", "0xFFFFFFFF", "0x100000000",
  "4294967296", "2147483648", "1_", "_1", "1__0", '"', '"a"', '"\\u{110000}"', '"\\u{}"', '"\\q"', '"\\', '"\\u{1F600', "//", "/*",
  "*/", "\n", "\t", "\r", "\u0000", "\u00e9", "\ud83d", "\ud83d\ude00", "#", "@", "$", "`", "'", "\\",
];

/** Random tokens from Ent's vocabulary (and some that are not), joined by spaces or not. */
export function tokenSoup(rng: Rng): string {
  const n = rng.size(300) + 1;
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    parts.push(rng.pick(VOCAB));
    if (rng.chance(0.7)) parts.push(rng.chance(0.9) ? " " : "\n");
  }
  return parts.join("");
}

/** Splits source into tokens and the text between them (whitespace kept), for token-level mutation. */
function tokens(src: string): string[] {
  return src.match(/[A-Za-z_][\w]*|0[xX][\w]*|\d[\w]*|"(?:[^"\\\n]|\\.)*"|<<|>>|<=|>=|==|!=|&&|\|\||->|\.\.|\s+|./gsu) ?? [];
}

/** Token- and character-level damage to a source text: deleted, repeated, swapped or foreign pieces. */
export function mutateSource(rng: Rng, src: string): string {
  let toks = tokens(src);
  const n = 1 + rng.size(4);
  for (let k = 0; k < n && toks.length > 0; k++) {
    const i = rng.below(toks.length);
    switch (rng.below(8)) {
      case 0:
        toks.splice(i, 1 + rng.size(3));
        break;
      case 1:
        toks.splice(i, 0, ...toks.slice(i, i + 1 + rng.size(8)));
        break;
      case 2: {
        const j = rng.below(toks.length);
        [toks[i], toks[j]] = [toks[j], toks[i]];
        break;
      }
      case 3:
        toks[i] = rng.pick(VOCAB);
        break;
      case 4:
        toks.splice(i, 0, rng.pick(VOCAB));
        break;
      case 5:
        toks = toks.slice(0, i);
        break;
      case 6: {
        // A character anywhere, printable or not.
        const t = toks[i];
        const at = rng.below(t.length + 1);
        const ch = rng.chance(0.5) ? String.fromCharCode(rng.below(128)) : String.fromCodePoint(rng.below(0x110000) & ~0x800);
        toks[i] = t.slice(0, at) + ch + t.slice(at);
        break;
      }
      default:
        // Wrap a stretch in parentheses or brackets (nests one level deeper).
        toks.splice(i, 0, rng.pick(["(", "[", "{"]));
        toks.splice(Math.min(toks.length, i + 1 + rng.size(10)), 0, rng.pick([")", "]", "}"]));
    }
  }
  return toks.join("");
}
