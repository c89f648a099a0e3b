// Genome -> module, through the shared emitter (lang/emit.ts). The
// translation is stack-safe by construction: it reads the operand-stack
// height the emitter follows, drops any gene whose operands are not there (or
// that would push past STACK_CAP), and closes every block at a height both
// paths agree on. The result is then verified like any untrusted
// module; a genome whose module does not verify is never run (see evaluate.ts).
//
// Memory of a candidate is one case block (the program-argument convention):
// scalar inputs at mem[1..k] (mem[0] = k), or one vector as [len, e0, e1, ...].
// A second input (two-input vector problems) sits at a fixed place in the
// block, secondAt(). A string, vector or several-integer result is written to
// an output area after the block: mem[stride] = length (for a vector, 1 + its
// length, 0 for none; for integers, which outputs were set), the values at
// mem[stride + 1 ...].

import { RarError, verify, type Module, type ModuleDef } from "../src/index.js";
import { ModuleEmitter, OPS, Op, type FnEmitter, type Label } from "../src/internals.js";
import { G, isSafeOp, type Genome } from "./genome.js";

/** Largest operand-stack height a genome's code may reach (keeps frames small). */
export const STACK_CAP = 16;
/** Deepest nesting of IF/LOOP/EACH/WHILE blocks; deeper openers are inert. */
export const MAX_DEPTH = 4;

/**
 * What a program produces: the integer or boolean it returns, or what it
 * wrote to the output area: a string (characters), a vector of integers, or
 * a fixed number of integers (`ints`, `outCap` of them).
 */
export type OutputKind = "int" | "bool" | "string" | "vector" | "ints";

/** How a problem's cases look to a candidate program. */
export interface Layout {
  /** Scalar inputs (loaded into locals 0..inputs-1), or 1 for a vector input (its length). */
  readonly inputs: number;
  /** The input is one vector at mem[0] = len, mem[1..len]. */
  readonly vector: boolean;
  /**
   * A second input after the vector (then `inputs` is 2 and local 1 holds
   * it): another vector (local 1 = its length) or one integer. See secondAt.
   */
  readonly second?: "vector" | "int";
  /** Scratch locals after the inputs. */
  readonly scratch: number;
  readonly output: OutputKind;
  /** Words of one case block. */
  readonly stride: number;
  /** Values the output area holds: characters (string), elements (vector), or the number of outputs (ints). */
  readonly outCap: number;
  /** String constants PRINTS may append. */
  readonly strings: readonly string[];
}

/** Local slots of main: inputs, scratch, then one counter per loop nesting level. */
export function localCount(l: Layout): number {
  return l.inputs + l.scratch + MAX_DEPTH;
}

/**
 * Where a case block's second input sits: a vector's length word at
 * stride / 2 (its elements after it; both vectors get the same room, so the
 * stride is even), an integer in the block's last word.
 */
export function secondAt(stride: number, kind: "vector" | "int"): number {
  return kind === "vector" ? stride >> 1 : stride - 1;
}

/** The program writes its result to the output area after the case block (string, vector and several-integer outputs). */
export function hasOutArea(l: Pick<Layout, "output">): boolean {
  return l.output === "string" || l.output === "vector" || l.output === "ints";
}

/** Function indices of the output helpers (string output; a vector output's append is F_EMIT too). */
const F_EMIT = 1;
const F_PRINT_INT = 2;
const F_STRINGS = 3;

interface Block {
  kind: "if" | "loop" | "each" | "while" | "inert";
  /** if: height after popping the condition. loop/each/while: height the body must end at. */
  base: number;
  /** Where a false condition goes: the loop's exit, or the IF's else-part (or end). */
  exit: Label | null;
  /** Loop head. */
  head: Label | null;
  /** Counter local (loop, each). */
  counter: number;
  inElse: boolean;
  thenHeight: number;
  /** End of the then-part's JMP over the else-part (if with else). */
  thenEnd: Label | null;
}

