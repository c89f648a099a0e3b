// Name resolution and type inference for one code module (a main file and its
// trusted imports). Types are solved by unification over the whole module;
// every function is monomorphic; what nothing constrains becomes int. The
// checker annotates the tree (types, locals, call targets) for codegen.

import type {
  BinaryExpr,
  Block,
  CallExpr,
  CallTarget,
  ConstDecl,
  Expr,
  FileAst,
  FnInfo,
  LibFn,
  Local,
  NameExpr,
  SpawnTarget,
  Stmt,
  TypeExpr,
} from "./ast.js";
import { BUILTINS, PRINT_CAP, isBuiltin, statusConstant } from "./builtins.js";
import { Constants } from "./consts.js";
import type { Pos, Sources } from "./errors.js";
import { builtinSignature } from "../../src/caps/signatures.js";
import { MODULE_LIMITS } from "../../src/vm/module.js";
import { MAX_CAP_ARGS } from "../../src/vm/verify.js";
import { INT, MAX_TYPE_DEPTH, arr, arrayDepth, deeperThan, fresh, prune, settle, show, unify, unifyWhy, type Type } from "./types.js";

/** An untrusted import: a separate module reachable only through SPAWNX. */
export interface LibInfo {
  readonly name: string;
  readonly digest: string;
  readonly fns: ReadonlyMap<string, LibFn>;
}

export type ImportRef = { readonly kind: "unit"; readonly unit: Unit } | { readonly kind: "lib"; readonly lib: LibInfo };

/** One source file of the module. */
export interface Unit {
  readonly file: string;
  readonly ast: FileAst;
  /** Prefix of its function names in the module ("" for the main file). */
  readonly prefix: string;
  readonly imports: Map<string, ImportRef>;
  readonly fns: Map<string, FnInfo>;
  readonly consts: Map<string, ConstDecl>;
}

export interface CapSig {
  readonly args: readonly ("int" | "array")[];
  readonly result: "int" | "array";
}

export interface CheckedModule {
  /** Every function, in module index order. */
  readonly fns: readonly FnInfo[];
  /** The manifest, sorted. */
  readonly caps: readonly string[];
  /**
   * Manifest entries only named in `trap: [...]` lists (sorted): the module
   * neither declares them with `cap` (so never calls them), nor prints with
   * them, nor grants them in `caps: [...]`. Negotiation does not demand them.
   */
  readonly trapOnly: readonly string[];
  /** Digests of linked modules; a lib's link index is its position. */
  readonly links: readonly string[];
  readonly main?: FnInfo;
}

const MAX_CAPS = 32;
/** Parameters a module function may take (the module format's bound). */
const MAX_PARAMS = 255;

export class Checker {
  private readonly fns: FnInfo[] = [];
  private readonly capSigs = new Map<string, CapSig>();
  private readonly manifest = new Set<string>();
  /** Manifest entries the module holds itself: declared, printed with or granted to a child. */
  private readonly held = new Set<string>();
  private readonly links: string[] = [];
  private readonly types: Type[] = [];
  /** Every parameter and variable, for the final check of type depths. */
  private readonly locals: Local[] = [];
  private readonly deferred: (() => void)[] = [];
  /**
   * Where each handle variable's values come from: the result types of the
   * functions spawned into it, or null once it is given anything else.
   */
  private readonly spawnedInto = new Map<Local, Type[] | null>();
  /** The result type of each `spawn` expression. */
  private readonly spawnResult = new Map<Expr, Type>();
  /** `result(h)` calls on a variable h: the type each reads. */
  private readonly results: { local: Local; ty: Type }[] = [];
  /** The type of every value given to `yield`. */
  private readonly yields: Type[] = [];
  private readonly constUnit = new Map<ConstDecl, Unit>();
  private readonly consts = new Constants<Unit>({
    unitOf: (d) => this.constUnit.get(d) as Unit,
    find: (path, unit) => this.findConst(path, unit),
    fail: (pos, msg) => this.fail(pos, msg),
  });

