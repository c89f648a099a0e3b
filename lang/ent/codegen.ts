// Code generation: checked Ent syntax -> a code module for the VM. Statements
// leave the operand stack empty; an expression leaves exactly one word (an
// int, or the address of an array). Conditions compile to jumps. Every
// instruction carries the source position of the construct it implements.
//
// Recursion follows the expression tree except along the left spine of binary
// operators (a chain `1 + 1 + ... + 1` nests to the left as deep as it is
// long): those spines are walked by loops, conditions by a work list, so JS
// stack is bounded by the parser's MAX_EXPR_DEPTH and MAX_NESTING.

import type { BinaryExpr, Block, CallExpr, Expr, FnInfo, ForStmt, Local, SandboxExpr, SpawnExpr, SpawnTarget, Stmt } from "./ast.js";
import type { CheckedModule } from "./check.js";
import { foldBinary } from "./consts.js";
import { FnEmitter, Label, ModuleEmitter } from "../emit.js";
import { PRINT_CAP } from "./builtins.js";
import { GLOBAL_WORDS, RUNTIME_POS, Runtime, emitArrayWords, emitInboxArray, emitNewArray } from "./runtime.js";
import { TRAP, UNFINISHED_STATUSES } from "./traps.js";
import { arrayDepth, isArray, type Type } from "./types.js";
import type { ModuleDef } from "../../src/vm/module.js";
import { Op, StatusCode } from "../../src/vm/opcodes.js";
import { MAX_CAP_ARGS } from "../../src/vm/verify.js";
import type { Sources } from "./errors.js";

const BINARY_OPS: Readonly<Record<string, Op>> = {
  "+": Op.ADD,
  "-": Op.SUB,
  "*": Op.MUL,
  "/": Op.DIV,
  "%": Op.REM,
  "&": Op.AND,
  "|": Op.OR,
  "^": Op.XOR,
  "<<": Op.SHL,
  ">>": Op.SHR,
  "==": Op.EQ,
  "!=": Op.NE,
  "<": Op.LT,
  "<=": Op.LE,
  ">": Op.GT,
  ">=": Op.GE,
};

/**
 * Each comparison's negation. A loop's backward branch "jump if a < b" is
 * emitted as `GE; JZ`, not `LT; JNZ`: same gas and result, but the
 * interpreter fuses `LGET a; LGET b; GE; JZ` (and `LGET; PUSH; CMP; JZ`)
 * into one dispatch (src/vm/quicken.ts), and only with JZ.
 */
const NEGATED: Readonly<Record<string, Op>> = {
  "<": Op.GE,
  "<=": Op.GT,
  ">": Op.LE,
  ">=": Op.LT,
  "==": Op.NE,
  "!=": Op.EQ,
};

export interface Generated {
  readonly def: ModuleDef;
  /** For untrusted libraries: function name -> index of its entry wrapper. */
  readonly entries: ReadonlyMap<string, number>;
}

export function generate(
  name: string,
  checked: CheckedModule,
  sources: Sources,
  /** Functions that get a parameterless entry wrapper (the exports of an untrusted library). */
  exported: readonly FnInfo[] = [],
): Generated {
  return new Codegen(checked, sources).run(name, exported);
}

interface Loop {
  readonly brk: Label;
  readonly cont: Label;
}

/** Pending work of cond(): jump to `target` when the truth of `e` equals `when`, or bind a label. */
type CondTask = { readonly e: Expr; readonly target: Label; readonly when: boolean } | Label;

class Codegen {
  private readonly mod: ModuleEmitter;
  private readonly rt: Runtime;
  private f!: FnEmitter;
  private loops: Loop[] = [];
  /** (array, index) locals for which 0 <= index < len(array) is known: no early check of a store needed. */
  private readonly inBounds: { readonly array: Local; readonly index: Local }[] = [];
  /** constValue of binary nodes (null: not constant), so walking a long chain again costs nothing. */
  private readonly folded = new Map<Expr, number | null>();

  constructor(
    private readonly checked: CheckedModule,
    private readonly sources: Sources,
  ) {
    this.mod = new ModuleEmitter((pos, detail) => {
      throw this.sources.error(pos ?? RUNTIME_POS, detail);
    });
    this.rt = new Runtime(this.mod, () => this.capIndex(PRINT_CAP));
  }

  private capIndex(name: string): number {
    const i = this.checked.caps.indexOf(name);
    if (i < 0) throw new Error(`internal: capability ${name} missing from the manifest`);
    return i;
  }

