// Genome -> module. The translation is stack-safe by construction: it tracks
// the operand-stack height while emitting, drops any gene whose operands are
// not there (or that would push past STACK_CAP), and closes every block at a
// height both paths agree on. The result is then verified like any untrusted
// module; a genome whose module does not verify is never run (see evaluate.ts).
//
// Memory of a candidate is one case block (the program-argument convention):
// scalar inputs at mem[1..k] (mem[0] = k), or one vector as [len, e0, e1, ...].
// A string result is written to an output area after the block:
// mem[stride] = length, characters at mem[stride + 1 ...].

import { RarError } from "../vm/errors.js";
import type { FunctionDef, Module, ModuleDef } from "../vm/module.js";
import { OPS, Op } from "../vm/opcodes.js";
import { verify } from "../vm/verify.js";
import { G, isSafeOp, type Genome } from "./genome.js";

/** Largest operand-stack height a genome's code may reach (keeps frames small). */
export const STACK_CAP = 16;
/** Deepest nesting of IF/LOOP/EACH/WHILE blocks; deeper openers are inert. */
export const MAX_DEPTH = 4;

export type OutputKind = "int" | "bool" | "string";

/** How a problem's cases look to a candidate program. */
export interface Layout {
  /** Scalar inputs (loaded into locals 0..inputs-1), or 1 for a vector input (its length). */
  readonly inputs: number;
  /** The input is one vector at mem[0] = len, mem[1..len]. */
  readonly vector: boolean;
  /** Scratch locals after the inputs. */
  readonly scratch: number;
  readonly output: OutputKind;
  /** Words of one case block. */
  readonly stride: number;
  /** Characters the output area holds (string output). */
  readonly outCap: number;
  /** String constants PRINTS may append. */
  readonly strings: readonly string[];
}

/** Local slots of main: inputs, scratch, then one counter per loop nesting level. */
export function localCount(l: Layout): number {
  return l.inputs + l.scratch + MAX_DEPTH;
}

/** Function indices of the output helpers (string output only). */
const F_EMIT = 1;
const F_PRINT_INT = 2;
const F_STRINGS = 3;

interface Block {
  kind: "if" | "loop" | "each" | "while" | "inert";
  /** if: height after popping the condition. loop/each/while: height the body must end at. */
  base: number;
  /** Operand word to patch with the exit (loops) or else label (if). */
  patch: number;
  /** Loop head pc. */
  head: number;
  /** Counter local (loop, each). */
  counter: number;
  inElse: boolean;
  thenHeight: number;
  /** Operand word of the then-part's JMP (if with else). */
  thenJump: number;
}

class Emitter {
  readonly code: number[] = [];
  h = 0;
  emit(...words: number[]): void {
    for (const w of words) this.code.push(w);
  }
  get pc(): number {
    return this.code.length;
  }
  /** Emits op with a label operand to fill in later; returns the operand's position. */
  jump(op: Op): number {
    this.code.push(op, -1);
    return this.code.length - 1;
  }
  patchTo(at: number, target: number): void {
    this.code[at] = target;
  }
  pushZeros(n: number): void {
    for (let i = 0; i < n; i++) this.code.push(Op.PUSH, 0);
    this.h += Math.max(0, n);
  }
  /** Brings the height to `target`: extra values below the top are dropped (the top survives), missing ones are zeros. */
  normalize(target: number): void {
    while (this.h > target) {
      if (target >= 1) this.code.push(Op.SWAP, Op.POP);
      else this.code.push(Op.POP);
      this.h--;
    }
    this.pushZeros(target - this.h);
  }
}