  // per function
  private unit!: Unit;
  private fn!: FnInfo;
  private scopes: Map<string, Local>[] = [];
  private loops = 0;

  constructor(
    private readonly units: readonly Unit[],
    private readonly sources: Sources,
    /** Whether the module must have `main` (the program's entry module). */
    private readonly needsMain: boolean,
  ) {}

  private fail(pos: Pos, msg: string): never {
    throw this.sources.error(pos, msg);
  }

  private expectType(t: Type, want: Type, pos: Pos, what: string): void {
    const why = unifyWhy(t, want);
    if (why === "infinite") this.fail(pos, `${what}: an array cannot contain itself (its type would be infinite)`);
    if (why) this.fail(pos, `${what}: expected ${show(want)}, found ${show(t)}`);
  }

  private track(t: Type): Type {
    this.types.push(t);
    return t;
  }

  /**
   * Array types nest at most MAX_TYPE_DEPTH deep: a type can grow by one
   * level per statement (`let b = [a];`), and the runtime's per-type helpers
   * (print, copy, sandbox results) are generated once per level.
   */
  private shallow(t: Type, pos: Pos): Type {
    if (deeperThan(t, MAX_TYPE_DEPTH)) this.fail(pos, `array type nested deeper than ${MAX_TYPE_DEPTH} levels`);
    return t;
  }

  check(): CheckedModule {
    this.declare();
    for (const f of this.fns) this.checkFn(f);
    this.resultsFromSpawns();
    for (const t of this.types) settle(t);
    // Types also grow after they were checked, as variables in them are solved.
    for (const l of this.locals) this.shallow(l.ty, l.pos);
    for (const f of this.fns) this.shallow(f.result, f.decl.pos);
    for (const d of this.deferred) d();
    const main = this.units[0].fns.get("main");
    if (this.needsMain && !main) this.fail({ file: this.units[0].file, line: 1, col: 1 }, "no main function (fn main() { ... })");
    if (main && main.params.length === 1 && ![1, 2].includes(arrayDepth(main.params[0].ty)))
      this.fail(main.decl.params[0].pos, `main's parameter is the argument array: [int], or [[int]] for text arguments, not ${show(main.params[0].ty)}`);
    const caps = [...this.manifest].sort();
    if (caps.length > MAX_CAPS)
      this.fail({ file: this.units[0].file, line: 1, col: 1 }, `more than ${MAX_CAPS} capabilities in the manifest`);
    const trapOnly = caps.filter((c) => !this.held.has(c));
    return { fns: this.fns, caps, trapOnly, links: this.links, main };
  }

  /**
   * `result(h)` whose type nothing else decides reads what h's child returns
   * when every value of the variable h comes from `spawn f(...)` of functions
   * of one result type (so `print(result(h))` prints the array f returned).
   * A yielded value is read the same way, so only when every `yield` of the
   * module gives that type too. Otherwise it stays open and becomes int.
   */
  private resultsFromSpawns(): void {
    for (const { local, ty } of this.results) {
      const from = this.spawnedInto.get(local);
      if (!from || from.length === 0 || !fits(ty, from[0])) continue;
      const want = show(prune(from[0]));
      if (from.some((t) => show(prune(t)) !== want) || this.yields.some((t) => show(prune(t)) !== want)) continue;
      unify(ty, from[0]);
    }
  }

  /** Notes what the variable `l` is given: a spawned child's handle, or anything else. */
  private assigned(l: Local, value: Expr): void {
    const t = value.kind === "spawn" ? this.spawnResult.get(value) : undefined;
    const from = this.spawnedInto.get(l);
    if (t === undefined) this.spawnedInto.set(l, null);
    else if (from === undefined) this.spawnedInto.set(l, [t]);
    else from?.push(t);
  }