  run(name: string, exported: readonly FnInfo[]): Generated {
    for (const fn of this.checked.fns) {
      const index = this.mod.request(`fn:${fn.index}`, fn.name, fn.isMain ? 0 : fn.params.length, (f) => this.fn(fn, f), fn.decl.pos);
      if (index !== fn.index) throw new Error("internal: function indices out of order");
    }
    const entries = new Map<string, number>();
    for (const fn of exported) entries.set(fn.decl.name, this.entryWrapper(fn));
    return { def: this.mod.build(name, this.checked.caps, this.checked.links, this.checked.trapOnly), entries };
  }

  // --- functions --------------------------------------------------------------

  private fn(fn: FnInfo, f: FnEmitter): void {
    this.f = f;
    this.loops = [];
    fn.params.forEach((p, i) => (p.slot = i));
    if (fn.isMain) this.mainPrologue(fn);
    this.block(fn.decl.body);
    const stmts = fn.decl.body.stmts;
    if (stmts.length > 0 && stmts[stmts.length - 1].kind === "return") return;
    f.at(fn.decl.endPos);
    f.emit(Op.PUSH, 0);
    f.emit(Op.RET);
  }

  /**
   * The root's memory starts as the argument block: [n, a0, ...] for integer
   * arguments, [n, offsets..., texts...] for text ones (spec/language.md).
   * main moves it to the heap (args) and zeroes the global words at the
   * bottom; an [[int]] main then relocates the texts (or makes integers
   * text: $text_args), an [int] main traps on text arguments.
   */
  private mainPrologue(fn: FnInfo): void {
    const f = this.f;
    const args = fn.params.length === 1 ? f.local() : -1;
    if (args >= 0) fn.params[0].slot = args;
    const m = f.local();
    const big = f.label();
    const noArgs = f.label();
    f.emit(Op.MSIZE);
    f.emit(Op.LTEE, m);
    f.emit(Op.PUSH, GLOBAL_WORDS);
    f.emit(Op.GE);
    f.jump(Op.JNZ, big);
    f.emit(Op.PUSH, GLOBAL_WORDS);
    f.emit(Op.LGET, m);
    f.emit(Op.SUB);
    f.emit(Op.MGROW);
    f.emit(Op.POP);
    f.bind(big);
    if (args >= 0) {
      f.emit(Op.LGET, m);
      f.jump(Op.JZ, noArgs);
      f.emit(Op.LGET, m);
      f.emit(Op.MGROW);
      f.emit(Op.LTEE, args);
      f.emit(Op.PUSH, 0);
      f.emit(Op.LGET, m);
      f.emit(Op.MCOPY);
      f.bind(noArgs);
    }
    f.emit(Op.PUSH, 0);
    f.emit(Op.PUSH, 0);
    f.emit(Op.PUSH, GLOBAL_WORDS);
    f.emit(Op.MFILL);
    if (args < 0) return;
    if (arrayDepth(fn.params[0].ty) === 2) {
      f.emit(Op.LGET, args);
      f.emit(Op.LGET, m);
      f.emit(Op.CALL, this.rt.textArgs());
      f.emit(Op.POP);
      return;
    }
    // An [int] main given text arguments (the block is longer than [n, a0, ...]) traps rather than reading offsets as numbers.
    const ints = f.label();
    f.emit(Op.LGET, m);
    f.jump(Op.JZ, ints);
    f.emit(Op.LGET, m);
    f.emit(Op.LGET, args);
    f.emit(Op.LOAD, 0);
    f.emit(Op.ADDI, 1);
    f.emit(Op.EQ);
    f.jump(Op.JNZ, ints);
    f.emit(Op.TRAP, TRAP.TEXT_ARGS);
    f.bind(ints);
  }

  /** `f$entry()`: the SPAWNX entry of a library function; arguments wait in memory after the globals. */
  private entryWrapper(fn: FnInfo): number {
    const body = (f: FnEmitter): void => {
      fn.params.forEach((_, i) => {
        f.emit(Op.PUSH, 0);
        f.emit(Op.LOAD, GLOBAL_WORDS + i);
      });
      f.emit(Op.CALL, fn.index);
      if (isArray(fn.result)) f.emit(Op.CALL, this.rt.send(fn.result));
      f.emit(Op.RET);
    };
    return this.mod.request(`entry:${fn.index}`, `${fn.name}$entry`, 0, body, fn.decl.pos);
  }