function pushZeros(f: FnEmitter, n: number): void {
  for (let i = 0; i < n; i++) f.emit(Op.PUSH, 0);
}

/** Brings the height to `target`: extra values below the top are dropped (the top survives), missing ones are zeros. */
function normalize(f: FnEmitter, target: number): void {
  while (f.height > target) {
    if (target >= 1) f.emit(Op.SWAP);
    f.emit(Op.POP);
  }
  pushZeros(f, target - f.height);
}

function compileMain(f: FnEmitter, genome: Genome, l: Layout): void {
  const named = l.inputs + l.scratch;
  const counterBase = named;
  f.reserve(localCount(l));
  // Prologue: inputs into locals; the output area for string results.
  if (l.vector) f.code(Op.PUSH, 0, Op.LOAD, 0, Op.LSET, 0);
  else for (let i = 0; i < l.inputs; i++) f.code(Op.PUSH, 0, Op.LOAD, 1 + i, Op.LSET, i);
  const second = l.vector && l.second ? secondAt(l.stride, l.second) : -1;
  if (second >= 0) f.code(Op.PUSH, 0, Op.LOAD, second, Op.LSET, 1);
  if (hasOutArea(l)) f.code(Op.PUSH, l.stride + 1 + l.outCap, Op.MSIZE, Op.SUB, Op.MGROW, Op.POP);

  const blocks: Block[] = [];
  let depth = 0;
  let loops = 0;
  const open = (b: Partial<Block> & { kind: Block["kind"] }): void => {
    blocks.push({ base: 0, exit: null, head: null, counter: -1, inElse: false, thenHeight: 0, thenEnd: null, ...b });
    if (b.kind !== "inert") depth++;
    if (b.kind === "loop" || b.kind === "each") loops++;
  };
  const close = (): void => {
    const b = blocks.pop() as Block;
    if (b.kind !== "inert") depth--;
    switch (b.kind) {
      case "inert":
        return;
      case "if":
        closeIf(f, b);
        return;
      case "loop":
      case "each":
      case "while":
        if (b.kind !== "while") loops--;
        normalize(f, b.base);
        if (b.kind === "each") f.emit(Op.LINC, b.counter, 1);
        f.jump(Op.JMP, b.head as Label);
        f.bind(b.exit as Label);
        return;
    }
  };
  const canNest = (): boolean => depth < MAX_DEPTH;
  const room = (n: number): boolean => f.height + n <= STACK_CAP;

  for (let i = 0; i < genome.length; i += 2) {
    const kind = genome[i];
    const arg = genome[i + 1];
    switch (kind) {
      case G.Op: {
        if (!isSafeOp(arg)) break;
        const info = OPS[arg];
        if (f.height < info.pop || f.height - info.pop + info.push > STACK_CAP) break;
        f.emit(arg);
        break;
      }
      case G.Push:
        if (room(1)) f.emit(Op.PUSH, arg);
        break;
      case G.AddI:
        if (f.height >= 1) f.emit(Op.ADDI, arg);
        break;
      case G.Get:
        if (arg >= 0 && arg < named && room(1)) f.emit(Op.LGET, arg);
        break;
      case G.Set:
        if (arg >= 0 && arg < named && f.height >= 1) f.emit(Op.LSET, arg);
        break;
      case G.Inc:
        if (arg >= 0 && arg < named) f.emit(Op.LINC, arg, 1);
        break;
      case G.Min:
      case G.Max: {
        if (f.height < 2 || !room(2)) break;
        const skip = f.label();
        f.emit(Op.OVER);
        f.emit(Op.OVER);
        f.emit(kind === G.Min ? Op.GT : Op.LT);
        f.jump(Op.JZ, skip);
        f.emit(Op.SWAP);
        f.bind(skip);
        f.emit(Op.POP);
        break;
      }
      case G.Nand:
      case G.Nor:
        if (f.height < 2) break;
        f.emit(kind === G.Nand ? Op.AND : Op.OR);
        f.emit(Op.EQZ);
        break;
      case G.If: {
        if (f.height < 1 || !canNest()) {
          open({ kind: "inert" });
          break;
        }
        const exit = f.label();
        f.jump(Op.JZ, exit);
        open({ kind: "if", base: f.height, exit });
        break;
      }
      case G.Else: {
        const b = blocks[blocks.length - 1];
        if (!b || b.kind !== "if" || b.inElse) break;
        b.thenHeight = f.height;
        b.thenEnd = f.label();
        f.jump(Op.JMP, b.thenEnd);
        f.bind(b.exit as Label); // at the height after the condition
        b.inElse = true;
        break;
      }
      case G.End:
        if (blocks.length > 0) close();
        break;
      case G.Loop: {
        if (f.height < 1 || !canNest() || !room(1)) {
          open({ kind: "inert" });
          break;
        }
        const counter = counterBase + loops;
        f.emit(Op.LSET, counter);
        const head = f.here();
        const exit = f.label();
        f.emit(Op.LGET, counter);
        f.emit(Op.PUSH, 0);
        f.emit(Op.GT);
        f.jump(Op.JZ, exit);
        f.emit(Op.LINC, counter, -1);
        open({ kind: "loop", base: f.height, head, exit, counter });
        break;
      }
      case G.Each: {
        // A fold: the accumulator (initially 0) stays on the stack; each pass
        // pushes the next element above it, and the body's top value becomes
        // the new accumulator.
        if (!l.vector || !canNest() || !room(3)) {
          open({ kind: "inert" });
          break;
        }
        const counter = counterBase + loops;
        f.emit(Op.PUSH, 0);
        f.emit(Op.PUSH, 0);
        f.emit(Op.LSET, counter);
        const head = f.here();
        const exit = f.label();
        f.emit(Op.LGET, counter);
        f.emit(Op.PUSH, 0);
        f.emit(Op.LOAD, 0);
        f.emit(Op.LT);
        f.jump(Op.JZ, exit);
        open({ kind: "each", base: f.height, head, exit, counter });
        f.emit(Op.LGET, counter);
        f.emit(Op.LOAD, 1);
        break;
      }
      case G.While: {
        if (f.height < 1 || !canNest()) {
          open({ kind: "inert" });
          break;
        }
        const base = f.height;
        const head = f.here();
        const exit = f.label();
        f.jump(Op.JZ, exit);
        open({ kind: "while", base, head, exit });
        break;
      }
      case G.Index: {
        if (loops === 0 || !room(1)) break;
        let counter = -1;
        for (let k = blocks.length - 1; k >= 0 && counter < 0; k--)
          if (blocks[k].kind === "loop" || blocks[k].kind === "each") counter = blocks[k].counter;
        f.emit(Op.LGET, counter);
        break;
      }
      case G.Elem:
        if (l.vector && f.height >= 1) f.emit(Op.LOAD, 1);
        break;
      case G.Elem2:
        if (l.second === "vector" && second >= 0 && f.height >= 1) f.emit(Op.LOAD, second + 1);
        break;
      case G.OutV:
        if (l.output !== "vector" || f.height < 1) break;
        f.emit(Op.CALL, F_EMIT);
        f.emit(Op.POP);
        break;
      case G.OutNew:
        if (l.output !== "vector" || !room(2)) break;
        f.code(Op.PUSH, 0, Op.PUSH, 1, Op.STORE, l.stride);
        break;
      case G.Out: {
        // Output k := the popped value; bit k of mem[stride] marks it set.
        if (l.output !== "ints" || arg < 0 || arg >= l.outCap || f.height < 1 || !room(2)) break;
        f.code(Op.PUSH, 0, Op.SWAP, Op.STORE, l.stride + 1 + arg);
        f.code(Op.PUSH, 0, Op.PUSH, 0, Op.LOAD, l.stride, Op.PUSH, 1 << arg, Op.OR, Op.STORE, l.stride);
        break;
      }
      case G.Load:
        if (f.height >= 1) f.emit(Op.LOAD, arg);
        break;
      case G.Store:
        if (f.height >= 2) f.emit(Op.STORE, arg);
        break;
      case G.Recurse:
        if (room(1)) f.emit(Op.CALL, 0);
        break;
      case G.PrintI:
      case G.PrintC:
        if (l.output !== "string" || f.height < 1) break;
        f.emit(Op.CALL, kind === G.PrintI ? F_PRINT_INT : F_EMIT);
        f.emit(Op.POP);
        break;
      case G.PrintS:
        if (l.output !== "string" || arg < 0 || arg >= l.strings.length || !room(1)) break;
        f.emit(Op.CALL, F_STRINGS + arg);
        f.emit(Op.POP);
        break;
      default:
        break;
    }
  }
  while (blocks.length > 0) close();
  if (f.height === 0) f.emit(Op.PUSH, 0);
  f.emit(Op.RET);
}