function compileMain(genome: Genome, l: Layout): number[] {
  const e = new Emitter();
  const named = l.inputs + l.scratch;
  const counterBase = named;
  // Prologue: inputs into locals; the output area for string results.
  if (l.vector) e.emit(Op.PUSH, 0, Op.LOAD, 0, Op.LSET, 0);
  else for (let i = 0; i < l.inputs; i++) e.emit(Op.PUSH, 0, Op.LOAD, 1 + i, Op.LSET, i);
  if (l.output === "string") e.emit(Op.PUSH, l.stride + 1 + l.outCap, Op.MSIZE, Op.SUB, Op.MGROW, Op.POP);

  const blocks: Block[] = [];
  let depth = 0;
  let loops = 0;
  const open = (b: Partial<Block> & { kind: Block["kind"] }): void => {
    blocks.push({ base: 0, patch: -1, head: -1, counter: -1, inElse: false, thenHeight: 0, thenJump: -1, ...b });
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
        closeIf(e, b);
        return;
      case "loop":
        loops--;
        e.normalize(b.base);
        e.emit(Op.JMP, b.head);
        e.patchTo(b.patch, e.pc);
        return;
      case "each":
        loops--;
        e.normalize(b.base);
        e.emit(Op.LINC, b.counter, 1, Op.JMP, b.head);
        e.patchTo(b.patch, e.pc);
        return;
      case "while":
        e.normalize(b.base);
        e.emit(Op.JMP, b.head);
        e.patchTo(b.patch, e.pc);
        e.h = b.base - 1;
        return;
    }
  };
  const canNest = (): boolean => depth < MAX_DEPTH;
  const room = (n: number): boolean => e.h + n <= STACK_CAP;

  for (let i = 0; i < genome.length; i += 2) {
    const kind = genome[i];
    const arg = genome[i + 1];
    switch (kind) {
      case G.Op: {
        if (!isSafeOp(arg)) break;
        const info = OPS[arg];
        if (e.h < info.pop || e.h - info.pop + info.push > STACK_CAP) break;
        e.emit(arg);
        e.h += info.push - info.pop;
        break;
      }
      case G.Push:
        if (!room(1)) break;
        e.emit(Op.PUSH, arg);
        e.h++;
        break;
      case G.AddI:
        if (e.h >= 1) e.emit(Op.ADDI, arg);
        break;
      case G.Get:
        if (arg < 0 || arg >= named || !room(1)) break;
        e.emit(Op.LGET, arg);
        e.h++;
        break;
      case G.Set:
        if (arg < 0 || arg >= named || e.h < 1) break;
        e.emit(Op.LSET, arg);
        e.h--;
        break;
      case G.Inc:
        if (arg >= 0 && arg < named) e.emit(Op.LINC, arg, 1);
        break;
      case G.Min:
      case G.Max: {
        if (e.h < 2 || !room(2)) break;
        e.emit(Op.OVER, Op.OVER, kind === G.Min ? Op.GT : Op.LT);
        const skip = e.jump(Op.JZ);
        e.emit(Op.SWAP);
        e.patchTo(skip, e.pc);
        e.emit(Op.POP);
        e.h--;
        break;
      }
      case G.Nand:
      case G.Nor:
        if (e.h < 2) break;
        e.emit(kind === G.Nand ? Op.AND : Op.OR, Op.EQZ);
        e.h--;
        break;
      case G.If:
        if (e.h < 1 || !canNest()) {
          open({ kind: "inert" });
          break;
        }
        e.h--;
        open({ kind: "if", base: e.h, patch: e.jump(Op.JZ) });
        break;
      case G.Else: {
        const b = blocks[blocks.length - 1];
        if (!b || b.kind !== "if" || b.inElse) break;
        b.thenHeight = e.h;
        b.thenJump = e.jump(Op.JMP);
        e.patchTo(b.patch, e.pc);
        b.inElse = true;
        e.h = b.base;
        break;
      }
      case G.End:
        if (blocks.length > 0) close();
        break;
      case G.Loop: {
        if (e.h < 1 || !canNest() || !room(1)) {
          open({ kind: "inert" });
          break;
        }
        const counter = counterBase + loops;
        e.emit(Op.LSET, counter);
        e.h--;
        const head = e.pc;
        e.emit(Op.LGET, counter, Op.PUSH, 0, Op.GT);
        const exit = e.jump(Op.JZ);
        e.emit(Op.LINC, counter, -1);
        open({ kind: "loop", base: e.h, head, patch: exit, counter });
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
        e.emit(Op.PUSH, 0, Op.PUSH, 0, Op.LSET, counter);
        e.h++;
        const head = e.pc;
        e.emit(Op.LGET, counter, Op.PUSH, 0, Op.LOAD, 0, Op.LT);
        const exit = e.jump(Op.JZ);
        e.emit(Op.LGET, counter, Op.LOAD, 1);
        open({ kind: "each", base: e.h, head, patch: exit, counter });
        e.h++;
        break;
      }
      case G.While: {
        if (e.h < 1 || !canNest()) {
          open({ kind: "inert" });
          break;
        }
        const head = e.pc;
        const exit = e.jump(Op.JZ);
        open({ kind: "while", base: e.h, head, patch: exit });
        e.h--;
        break;
      }
      case G.Index: {
        if (loops === 0 || !room(1)) break;
        let counter = -1;
        for (let k = blocks.length - 1; k >= 0 && counter < 0; k--)
          if (blocks[k].kind === "loop" || blocks[k].kind === "each") counter = blocks[k].counter;
        e.emit(Op.LGET, counter);
        e.h++;
        break;
      }
      case G.Elem:
        if (l.vector && e.h >= 1) e.emit(Op.LOAD, 1);
        break;
      case G.Load:
        if (e.h >= 1) e.emit(Op.LOAD, arg);
        break;
      case G.Store:
        if (e.h < 2) break;
        e.emit(Op.STORE, arg);
        e.h -= 2;
        break;
      case G.Recurse:
        if (!room(1)) break;
        e.emit(Op.CALL, 0);
        e.h++;
        break;
      case G.PrintI:
      case G.PrintC:
        if (l.output !== "string" || e.h < 1) break;
        e.emit(Op.CALL, kind === G.PrintI ? F_PRINT_INT : F_EMIT, Op.POP);
        e.h--;
        break;
      case G.PrintS:
        if (l.output !== "string" || arg < 0 || arg >= l.strings.length || !room(1)) break;
        e.emit(Op.CALL, F_STRINGS + arg, Op.POP);
        break;
      default:
        break;
    }
  }
  while (blocks.length > 0) close();
  if (e.h === 0) e.emit(Op.PUSH, 0);
  e.emit(Op.RET);
  return e.code;
}