  /** `f$boxed(args)`: runs f in a child and serializes its array result for the parent. */
  private boxed(fn: FnInfo): number {
    const body = (f: FnEmitter): void => {
      fn.params.forEach((_, i) => f.emit(Op.LGET, i));
      f.emit(Op.CALL, fn.index);
      f.emit(Op.CALL, this.rt.send(fn.result));
      f.emit(Op.RET);
    };
    return this.mod.request(`boxed:${fn.index}`, `${fn.name}$boxed`, fn.params.length, body, fn.decl.pos);
  }

  // --- statements -------------------------------------------------------------

  private block(b: Block): void {
    const mark = this.f.mark();
    for (const s of b.stmts) this.stmt(s);
    this.f.release(mark);
  }

  private stmt(s: Stmt): void {
    const f = this.f;
    switch (s.kind) {
      case "block":
        this.block(s);
        return;
      case "let": {
        this.expr(s.init);
        const l = s.local;
        if (!l) throw new Error("internal: unchecked let");
        l.slot = f.local();
        f.at(s.pos).emit(Op.LSET, l.slot);
        return;
      }
      case "assign": {
        const slot = (s.local as NonNullable<typeof s.local>).slot;
        const inc = this.increment(s.value, slot);
        if (inc !== undefined) {
          f.at(s.pos).emit(Op.LINC, slot, inc);
          return;
        }
        this.expr(s.value);
        f.at(s.pos).emit(Op.LSET, slot);
        return;
      }
      case "index_assign": {
        // a, then i, then the bounds check, then v (spec §5): ASTORE checks
        // after v, so a value whose evaluation is observable is preceded by
        // an explicit check (ALOAD of the slot), unless i < len(a) is known.
        this.expr(s.array);
        this.expr(s.index);
        if (!this.quiet(s.value) && !this.knownInBounds(s.array, s.index)) {
          f.at(s.pos);
          f.emit(Op.OVER);
          f.emit(Op.OVER);
          f.emit(Op.ALOAD);
          f.emit(Op.POP);
        }
        this.expr(s.value);
        f.at(s.pos).emit(Op.ASTORE);
        return;
      }
      case "if": {
        const end = f.label();
        s.clauses.forEach((c, k) => {
          const next = f.label();
          this.cond(c.cond, next, false);
          this.block(c.body);
          if (k < s.clauses.length - 1 || s.otherwise) f.jump(Op.JMP, end);
          f.bind(next);
        });
        if (s.otherwise) this.block(s.otherwise);
        f.bind(end);
        return;
      }
      case "while": {
        const top = f.label();
        const test = f.label();
        const exit = f.label();
        f.at(s.pos).jump(Op.JMP, test);
        f.bind(top);
        this.loops.push({ brk: exit, cont: test });
        this.block(s.body);
        this.loops.pop();
        f.bind(test);
        this.cond(s.cond, top, true);
        f.bind(exit);
        return;
      }
      case "for": {
        const mark = f.mark();
        const i = f.local();
        const bound = f.local();
        (s.local as NonNullable<typeof s.local>).slot = i;
        (s.bound as NonNullable<typeof s.bound>).slot = bound;
        const top = f.label();
        const cont = f.label();
        const test = f.label();
        const exit = f.label();
        this.expr(s.from);
        f.at(s.pos).emit(Op.LSET, i);
        this.expr(s.to);
        f.at(s.pos).emit(Op.LSET, bound);
        f.jump(Op.JMP, test);
        f.bind(top);
        this.loops.push({ brk: exit, cont });
        const facts = this.rangeFacts(s);
        this.block(s.body);
        facts();
        this.loops.pop();
        f.at(s.pos);
        f.bind(cont);
        f.emit(Op.LINC, i, 1);
        f.bind(test);
        f.emit(Op.LGET, i);
        f.emit(Op.LGET, bound);
        f.emit(Op.GE);
        f.jump(Op.JZ, top);
        f.bind(exit);
        f.release(mark);
        return;
      }
      case "break":
      case "continue": {
        const loop = this.loops[this.loops.length - 1];
        f.at(s.pos).jump(Op.JMP, s.kind === "break" ? loop.brk : loop.cont);
        return;
      }
      case "return":
        if (s.value) this.expr(s.value);
        else f.at(s.pos).emit(Op.PUSH, 0);
        f.at(s.pos).emit(Op.RET);
        return;
      case "expr":
        this.expr(s.expr, false);
        return;
    }
  }