/** Closes an IF so that both paths meet at the larger of their two heights. */
function closeIf(f: FnEmitter, b: Block): void {
  if (!b.inElse) {
    const thenH = f.height;
    if (thenH > b.base) {
      // Then-part is higher: the (empty) else path pads up to it.
      const end = f.label();
      f.jump(Op.JMP, end);
      f.bind(b.exit as Label);
      pushZeros(f, thenH - b.base);
      f.bind(end);
    } else {
      pushZeros(f, b.base - thenH);
      f.bind(b.exit as Label);
    }
    return;
  }
  const elseH = f.height;
  const top = Math.max(b.thenHeight, elseH);
  if (elseH < top) {
    pushZeros(f, top - elseH);
    f.bind(b.thenEnd as Label);
  } else if (b.thenHeight === top) {
    f.bind(b.thenEnd as Label);
  } else {
    const end = f.label();
    f.jump(Op.JMP, end);
    f.bind(b.thenEnd as Label); // at the then-part's height
    pushZeros(f, top - b.thenHeight);
    f.bind(end);
  }
}

/**
 * append(v): append v to the output vector unless it is full. mem[out] is 1 +
 * the vector's length, 0 while no vector was written (memory starts zeroed,
 * so "no output" needs no prologue and survives RECURSE); a first append
 * starts it empty.
 */