  /** A manifest entry the module holds itself (not trap-only). */
  private need(cap: string): void {
    this.manifest.add(cap);
    this.held.add(cap);
  }

  /** The signature of a declared capability (after check). */
  capSig(name: string): CapSig | undefined {
    return this.capSigs.get(name);
  }

  // --- declarations ----------------------------------------------------------

  private declare(): void {
    for (const unit of this.units) {
      for (const d of unit.ast.decls) {
        switch (d.kind) {
          case "fn": {
            if (unit.fns.has(d.name)) this.fail(d.pos, `function '${d.name}' is already declared`);
            if (isBuiltin(d.name)) this.fail(d.pos, `'${d.name}' is a built-in function; choose another name`);
            const isMain = unit === this.units[0] && d.name === "main";
            if (isMain && d.params.length > 1) this.fail(d.params[1].pos, "main takes no parameter or one (args)");
            if (d.params.length > MAX_PARAMS) this.fail(d.params[MAX_PARAMS].pos, `a function takes at most ${MAX_PARAMS} parameters`);
            const params = d.params.map((p) => this.local(p.name, p.type ? this.typeOf(p.type) : fresh(), p.pos));
            const seen = new Set<string>();
            for (const p of d.params) {
              if (seen.has(p.name)) this.fail(p.pos, `parameter '${p.name}' is declared twice`);
              seen.add(p.name);
            }
            const result = this.track(d.result ? this.typeOf(d.result) : fresh());
            const info: FnInfo = { name: unit.prefix + d.name, decl: d, params, result, index: this.fns.length, isMain };
            if (isMain) {
              // [int], or [[int]] for text arguments: settled once the bodies are checked (check()).
              if (params.length === 1) this.expectType(params[0].ty, arr(fresh()), d.params[0].pos, "main's parameter is the argument array");
              if (d.result) this.expectType(result, INT, d.result.pos, "main's result");
              else unify(result, INT);
            }
            unit.fns.set(d.name, info);
            this.fns.push(info);
            break;
          }
          case "const":
            if (unit.consts.has(d.name)) this.fail(d.pos, `constant '${d.name}' is already declared`);
            if (statusConstant(d.name) !== undefined) this.fail(d.pos, `'${d.name}' is a built-in constant`);
            unit.consts.set(d.name, d);
            this.constUnit.set(d, unit);
            break;
          case "cap": {
            if (d.name.length > MODULE_LIMITS.nameLength)
              this.fail(d.pos, `a capability name is at most ${MODULE_LIMITS.nameLength} characters`);
            const known = builtinSignature(d.name);
            const sig = d.sig ?? known;
            if (!sig)
              this.fail(d.pos, `unknown capability '${d.name}': declare its signature, e.g. cap ${d.name}(int) -> int;`);
            if (d.sig && known && !sameSig(d.sig, known))
              this.fail(d.pos, `capability '${d.name}' has the signature ${sigText(known)}`);
            const words = sig.args.reduce((w, a) => w + (a === "int" ? 1 : 2), 0);
            if (words > MAX_CAP_ARGS) this.fail(d.pos, `capability '${d.name}' takes more than ${MAX_CAP_ARGS} argument words`);
            const prev = this.capSigs.get(d.name);
            if (prev && !sameSig(prev, sig)) this.fail(d.pos, `capability '${d.name}' declared with two signatures`);
            this.capSigs.set(d.name, sig);
            this.need(d.name);
            break;
          }
          case "import": {
            const ref = unit.imports.get(d.alias);
            if (ref?.kind === "lib" && !this.links.includes(ref.lib.digest)) this.links.push(ref.lib.digest);
            break;
          }
        }
      }
    }
  }

  private local(name: string, ty: Type, pos: Pos): Local {
    this.track(ty);
    const l: Local = { name, ty, pos, slot: -1 };
    this.locals.push(l);
    return l;
  }