  /**
   * In `for i in a..b { body }` where the body assigns neither i nor x and b
   * is len(x) for a local array x, i < len(x) holds in the body (with i >= 0
   * when a is a constant >= 0). Returns the function that forgets this after
   * the body. Only used to skip the early check of `x[i] = v` (ASTORE checks
   * anyway: the fact saves the extra check, it never makes an access safe).
   */
  private rangeFacts(s: ForStmt): () => void {
    const i = s.local as Local;
    const from = this.constValue(s.from);
    if (from === undefined || from < 0 || assigns(s.body, i)) return () => undefined;
    const to = s.to;
    if (to.kind !== "call" || to.target?.kind !== "builtin" || to.target.name !== "len") return () => undefined;
    const x = to.args[0];
    if (x.kind !== "name" || x.ref?.kind !== "local" || assigns(s.body, x.ref.local)) return () => undefined;
    this.inBounds.push({ array: x.ref.local, index: i });
    return () => void this.inBounds.pop();
  }

  /** Whether 0 <= index < len(array) is known where a[i] is evaluated. */
  private knownInBounds(array: Expr, index: Expr): boolean {
    if (index.kind !== "name" || index.ref?.kind !== "local") return false;
    if (array.kind !== "name" || array.ref?.kind !== "local") return false;
    const a = array.ref.local;
    const i = index.ref.local;
    return this.inBounds.some((b) => b.array === a && b.index === i);
  }

  /**
   * Whether evaluating e has no observable effect and cannot fault, allocate
   * or loop: then it may run before a bounds check instead of after it.
   */
  private quiet(root: Expr): boolean {
    const todo: Expr[] = [root];
    while (todo.length > 0) {
      const e = todo.pop() as Expr;
      if (this.constValue(e) !== undefined) continue;
      switch (e.kind) {
        case "name":
          if (e.ref?.kind !== "local" && e.ref?.kind !== "const") return false;
          break;
        case "unary":
          todo.push(e.operand);
          break;
        case "binary":
          if (e.op === "/" || e.op === "%") return false;
          todo.push(e.right, e.left);
          break;
        default:
          return false;
      }
    }
    return true;
  }

  /** `x = x + c` / `x = x - c` / `x = c + x` as an increment, if it is one. */
  private increment(v: Expr, slot: number): number | undefined {
    if (v.kind !== "binary" || (v.op !== "+" && v.op !== "-")) return undefined;
    const isX = (e: Expr): boolean => e.kind === "name" && e.ref?.kind === "local" && e.ref.local.slot === slot;
    if (isX(v.left)) {
      const c = this.constValue(v.right);
      if (c !== undefined) return v.op === "+" ? c : -c | 0;
    }
    if (v.op === "+" && isX(v.right)) return this.constValue(v.left);
    return undefined;
  }

  // --- conditions ---------------------------------------------------------------

  /**
   * Jumps to target when the truth of e equals `when`; falls through otherwise.
   * `&&`, `||` and `!` become jumps; a work list (not recursion) walks them,
   * so a condition chaining 100,000 of them compiles like a short one.
   */
  private cond(e0: Expr, target0: Label, when0: boolean): void {
    const f = this.f;
    const todo: CondTask[] = [{ e: e0, target: target0, when: when0 }];
    while (todo.length > 0) {
      const t = todo.pop() as CondTask;
      if (t instanceof Label) {
        f.bind(t);
        continue;
      }
      const { e, target, when } = t;
      const c = this.constValue(e);
      if (c !== undefined) {
        if ((c !== 0) === when) f.at(e.pos).jump(Op.JMP, target);
        continue;
      }
      if (e.kind === "unary" && e.op === "!") {
        todo.push({ e: e.operand, target, when: !when });
        continue;
      }
      if (e.kind === "binary") {
        if (e.op === "&&" || e.op === "||") {
          // Pushed in reverse: the left operand's code comes first.
          if ((e.op === "||") === when) {
            todo.push({ e: e.right, target, when }, { e: e.left, target, when });
          } else {
            const skip = f.label();
            todo.push(skip, { e: e.right, target, when }, { e: e.left, target: skip, when: !when });
          }
          continue;
        }
        if ((e.op === "==" || e.op === "!=") && this.constValue(e.right) === 0) {
          this.expr(e.left);
          const jumpIfZero = (e.op === "==") === when;
          f.at(e.pos).jump(jumpIfZero ? Op.JZ : Op.JNZ, target);
          continue;
        }
        if (when && NEGATED[e.op] !== undefined) {
          this.expr(e.left);
          this.expr(e.right);
          f.at(e.pos).emit(NEGATED[e.op]);
          f.jump(Op.JZ, target);
          continue;
        }
      }
      this.expr(e);
      f.at(e.pos).jump(when ? Op.JNZ : Op.JZ, target);
    }
  }

  // --- expressions -----------------------------------------------------------