function appendHelper(f: FnEmitter, l: Layout): void {
  const out = l.stride;
  const full = f.label();
  const started = f.label();
  f.code(Op.PUSH, 0, Op.LOAD, out); // c = 1 + length, or 0
  f.code(Op.DUP, Op.EQZ);
  f.jump(Op.JZ, started);
  f.code(Op.POP, Op.PUSH, 1);
  f.bind(started);
  f.code(Op.DUP, Op.PUSH, l.outCap, Op.GT);
  f.jump(Op.JNZ, full);
  f.code(Op.DUP, Op.LGET, 0, Op.STORE, out); // mem[out + c] = v: element c - 1
  f.code(Op.ADDI, 1, Op.PUSH, 0, Op.SWAP, Op.STORE, out); // mem[out] = c + 1
  f.code(Op.PUSH, 0, Op.RET);
  f.bind(full); // full: drop the element
  f.code(Op.POP, Op.PUSH, 0, Op.RET);
}

/** emit(c): append character c to the output area unless it is full. */
function emitHelper(f: FnEmitter, l: Layout): void {
  const out = l.stride;
  const full = f.label();
  f.code(Op.PUSH, 0, Op.LOAD, out); // n
  f.code(Op.DUP, Op.PUSH, l.outCap, Op.GE);
  f.jump(Op.JNZ, full);
  f.code(Op.DUP, Op.LGET, 0, Op.STORE, out + 1); // mem[out + 1 + n] = c
  f.code(Op.ADDI, 1, Op.PUSH, 0, Op.SWAP, Op.STORE, out); // mem[out] = n + 1
  f.code(Op.PUSH, 0, Op.RET);
  f.bind(full); // full: drop the character
  f.code(Op.POP, Op.PUSH, 0, Op.RET);
}