  private typeOf(t: TypeExpr): Type {
    let levels = 0;
    let e = t;
    while (e.kind === "array") {
      levels++;
      e = e.elem;
    }
    let r = INT;
    for (let i = 0; i < levels; i++) r = arr(r);
    return this.shallow(r, t.pos);
  }

  // --- constants ---------------------------------------------------------------

  private findConst(path: readonly string[], unit: Unit): ConstDecl | undefined {
    if (path.length === 1) return unit.consts.get(path[0]);
    if (path.length === 2) {
      const imp = unit.imports.get(path[0]);
      if (imp?.kind === "unit") return imp.unit.consts.get(path[1]);
    }
    return undefined;
  }

  // --- functions -----------------------------------------------------------------

  private checkFn(f: FnInfo): void {
    this.unit = this.units.find((u) => u.fns.get(f.decl.name) === f) as Unit;
    this.fn = f;
    this.loops = 0;
    const params = new Map<string, Local>();
    for (const p of f.params) {
      params.set(p.name, p);
      this.spawnedInto.set(p, null); // a parameter holds what the caller gave
    }
    this.scopes = [params];
    this.block(f.decl.body);
  }

  private lookup(name: string): Local | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const l = this.scopes[i].get(name);
      if (l) return l;
    }
    return undefined;
  }

  private block(b: Block): void {
    this.scopes.push(new Map());
    for (const s of b.stmts) this.stmt(s);
    this.scopes.pop();
  }

  private stmt(s: Stmt): void {
    switch (s.kind) {
      case "block":
        this.block(s);
        return;
      case "let": {
        const t = this.expr(s.init);
        if (s.type) this.expectType(t, this.typeOf(s.type), s.init.pos, `value of '${s.name}'`);
        const scope = this.scopes[this.scopes.length - 1];
        if (scope.has(s.name)) this.fail(s.pos, `'${s.name}' is already declared in this block`);
        const l = this.local(s.name, t, s.pos);
        scope.set(s.name, l);
        s.local = l;
        this.assigned(l, s.init);
        return;
      }
      case "assign": {
        const l = this.lookup(s.name);
        if (!l) {
          if (this.unit.consts.has(s.name) || statusConstant(s.name) !== undefined)
            this.fail(s.pos, `cannot assign to the constant '${s.name}'`);
          this.fail(s.pos, `unknown variable '${s.name}' (declare it with let)`);
        }
        s.local = l;
        this.expectType(this.expr(s.value), l.ty, s.value.pos, `assignment to '${s.name}'`);
        this.assigned(l, s.value);
        return;
      }
      case "index_assign": {
        const elem = fresh();
        this.expectType(this.expr(s.array), arr(elem), s.array.pos, "only arrays can be indexed");
        this.expectType(this.expr(s.index), INT, s.index.pos, "array index");
        this.expectType(this.expr(s.value), elem, s.value.pos, "array element");
        this.track(elem);
        return;
      }
      case "if":
        for (const c of s.clauses) {
          this.cond(c.cond);
          this.block(c.body);
        }
        if (s.otherwise) this.block(s.otherwise);
        return;
      case "while":
        this.cond(s.cond);
        this.loops++;
        this.block(s.body);
        this.loops--;
        return;
      case "for": {
        this.expectType(this.expr(s.from), INT, s.from.pos, "range start");
        this.expectType(this.expr(s.to), INT, s.to.pos, "range end");
        s.local = this.local(s.name, INT, s.pos);
        this.spawnedInto.set(s.local, null);
        s.bound = this.local(`${s.name}$end`, INT, s.pos);
        this.scopes.push(new Map([[s.name, s.local]]));
        this.loops++;
        this.block(s.body);
        this.loops--;
        this.scopes.pop();
        return;
      }
      case "break":
      case "continue":
        if (this.loops === 0) this.fail(s.pos, `'${s.kind}' outside a loop`);
        return;
      case "return":
        if (s.value) this.expectType(this.expr(s.value), this.fn.result, s.value.pos, "return value");
        return;
      case "expr":
        this.expr(s.expr);
        return;
    }
  }

  private cond(e: Expr): void {
    this.expectType(this.expr(e), INT, e.pos, "condition");
  }

  private expr(e: Expr): Type {
    const t = this.track(this.shallow(this.exprType(e), e.pos));
    e.ty = t;
    return t;
  }

  private exprType(e: Expr): Type {
    switch (e.kind) {
      case "int":
        return INT;
      case "str":
        return arr(INT);
      case "array": {
        const elem = fresh();
        for (const x of e.elems) this.expectType(this.expr(x), elem, x.pos, "array element");
        return arr(elem);
      }
      case "name":
        return this.name(e);
      case "unary":
        this.expectType(this.expr(e.operand), INT, e.operand.pos, `operand of '${e.op}'`);
        return INT;
      case "binary":
        return this.binary(e);
      case "index": {
        const elem = fresh();
        this.expectType(this.expr(e.array), arr(elem), e.array.pos, "only arrays can be indexed");
        this.expectType(this.expr(e.index), INT, e.index.pos, "array index");
        return elem;
      }
      case "call":
        return this.call(e);
      case "sandbox": {
        this.expectType(this.expr(e.gas), INT, e.gas.pos, "gas limit");
        this.expectType(this.expr(e.mem), INT, e.mem.pos, "memory limit");
        const target = this.spawnTarget(e.callee, e.pos);
        e.target = target;
        const result = this.spawnArgs(target, e.args, e.pos, e.callee);
        if (e.otherwise) this.expectType(this.expr(e.otherwise), result, e.otherwise.pos, "value after else");
        return result;
      }
      case "spawn": {
        const target = this.spawnTarget(e.callee, e.pos);
        e.target = target;
        this.spawnResult.set(e, this.spawnArgs(target, e.args, e.pos, e.callee));
        this.expectType(this.expr(e.gas), INT, e.gas.pos, "gas limit");
        this.expectType(this.expr(e.mem), INT, e.mem.pos, "memory limit");
        for (const c of [...e.caps, ...e.traps]) {
          if (!this.capSigs.has(c.name) && c.name !== PRINT_CAP && !builtinSignature(c.name))
            this.fail(c.pos, `unknown capability '${c.name}' (declare it with cap ${c.name};)`);
          this.manifest.add(c.name);
        }
        // A grant must be held; a trap only indexes the manifest (the trap mask).
        for (const c of e.caps) this.need(c.name);
        return INT;
      }
    }
  }

  /**
   * A binary operator and the chain it ends: `1 + 2 + ... + n` nests to the
   * left as deep as it is long, so its left spine is walked by a loop (in the
   * order recursion would take: leftmost operand first, then each right one).
   */
  private binary(top: BinaryExpr): Type {
    const spine: BinaryExpr[] = [];
    let e: Expr = top;
    while (e.kind === "binary") {
      spine.push(e);
      e = e.left;
    }
    let left = this.expr(e);
    for (let i = spine.length - 1; i >= 0; i--) {
      const b = spine[i];
      this.expectType(left, INT, b.left.pos, `left operand of '${b.op}'`);
      this.expectType(this.expr(b.right), INT, b.right.pos, `right operand of '${b.op}'`);
      // The top's type is set by expr(); the others as expr() would have.
      if (i > 0) b.ty = this.track(INT);
      left = INT;
    }
    return INT;
  }

  private name(e: NameExpr): Type {
    const full = e.path.join(".");
    if (e.path.length === 1) {
      const l = this.lookup(full);
      if (l) {
        e.ref = { kind: "local", local: l };
        return l.ty;
      }
    }
    const d = this.findConst(e.path, this.unit);
    if (d) {
      const v = this.consts.value(d);
      e.ref = v;
      return v.kind === "const" ? INT : arr(INT);
    }
    const s = statusConstant(full);
    if (s !== undefined) {
      e.ref = { kind: "const", value: s };
      return INT;
    }
    if (this.findFn(e.path)) this.fail(e.pos, `'${full}' is a function; call it with (...)`);
    if (e.path.length > 1 && !this.unit.imports.has(e.path[0])) this.fail(e.pos, `unknown name '${e.path[0]}'`);
    this.fail(e.pos, `unknown name '${full}'`);
  }

  private findFn(path: readonly string[]): FnInfo | undefined {
    if (path.length === 1) return this.unit.fns.get(path[0]);
    if (path.length === 2) {
      const imp = this.unit.imports.get(path[0]);
      if (imp?.kind === "unit") return imp.unit.fns.get(path[1]);
    }
    return undefined;
  }

  private libFn(path: readonly string[], pos: Pos): { link: number; fn: LibFn } | undefined {
    if (path.length !== 2) return undefined;
    const imp = this.unit.imports.get(path[0]);
    if (imp?.kind !== "lib") return undefined;
    const fn = imp.lib.fns.get(path[1]);
    if (!fn) this.fail(pos, `untrusted import '${path[0]}' has no function '${path[1]}'`);
    return { link: this.links.indexOf(imp.lib.digest), fn };
  }

  private spawnTarget(path: readonly string[], pos: Pos): SpawnTarget {
    const fn = this.findFn(path);
    if (fn) {
      if (fn.isMain) this.fail(pos, "main cannot be called");
      return { kind: "fn", fn };
    }
    const lib = this.libFn(path, pos);
    if (lib) return { kind: "lib", link: lib.link, fn: lib.fn };
    const full = path.join(".");
    if (isBuiltin(full) || this.capSigs.has(full)) this.fail(pos, `'${full}' is not a function of this program; only functions run in a sandbox`);
    this.fail(pos, `unknown function '${full}'`);
  }

  private spawnArgs(target: SpawnTarget, args: readonly Expr[], pos: Pos, callee: readonly string[]): Type {
    const params = target.kind === "fn" ? target.fn.params.map((p) => p.ty) : target.fn.params;
    this.arity(callee.join("."), params.length, args.length, pos);
    args.forEach((a, i) => this.expectType(this.expr(a), params[i], a.pos, `argument ${i + 1} of ${callee.join(".")}`));
    return target.kind === "fn" ? target.fn.result : target.fn.result;
  }

  private arity(name: string, want: number, got: number, pos: Pos): void {
    if (want !== got) this.fail(pos, `${name} takes ${want} argument${want === 1 ? "" : "s"}, got ${got}`);
  }

  private call(e: CallExpr): Type {
    const full = e.callee.join(".");
    const fn = this.findFn(e.callee);
    if (fn) {
      if (fn.isMain) this.fail(e.pos, "main cannot be called");
      e.target = { kind: "fn", fn };
      this.arity(full, fn.params.length, e.args.length, e.pos);
      e.args.forEach((a, i) => this.expectType(this.expr(a), fn.params[i].ty, a.pos, `argument ${i + 1} of ${full}`));
      return fn.result;
    }
    if (this.libFn(e.callee, e.pos))
      this.fail(
        e.pos,
        `'${full}' comes from an untrusted import and can only run in a sandbox: ${full}<gas, mem>(...) or spawn ${full}(...) with {...}`,
      );
    if (e.callee.length === 1 && isBuiltin(full)) return this.builtin(e, full);
    const sig = this.capSigs.get(full);
    if (sig) {
      const target: CallTarget = { kind: "cap", name: full, args: sig.args, result: sig.result };
      e.target = target;
      this.arity(full, sig.args.length, e.args.length, e.pos);
      e.args.forEach((a, i) =>
        this.expectType(this.expr(a), sig.args[i] === "int" ? INT : arr(INT), a.pos, `argument ${i + 1} of ${full}`),
      );
      return sig.result === "int" ? INT : arr(INT);
    }
    if (e.callee.length > 1 && (builtinSignature(full) || !this.unit.imports.has(e.callee[0])))
      this.fail(e.pos, `unknown function '${full}' (to call a capability, declare it: cap ${full};)`);
    this.fail(e.pos, `unknown function '${full}'`);
  }

  private builtin(e: CallExpr, name: string): Type {
    e.target = { kind: "builtin", name };
    const n = BUILTINS[name];
    if (n >= 0) this.arity(name, n, e.args.length, e.pos);
    const a = e.args;
    const argInt = (i: number, what: string): void => this.expectType(this.expr(a[i]), INT, a[i].pos, what);
    switch (name) {
      case "print":
        this.need(PRINT_CAP);
        for (const x of a) this.expr(x);
        return INT;
      case "puts":
        this.need(PRINT_CAP);
        this.expectType(this.expr(a[0]), arr(INT), a[0].pos, "puts writes a string");
        return INT;
      case "len":
        this.expectType(this.expr(a[0]), arr(fresh()), a[0].pos, "len takes an array");
        return INT;
      case "array":
        argInt(0, "array length");
        return arr(fresh());
      case "copy": {
        const t = arr(fresh());
        this.expectType(this.expr(a[0]), t, a[0].pos, "copy takes an array");
        return t;
      }
      case "resume":
      case "status":
      case "kill":
        argInt(0, `handle given to ${name}`);
        return INT;
      case "result": {
        argInt(0, "handle given to result");
        const t = this.track(fresh());
        const h = a[0];
        if (h.kind === "name" && h.ref?.kind === "local") this.results.push({ local: h.ref.local, ty: t });
        return t;
      }
      case "refuel":
        argInt(0, "handle given to refuel");
        argInt(1, "gas added by refuel");
        argInt(2, "memory added by refuel");
        return INT;
      case "snapshot":
        argInt(0, "handle given to snapshot");
        return arr(INT);
      case "restore":
        this.expectType(this.expr(a[0]), arr(INT), a[0].pos, "restore takes an image (an array of bytes)");
        return INT;
      case "yield":
        this.yields.push(this.expr(a[0]));
        return INT;
      case "gas_left":
      case "mem_left":
        return INT;
      case "request":
        argInt(0, "handle given to request");
        return arr(INT);
      case "request_args":
        argInt(0, "handle given to request_args");
        return arr(arr(INT));
      case "answer": {
        argInt(0, "handle given to answer");
        const t = this.expr(a[1]);
        const pos = a[1].pos;
        this.deferred.push(() => {
          const p = prune(t);
          if (p.k === "arr" && prune(p.elem).k !== "int")
            this.fail(pos, `a capability answer is an int or [int], found ${show(t)}`);
        });
        return INT;
      }
      default:
        this.fail(e.pos, `unknown function '${name}'`);
    }
  }
}

/**
 * Whether unifying `a` with `b` would succeed and decide something of `a`
 * only: the same array depth down to where `a` is still open and `b` is not.
 * (A type has one leaf, so this needs no bindings.)
 */
function fits(a: Type, b: Type): boolean {
  let x = prune(a);
  let y = prune(b);
  while (x.k === "arr" && y.k === "arr") {
    x = prune(x.elem);
    y = prune(y.elem);
  }
  return x.k === "var" && y.k !== "var";
}

function sameSig(a: CapSig, b: CapSig): boolean {
  return a.result === b.result && a.args.length === b.args.length && a.args.every((x, i) => x === b.args[i]);
}

function sigText(s: CapSig): string {
  const t = (x: "int" | "array"): string => (x === "int" ? "int" : "[int]");
  return `(${s.args.map(t).join(", ")}) -> ${t(s.result)}`;
}