  /** The value of a constant int expression, if e is one whose evaluation cannot fault. */
  private constValue(e: Expr): number | undefined {
    switch (e.kind) {
      case "int":
        return e.value;
      case "name":
        return e.ref?.kind === "const" ? e.ref.value : undefined;
      case "unary": {
        const a = this.constValue(e.operand);
        if (a === undefined) return undefined;
        return e.op === "-" ? -a | 0 : e.op === "!" ? (a === 0 ? 1 : 0) : ~a;
      }
      case "binary": {
        const known = this.folded.get(e);
        if (known !== undefined) return known ?? undefined;
        // Down the left spine to a node already known (or not binary), then fold back up.
        const spine: BinaryExpr[] = [];
        let x: Expr = e;
        while (x.kind === "binary" && !this.folded.has(x)) {
          spine.push(x);
          x = x.left;
        }
        let v = this.constValue(x);
        for (let i = spine.length - 1; i >= 0; i--) {
          const b = spine[i];
          if (v !== undefined) {
            const r = this.constValue(b.right);
            v = r === undefined ? undefined : foldBinary(b.op, v, r);
          }
          this.folded.set(b, v ?? null);
        }
        return v;
      }
      default:
        return undefined;
    }
  }

  /** Pushes the value of e (unless `want` is false and e has no value worth keeping). */
  private expr(e: Expr, want = true): void {
    const f = this.f;
    const c = this.constValue(e);
    if (c !== undefined) {
      if (want) f.at(e.pos).emit(Op.PUSH, c);
      return;
    }
    switch (e.kind) {
      case "str":
        this.string(e.codes, e.pos);
        break;
      case "array": {
        if (e.elems.length === 0) {
          f.at(e.pos).emit(Op.PUSH, 0);
          break;
        }
        f.at(e.pos).emit(Op.PUSH, e.elems.length);
        emitNewArray(f);
        e.elems.forEach((x, i) => {
          f.emit(Op.DUP);
          this.expr(x);
          f.at(e.pos).emit(Op.STORE, 1 + i);
        });
        break;
      }
      case "name": {
        const r = e.ref;
        if (!r) throw new Error("internal: unresolved name");
        if (r.kind === "local") f.at(e.pos).emit(Op.LGET, r.local.slot);
        else if (r.kind === "const_str") this.string(r.codes, e.pos);
        else f.at(e.pos).emit(Op.PUSH, r.value);
        break;
      }
      case "unary":
        this.expr(e.operand);
        f.at(e.pos).emit(e.op === "-" ? Op.NEG : e.op === "!" ? Op.EQZ : Op.NOT);
        break;
      case "binary": {
        if (e.op === "&&" || e.op === "||") {
          const no = f.label();
          const end = f.label();
          this.cond(e, no, false);
          f.at(e.pos).emit(Op.PUSH, 1);
          f.jump(Op.JMP, end);
          f.bind(no);
          f.emit(Op.PUSH, 0);
          f.bind(end);
          break;
        }
        this.arithmetic(e);
        break;
      }
      case "index":
        this.expr(e.array);
        this.expr(e.index);
        f.at(e.pos).emit(Op.ALOAD);
        break;
      case "call":
        if (this.call(e, want)) return;
        break;
      case "sandbox":
        this.sandbox(e);
        break;
      case "spawn":
        this.spawn(e, this.capMask(e.caps), this.capMask(e.traps));
        break;
      case "int":
        throw new Error("internal: int literal is constant");
    }
    if (!want) f.emit(Op.POP);
  }

  /**
   * A binary operator other than && and || whose value is not constant, with
   * the chain it ends: the left spine of such operators is emitted by a loop,
   * leftmost operand first, as recursion would.
   */
  private arithmetic(top: BinaryExpr): void {
    const f = this.f;
    const spine: BinaryExpr[] = [top];
    let x = top.left;
    while (x.kind === "binary" && x.op !== "&&" && x.op !== "||" && this.constValue(x) === undefined) {
      spine.push(x);
      x = x.left;
    }
    this.expr(x);
    for (let i = spine.length - 1; i >= 0; i--) {
      const b = spine[i];
      const k = this.constValue(b.right);
      if (k !== undefined && (b.op === "+" || b.op === "-")) {
        const imm = b.op === "+" ? k : -k | 0;
        if (imm !== 0) f.at(b.pos).emit(Op.ADDI, imm);
        continue;
      }
      this.expr(b.right);
      f.at(b.pos).emit(BINARY_OPS[b.op]);
    }
  }