/** Closes an IF so that both paths meet at the larger of their two heights. */
function closeIf(e: Emitter, b: Block): void {
  if (!b.inElse) {
    const thenH = e.h;
    if (thenH > b.base) {
      // Then-part is higher: the (empty) else path pads up to it.
      const end = e.jump(Op.JMP);
      e.patchTo(b.patch, e.pc);
      const h = e.h;
      e.h = b.base;
      e.pushZeros(thenH - b.base);
      e.h = h;
      e.patchTo(end, e.pc);
    } else {
      e.pushZeros(b.base - thenH);
      e.patchTo(b.patch, e.pc);
    }
    return;
  }
  const elseH = e.h;
  const top = Math.max(b.thenHeight, elseH);
  if (elseH < top) {
    e.pushZeros(top - elseH);
    e.patchTo(b.thenJump, e.pc);
  } else if (b.thenHeight === top) {
    e.patchTo(b.thenJump, e.pc);
  } else {
    const end = e.jump(Op.JMP);
    e.patchTo(b.thenJump, e.pc);
    e.h = b.thenHeight;
    e.pushZeros(top - b.thenHeight);
    e.patchTo(end, e.pc);
  }
  e.h = top;
}

/** emit(c): append character c to the output area unless it is full. */
function emitHelper(l: Layout): number[] {
  const out = l.stride;
  // prettier-ignore
  const c = [
    Op.PUSH, 0, Op.LOAD, out,               // n
    Op.DUP, Op.PUSH, l.outCap, Op.GE, Op.JNZ, -1,
    Op.DUP, Op.LGET, 0, Op.STORE, out + 1,  // mem[out + 1 + n] = c
    Op.ADDI, 1, Op.PUSH, 0, Op.SWAP, Op.STORE, out, // mem[out] = n + 1
    Op.PUSH, 0, Op.RET,
  ];
  c[c.indexOf(-1)] = c.length;
  c.push(Op.POP, Op.PUSH, 0, Op.RET); // full: drop the character
  return c;
}