/** print_int(v): append v's decimal digits (with a leading '-'). Locals: v, p. */
function printIntHelper(f: FnEmitter): void {
  f.reserve(2);
  const positive = f.label();
  const grow = f.label();
  const digits = f.label();
  const done = f.label();
  f.code(Op.LGET, 0, Op.PUSH, 0, Op.LT);
  f.jump(Op.JZ, positive);
  f.code(Op.PUSH, 45, Op.CALL, F_EMIT, Op.POP, Op.LGET, 0, Op.NEG, Op.LSET, 0);
  f.bind(positive);
  f.code(Op.PUSH, 1, Op.LSET, 1);
  f.bind(grow);
  f.code(Op.LGET, 0, Op.LGET, 1, Op.DIV, Op.PUSH, 10, Op.GE);
  f.jump(Op.JZ, digits);
  f.code(Op.LGET, 1, Op.PUSH, 10, Op.MUL, Op.LSET, 1);
  f.jump(Op.JMP, grow);
  f.bind(digits);
  f.code(Op.LGET, 1);
  f.jump(Op.JZ, done);
  f.code(Op.LGET, 0, Op.LGET, 1, Op.DIV, Op.PUSH, 10, Op.REM, Op.ADDI, 48, Op.CALL, F_EMIT, Op.POP);
  f.code(Op.LGET, 1, Op.PUSH, 10, Op.DIV, Op.LSET, 1);
  f.jump(Op.JMP, digits);
  f.bind(done);
  f.code(Op.PUSH, 0, Op.RET);
}

function stringHelper(f: FnEmitter, s: string): void {
  for (const ch of s) f.code(Op.PUSH, ch.codePointAt(0) as number, Op.CALL, F_EMIT, Op.POP);
  f.code(Op.PUSH, 0, Op.RET);
}

/** Declares the output helpers for string (and vector) problems, after main (emitted afresh: compileGenome pastes them). */
export function declareHelpers(m: ModuleEmitter, l: Layout): void {
  if (l.output === "vector") m.declare("append", 1, (f) => appendHelper(f, l));
  if (l.output === "string") {
    m.declare("emit", 1, (f) => emitHelper(f, l));
    m.declare("print_int", 1, printIntHelper);
    l.strings.forEach((s, i) => m.declare(`str${i}`, 0, (f) => stringHelper(f, s)));
  }
}

/** A layout's output helpers as emitted once: each one's code, where it started, and its locals. */
interface Helpers {
  readonly functions: readonly { readonly name: string; readonly nparams: number; readonly nlocals: number; readonly from: number; readonly words: Int32Array }[];
}

const HELPERS = new WeakMap<Layout, Helpers>();

/** The output helpers of a layout, emitted once (behind a main that only returns) and pasted into every genome's module. */
function helpersOf(l: Layout): Helpers {
  let h = HELPERS.get(l);
  if (h === undefined) {
    const m = new ModuleEmitter();
    m.declare("main", 0, (f) => f.code(Op.PUSH, 0, Op.RET));
    declareHelpers(m, l);
    const def = m.build("helpers");
    h = { functions: def.functions.slice(1).map((f) => ({ name: f.name, nparams: f.nparams, nlocals: f.nlocals, from: f.entry, words: def.code.slice(f.entry, f.end) })) };
    HELPERS.set(l, h);
  }
  return h;
}

/** The module definition of a genome: main first, then the output helpers for string (and vector) problems. */
export function compileGenome(genome: Genome, l: Layout, name = "gp"): ModuleDef {
  const m = new ModuleEmitter();
  m.declare("main", 0, (f) => compileMain(f, genome, l));
  for (const h of helpersOf(l).functions) m.declare(h.name, h.nparams, (f) => f.paste(h.words, h.from, h.nlocals));
  return m.build(name);
}

/** Compiles and verifies; null when the module does not verify (such a genome is never run). */
export function buildCandidate(genome: Genome, l: Layout, name = "gp"): Module | null {
  try {
    return verify(compileGenome(genome, l, name));
  } catch (e) {
    if (e instanceof RarError) return null;
    throw e;
  }
}