  /** A fresh array holding the code points. */
  private string(codes: readonly number[], pos: Expr["pos"]): void {
    const f = this.f.at(pos);
    if (codes.length === 0) {
      f.emit(Op.PUSH, 0);
      return;
    }
    f.emit(Op.PUSH, codes.length);
    emitNewArray(f);
    codes.forEach((c, i) => {
      f.emit(Op.DUP);
      f.emit(Op.PUSH, c);
      f.emit(Op.STORE, 1 + i);
    });
  }

  // --- calls -------------------------------------------------------------------

  /** Emits a call; returns true when it already honoured want = false (nothing pushed). */
  private call(e: CallExpr, want: boolean): boolean {
    const f = this.f;
    const t = e.target;
    if (!t) throw new Error("internal: unresolved call");
    switch (t.kind) {
      case "fn":
        for (const a of e.args) this.expr(a);
        f.at(e.pos).emit(Op.CALL, t.fn.index);
        return false;
      case "cap": {
        let words = 0;
        e.args.forEach((a, i) => {
          this.expr(a);
          if (t.args[i] === "array") {
            f.at(e.pos);
            emitArrayWords(f);
            words += 2;
          } else words += 1;
        });
        if (words > MAX_CAP_ARGS) throw this.sources.error(e.pos, `too many argument words for ${t.name} (at most ${MAX_CAP_ARGS})`);
        f.at(e.pos).emit(Op.CAP, this.capIndex(t.name), words);
        if (t.result === "array") emitInboxArray(f);
        return false;
      }
      case "builtin":
        return this.builtin(e, t.name, want);
    }
  }

  private builtin(e: CallExpr, name: string, want: boolean): boolean {
    const f = this.f;
    const a = e.args;
    const at = (): FnEmitter => f.at(e.pos);
    switch (name) {
      case "print":
        this.print(e);
        return false;
      case "puts":
        this.expr(a[0]);
        at();
        emitArrayWords(f);
        f.emit(Op.CAP, this.capIndex(PRINT_CAP), 2);
        return false;
      case "len":
        this.expr(a[0]);
        at().emit(Op.LOAD, 0);
        return false;
      case "array": {
        const ok = f.label();
        this.expr(a[0]);
        at().emit(Op.DUP);
        f.emit(Op.PUSH, 0);
        f.emit(Op.LT);
        f.jump(Op.JZ, ok);
        f.emit(Op.TRAP, TRAP.NEGATIVE_LENGTH);
        f.bind(ok);
        emitNewArray(f);
        return false;
      }
      case "copy":
        this.expr(a[0]);
        at().emit(Op.CALL, this.rt.copy(a[0].ty as Type));
        return false;
      case "resume":
      case "status":
        this.expr(a[0]);
        at().emit(name === "resume" ? Op.RESUME : Op.STATUS);
        return false;
      case "result": {
        this.expr(a[0]);
        const ty = e.ty as Type;
        if (!isArray(ty)) {
          at().emit(Op.RESULT);
          return false;
        }
        const ok = f.label();
        at().emit(Op.DUP);
        f.emit(Op.RESULT);
        f.emit(Op.CALL, this.rt.recv(ty));
        f.emit(Op.DUP);
        f.emit(Op.PUSH, 0);
        f.emit(Op.LT);
        f.jump(Op.JZ, ok);
        f.emit(Op.TRAP, TRAP.BAD_RESULT);
        f.bind(ok);
        return false;
      }
      case "kill":
        this.expr(a[0]);
        at().emit(Op.KILL);
        break;
      case "refuel":
        for (const x of a) this.expr(x);
        at().emit(Op.REFUEL);
        break;
      case "snapshot":
        this.expr(a[0]);
        at().emit(Op.SNAPSHOT);
        emitInboxArray(f);
        return false;
      case "restore":
        this.expr(a[0]);
        at();
        emitArrayWords(f);
        f.emit(Op.RESTORE);
        return false;
      case "yield": {
        this.expr(a[0]);
        const ty = a[0].ty as Type;
        if (isArray(ty)) at().emit(Op.CALL, this.rt.send(ty));
        at().emit(Op.YIELD);
        break;
      }
      case "gas_left":
        at().emit(Op.GASLEFT);
        return false;
      case "mem_left":
        at().emit(Op.MEMLEFT);
        return false;
      case "request":
        this.expr(a[0]);
        at().emit(Op.PUSH, -1);
        f.emit(Op.REQUEST);
        emitInboxArray(f);
        return false;
      case "request_args":
        this.expr(a[0]);
        at().emit(Op.CALL, this.rt.requestArgs());
        return false;
      case "answer": {
        this.expr(a[0]);
        this.expr(a[1]);
        at();
        if (isArray(a[1].ty as Type)) {
          emitArrayWords(f);
          f.emit(Op.ANSWERA);
        } else f.emit(Op.ANSWER);
        break;
      }
      default:
        throw new Error(`internal: builtin ${name}`);
    }
    // Builtins without a value: 0 when one is wanted.
    if (want) f.emit(Op.PUSH, 0);
    return true;
  }