/** print_int(v): append v's decimal digits (with a leading '-'). Locals: v, p. */
function printIntHelper(): number[] {
  const c: number[] = [];
  const emit = (...w: number[]): void => void c.push(...w);
  emit(Op.LGET, 0, Op.PUSH, 0, Op.LT, Op.JZ, -1);
  const pos = c.length - 1;
  emit(Op.PUSH, 45, Op.CALL, F_EMIT, Op.POP, Op.LGET, 0, Op.NEG, Op.LSET, 0);
  c[pos] = c.length;
  emit(Op.PUSH, 1, Op.LSET, 1);
  const grow = c.length;
  emit(Op.LGET, 0, Op.LGET, 1, Op.DIV, Op.PUSH, 10, Op.GE, Op.JZ, -1);
  const toDigits = c.length - 1;
  emit(Op.LGET, 1, Op.PUSH, 10, Op.MUL, Op.LSET, 1, Op.JMP, grow);
  const digits = c.length;
  c[toDigits] = digits;
  emit(Op.LGET, 1, Op.JZ, -1);
  const toDone = c.length - 1;
  emit(Op.LGET, 0, Op.LGET, 1, Op.DIV, Op.PUSH, 10, Op.REM, Op.ADDI, 48, Op.CALL, F_EMIT, Op.POP);
  emit(Op.LGET, 1, Op.PUSH, 10, Op.DIV, Op.LSET, 1, Op.JMP, digits);
  c[toDone] = c.length;
  emit(Op.PUSH, 0, Op.RET);
  return c;
}

function stringHelper(s: string): number[] {
  const c: number[] = [];
  for (const ch of s) c.push(Op.PUSH, ch.codePointAt(0) as number, Op.CALL, F_EMIT, Op.POP);
  c.push(Op.PUSH, 0, Op.RET);
  return c;
}

/** Rebases a function's absolute jump targets to where it lands in the module. */
function relocate(words: number[], base: number): number[] {
  if (base === 0) return words;
  const out = words.slice();
  for (let pc = 0; pc < out.length; ) {
    const op = out[pc];
    const info = OPS[op];
    info.operands.forEach((k, i) => {
      if (k === "label") out[pc + 1 + i] += base;
    });
    pc += 1 + info.operands.length;
  }
  return out;
}

/** The module definition of a genome: main first, then the output helpers for string problems. */
export function compileGenome(genome: Genome, l: Layout, name = "gp"): ModuleDef {
  const bodies: { name: string; nparams: number; nlocals: number; words: number[] }[] = [
    { name: "main", nparams: 0, nlocals: localCount(l), words: compileMain(genome, l) },
  ];
  if (l.output === "string") {
    bodies.push({ name: "emit", nparams: 1, nlocals: 1, words: emitHelper(l) });
    bodies.push({ name: "print_int", nparams: 1, nlocals: 2, words: printIntHelper() });
    l.strings.forEach((s, i) => bodies.push({ name: `str${i}`, nparams: 0, nlocals: 0, words: stringHelper(s) }));
  }
  const code: number[] = [];
  const functions: FunctionDef[] = [];
  for (const b of bodies) {
    const entry = code.length;
    // Functions are compiled with pcs from 0; jumps are absolute, so shift them.
    const words = relocate(b.words, entry);
    for (const w of words) code.push(w);
    functions.push({ name: b.name, nparams: b.nparams, nlocals: b.nlocals, entry, end: code.length });
  }
  return { name, caps: [], functions, code: Int32Array.from(code) };
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