  /** print(a, b, ...): formats into the arena, then one io.print call. Arguments are evaluated first. */
  private print(e: CallExpr): void {
    const f = this.f;
    const mark = f.mark();
    const temps = e.args.map((x) => {
      if (this.literalText(x)) return -1;
      this.expr(x);
      const t = f.local();
      f.at(e.pos).emit(Op.LSET, t);
      return t;
    });
    f.at(e.pos);
    const pos = f.local();
    f.emit(Op.PUSH, 0);
    f.emit(Op.LSET, pos);
    e.args.forEach((x, k) => {
      if (k > 0) {
        f.emit(Op.LGET, pos);
        f.emit(Op.PUSH, 32);
        f.emit(Op.CALL, this.rt.putc());
        f.emit(Op.LSET, pos);
      }
      const text = this.literalText(x);
      if (text) {
        if (text.length === 0) return;
        const b = f.local();
        f.emit(Op.LGET, pos);
        f.emit(Op.PUSH, text.length);
        f.emit(Op.CALL, this.rt.ensure());
        f.emit(Op.LGET, pos);
        f.emit(Op.ADD);
        f.emit(Op.LSET, b);
        text.forEach((c, i) => {
          f.emit(Op.LGET, b);
          f.emit(Op.PUSH, c);
          f.emit(Op.STORE, i);
        });
        f.emit(Op.LINC, pos, text.length);
        return;
      }
      f.emit(Op.LGET, pos);
      f.emit(Op.LGET, temps[k]);
      f.emit(Op.CALL, this.rt.fmt(x.ty as Type));
      f.emit(Op.LSET, pos);
    });
    f.emit(Op.LGET, pos);
    f.emit(Op.CALL, this.rt.flush());
    f.release(mark);
  }

  private literalText(e: Expr): readonly number[] | undefined {
    if (e.kind === "str") return e.codes;
    if (e.kind === "name" && e.ref?.kind === "const_str") return e.ref.codes;
    return undefined;
  }

  // --- processes -----------------------------------------------------------------

  private capMask(list: readonly { name: string }[]): number {
    let m = 0;
    for (const c of list) m |= 1 << this.capIndex(c.name);
    return m;
  }

  private params(t: SpawnTarget): readonly Type[] {
    return t.kind === "fn" ? t.fn.params.map((p) => p.ty) : t.fn.params;
  }

  /**
   * Makes the child; leaves its handle. The child's memory is one block built in
   * the arena: the global words (zero), for a library entry the argument words,
   * then the arrays of the arguments deep-copied with pointers relative to the
   * block, which becomes the child's address 0.
   */
  private spawn(e: SandboxExpr | SpawnExpr, grant: number, trap: number): void {
    const f = this.f;
    const target = e.target as SpawnTarget;
    const lib = target.kind === "lib";
    const types = this.params(target);
    const mark = f.mark();
    const tg = f.local();
    const tm = f.local();
    const evalBudget = (): void => {
      this.expr(e.gas);
      f.at(e.pos).emit(Op.LSET, tg);
      this.expr(e.mem);
      f.at(e.pos).emit(Op.LSET, tm);
    };
    if (e.kind === "sandbox") evalBudget();
    const temps = e.args.map((x) => {
      this.expr(x);
      const t = f.local();
      f.at(e.pos).emit(Op.LSET, t);
      return t;
    });
    if (e.kind === "spawn") evalBudget();
    f.at(e.pos);
    const header = GLOBAL_WORDS + (lib ? types.length : 0);
    const tot = f.local();
    const blk = f.local();
    f.emit(Op.PUSH, header);
    types.forEach((t, i) => {
      if (!isArray(t)) return;
      f.emit(Op.LGET, temps[i]);
      f.emit(Op.CALL, this.rt.size(t));
      f.emit(Op.ADD);
    });
    f.emit(Op.LSET, tot);
    f.emit(Op.PUSH, 0);
    f.emit(Op.LGET, tot);
    f.emit(Op.CALL, this.rt.ensure());
    f.emit(Op.LTEE, blk);
    f.emit(Op.PUSH, 0);
    f.emit(Op.PUSH, header);
    f.emit(Op.MFILL);
    const cur = f.local();
    f.emit(Op.LGET, blk);
    f.emit(Op.ADDI, header);
    f.emit(Op.LSET, cur);
    types.forEach((t, i) => {
      if (!isArray(t)) {
        if (lib) {
          f.emit(Op.LGET, blk);
          f.emit(Op.LGET, temps[i]);
          f.emit(Op.STORE, GLOBAL_WORDS + i);
        }
        return;
      }
      if (lib) f.emit(Op.LGET, blk);
      f.emit(Op.LGET, cur);
      f.emit(Op.LGET, blk);
      f.emit(Op.SUB);
      if (lib) f.emit(Op.STORE, GLOBAL_WORDS + i);
      f.emit(Op.LGET, temps[i]);
      f.emit(Op.LGET, cur);
      f.emit(Op.LGET, blk);
      f.emit(Op.CALL, this.rt.out(t));
      f.emit(Op.LSET, cur);
      if (!lib) f.emit(Op.LSET, temps[i]);
    });
    if (!lib) for (const t of temps) f.emit(Op.LGET, t);
    f.emit(Op.LGET, blk);
    f.emit(Op.LGET, tot);
    f.emit(Op.LGET, tg);
    f.emit(Op.LGET, tm);
    f.emit(Op.PUSH, grant);
    f.emit(Op.PUSH, trap);
    if (target.kind === "lib") f.emit(Op.SPAWNX, target.link, target.fn.entry);
    else f.emit(Op.SPAWN, isArray(target.fn.result) ? this.boxed(target.fn) : target.fn.index);
    f.release(mark);
  }

  /** f<gas, mem>(args) [else e]: spawn, resume, take the result and kill; else or fault if unfinished. */
  private sandbox(e: SandboxExpr): void {
    const f = this.f;
    this.spawn(e, 0, 0);
    const target = e.target as SpawnTarget;
    const ty: Type = target.fn.result;
    const mark = f.mark();
    const h = f.local();
    const st = f.local();
    const fail = f.label();
    const bad = f.label();
    const end = f.label();
    f.at(e.pos);
    f.emit(Op.LTEE, h);
    f.emit(Op.RESUME);
    f.emit(Op.LTEE, st);
    f.emit(Op.PUSH, StatusCode.DONE);
    f.emit(Op.NE);
    f.jump(Op.JNZ, fail);
    f.emit(Op.LGET, h);
    f.emit(Op.RESULT);
    const array = isArray(ty);
    if (array) {
      f.emit(Op.LGET, h);
      f.emit(Op.SWAP);
      f.emit(Op.CALL, this.rt.recv(ty));
      f.emit(Op.DUP);
      f.emit(Op.PUSH, 0);
      f.emit(Op.LT);
      f.jump(Op.JNZ, bad);
    }
    f.emit(Op.LGET, h);
    f.emit(Op.KILL);
    f.jump(Op.JMP, end);
    if (array) {
      f.bind(bad);
      f.emit(Op.POP);
      if (!e.otherwise) f.emit(Op.TRAP, TRAP.BAD_RESULT);
    }
    f.bind(fail);
    if (e.otherwise) {
      f.emit(Op.LGET, h);
      f.emit(Op.KILL);
      this.expr(e.otherwise);
    } else {
      // The child stays in the tree (faulted or stopped) for inspection.
      for (const s of UNFINISHED_STATUSES) {
        if (s === StatusCode.FAULT) continue;
        const next = f.label();
        f.emit(Op.LGET, st);
        f.emit(Op.PUSH, s);
        f.emit(Op.EQ);
        f.jump(Op.JZ, next);
        f.emit(Op.TRAP, TRAP.UNFINISHED_BASE + s);
        f.bind(next);
      }
      f.emit(Op.TRAP, TRAP.UNFINISHED_BASE + StatusCode.FAULT);
    }
    f.bind(end);
    f.release(mark);
  }
}

/** Whether any statement in b assigns the local l. */
function assigns(b: Block, l: Local): boolean {
  const work: Stmt[] = b.stmts.slice();
  while (work.length > 0) {
    const s = work.pop() as Stmt;
    switch (s.kind) {
      case "assign":
        if (s.local === l) return true;
        break;
      case "block":
        for (const t of s.stmts) work.push(t);
        break;
      case "if":
        for (const c of s.clauses) work.push(c.body);
        if (s.otherwise) work.push(s.otherwise);
        break;
      case "while":
      case "for":
        work.push(s.body);
        break;
      default:
        break;
    }
  }
  return false;
}
