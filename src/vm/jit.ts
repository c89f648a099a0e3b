// The second tier: a hot module's verified code translated to JavaScript, one
// `switch` case per basic block, so V8 compiles guest loops to machine code.
//
// What each instruction does comes from its row in semantics.ts, translated
// by translate.ts exactly as the interpreter's cases are. Exactness of the
// blocks comes from three rules:
// - A block is charged its whole gas when it is entered, and only if all of
//   it fits; otherwise the compiled code stops at the block's first
//   instruction and the interpreter runs it one instruction at a time, so
//   exhaustion happens at exactly the interpreter's boundary.
// - Operand values live in JS constants inside a block and are written back
//   at its end, where the operand height (and so sp) is the one the verifier
//   derived; locals are read and written in the stack array in program order.
// - Anything unusual (a fault, a frame that does not fit, an instruction the
//   scheduler or the interpreter runs) stops the compiled code *before* that
//   instruction with the state the interpreter would have there, the rest of
//   the block's gas refunded; the interpreter then runs the instruction itself,
//   with its own messages and exits.
//
// The generated text is built from numbers only (code words, pcs, costs), never
// from guest strings.

import { type Cpu, Exit, growInt32 } from "./interpreter.js";
import type { Module } from "./module.js";
import { BULK, COMPILED, Frame, GAS, OPS, Op, SCHEDULED, WIDTH, wordGas } from "./opcodes.js";
import { type Fact, type FrameConstant, type Guard, type Special, Translator } from "./translate.js";

/** A compiled chunk: runs from cpu.pc; returns an Exit, or STOP to hand the pc back to the driver. */
type Chunk = (cpu: Cpu) => number;

/** Returned by a chunk when the instruction at cpu.pc is not its to run (see execute.ts). */
export const STOP = -1;

/** Compiled form of a module. */
export interface Compiled {
  /** Per pc: the block starting there (>= 0), or -1 where no block starts. */
  readonly leader: Int32Array;
  /** Per pc: the chunk whose code covers it, or -1 (function left to the interpreter). */
  readonly chunkOf: Int32Array;
  readonly chunks: readonly Chunk[];
}

/** Functions are grouped into chunks of about this many code words (V8 optimizes small functions best). */
const CHUNK_WORDS = 4096;
/** Instructions translated into one block at most once it has run past another block's start. */
const MAX_BLOCK = 64;
/**
 * Instructions translated a second time (past another block's start), at most,
 * per code word of a chunk: bounds the generated text however densely a
 * module is cut into blocks.
 */
const COPIES_PER_WORD = 2;
/**
 * A module larger than this stays interpreted: compiling costs host time and
 * memory in proportion to code size that no guest gas pays for, so it is
 * bounded (Ent programs and benchmarks are far smaller).
 */
const MAX_MODULE_WORDS = 65536;
/** A function larger than this stays interpreted. */
const MAX_FUNCTION_WORDS = 32768;

/** Compiles a verified module, or returns null if none of it is worth compiling. */
export function compileModule(m: Module): Compiled | null {
  const n = m.code.length;
  if (n > MAX_MODULE_WORDS) return null;
  const leader = new Int32Array(n).fill(-1);
  const chunkOf = new Int32Array(n).fill(-1);
  // Group functions in order; block numbers are module-wide, so a chunk's
  // switch has cases for its own blocks only and knows every other block's number.
  const groups: number[][] = [];
  let words = CHUNK_WORDS;
  let blocks = 0;
  m.functions.forEach((f, i) => {
    const size = f.end - f.entry;
    if (size > MAX_FUNCTION_WORDS) return;
    if (words + size > CHUNK_WORDS) {
      groups.push([]);
      words = 0;
    }
    groups[groups.length - 1].push(i);
    words += size;
    blocks = findBlocks(m, i, leader, blocks);
  });
  const chunks = groups.map((group, k) => {
    for (const f of group) chunkOf.fill(k, m.functions[f].entry, m.functions[f].end);
    return compileChunk(m, group, leader);
  });
  return chunks.length > 0 ? { leader, chunkOf, chunks } : null;
}

/** Marks block starts of function f in `leader` (numbered from `next`); returns the next number. */
function findBlocks(m: Module, f: number, leader: Int32Array, next: number): number {
  const { entry, end } = m.functions[f];
  const code = m.code;
  const starts = new Set<number>([entry]);
  for (let pc = entry; pc < end; pc += WIDTH[code[pc]]) {
    if (m.heights[pc] < 0) continue;
    const op = code[pc];
    const after = pc + WIDTH[op];
    const flow = OPS[op].flow;
    // Bulk instructions end their block: their extra gas is known only when they run, so nothing after them may have been charged in advance.
    if (flow === "jump" || flow === "branch") starts.add(code[pc + 1]);
    if (flow !== "next" || op === Op.CALL || BULK[op] === 1 || COMPILED[op] === 0) {
      if (COMPILED[op] === 0) starts.add(pc);
      if (after < end) starts.add(after);
    }
  }
  for (const pc of [...starts].sort((a, b) => a - b)) if (m.heights[pc] >= 0) leader[pc] = next++;
  return next;
}

function compileChunk(m: Module, fns: readonly number[], leader: Int32Array): Chunk {
  const body: string[] = [];
  const copies = { left: COPIES_PER_WORD * fns.reduce((n, f) => n + m.functions[f].end - m.functions[f].entry, 0) };
  for (const f of fns) emitFunction(m, f, leader, copies, body);
  // Strict: a name the translation failed to declare throws instead of becoming a global.
  const src = `"use strict";
return function chunk(cpu) {
  let pc = cpu.pc, sp = cpu.sp, bp = cpu.bp, fp = cpu.fp;
  let stack = cpu.stack, frames = cpu.frames, mem = cpu.mem, memSize = cpu.memSize;
  let gas = cpu.gas, memFree = cpu.memFree;
  const memMax = cpu.memMax;
  let exit = ${STOP};
  // The block to run; pc is kept only where control may leave the chunk (entry, call, return).
  let blk = leader[pc];
  loop: for (;;) {
    switch (blk) {
${body.join("\n")}
      default:
        break loop;
    }
  }
  cpu.pc = pc; cpu.sp = sp; cpu.bp = bp; cpu.fp = fp; cpu.memSize = memSize; cpu.gas = gas; cpu.memFree = memFree;
  return exit;
};`;
  return new Function("leader", "growInt32", "wordGas", src)(leader, growInt32, wordGas) as Chunk;
}

/** Emits one case per block of function f, in pc order. */
function emitFunction(m: Module, f: number, leader: Int32Array, copies: { left: number }, out: string[]): void {
  const { entry, end } = m.functions[f];
  const starts: number[] = [];
  for (let pc = entry; pc < end; pc += WIDTH[m.code[pc]]) if (leader[pc] >= 0) starts.push(pc);
  starts.forEach((pc, i) => {
    const budget = copies.left;
    let b = new Block(m, pc, m.nlocals[f], f, leader, copies, false);
    let fall = b.emit(end);
    // A block that loops on itself is translated again, from the same copy budget (so it
    // takes the same path), with its locals in JS variables; kept only if it still loops.
    if (b.loops) {
      const left = copies.left;
      copies.left = budget;
      const p = new Block(m, pc, m.nlocals[f], f, leader, copies, true);
      const pf = p.emit(end);
      if (p.loops) {
        b = p;
        fall = pf;
      } else copies.left = left;
    }
    // Pushed one by one: a straight-line block can have tens of thousands of lines, too many to spread as arguments.
    out.push(`      case ${leader[pc]}: {`);
    for (const l of b.lines) out.push(`        ${l}`);
    // Control that continues at `fall` falls into the next case if that is where it starts.
    if (fall >= 0 && starts[i + 1] !== fall) out.push(`        blk = ${leader[fall]}; continue loop;`);
    out.push(`      }`);
  });
}

/** Translation of one basic block: the rows of its instructions (semantics.ts) over a compile-time operand stack. */
class Block extends Translator {
  readonly lines: string[] = [];
  /** Gas of the instructions translated so far (the block's charge once done). */
  private cost = 0;
  /** Whether the block's last jump goes back to its own start. */
  loops = false;
  /** Locals held in JS variables `l<k>` (promoted blocks), and those written. */
  private readonly locals = new Set<number>();
  private readonly written = new Set<number>();

  constructor(
    private readonly m: Module,
    readonly start: number,
    private readonly nl: number,
    private readonly f: number,
    private readonly leader: Int32Array,
    /** What may still be translated twice in this chunk (shared by its blocks). */
    private readonly copies: { left: number },
    /** Keep locals in JS variables for the whole block (only for blocks that loop on themselves). */
    private readonly promote: boolean,
  ) {
    super(m.heights[start]);
  }

  /**
   * Translates from `start` through straight-line code (past other block
   * starts, which then have their own copy) up to a jump, call, return or an
   * instruction the compiled code does not run. Returns the pc where control
   * continues when the block falls through, or -1.
   */
  emit(end: number): number {
    const code = this.m.code;
    let pc = this.start;
    if (COMPILED[code[pc]] === 0) {
      // The scheduler's instructions are reached as the interpreter reaches them: Exit.Slow at
      // their pc, nothing charged. Anything else (TRAP) is the interpreter's to run.
      this.lines.push(`${this.stopAt(pc, false, SCHEDULED[code[pc]] === 1 ? `exit = ${Exit.Slow}; ` : "")};`);
      return -1;
    }
    let passed = false;
    for (let n = 1; ; n++) {
      const op = code[pc];
      const after = pc + WIDTH[op];
      const goesOn = this.translate(op, pc);
      const ends = !goesOn || OPS[op].flow === "branch";
      this.cost += GAS[op];
      const atLeader = this.leader[after] >= 0;
      // Translating on past a block start makes a second copy of what follows.
      if (atLeader) passed = true;
      if (passed) this.copies.left--;
      const stop = ends || BULK[op] === 1 || after >= end || COMPILED[code[after]] === 0 || (atLeader && (n >= MAX_BLOCK || this.copies.left <= 0));
      if (stop) {
        this.flush();
        const total = this.cost;
        const charge = [`if (gas < ${total}) { ${this.stopAt(this.start, false, "")}; }`, `gas -= ${total};`];
        const ks = [...this.locals].sort((a, b) => a - b);
        const back = [...this.written].sort((a, b) => a - b).map((k) => `stack[bp + ${k}] = l${k}; `).join("");
        // A stop before an instruction returns the gas of it and everything after it in the block,
        // and a promoted block writes its locals back first.
        const fill = (l: string): string =>
          l.replace(/@refund(\d+)@/g, (_, before: string) => String(total - Number(before))).replace(/@back@/g, back);
        if (this.loops) {
          // The block jumps to itself: a JS loop, so a guest loop runs without going through the switch.
          if (ks.length > 0) this.lines.push(`let ${ks.map((k) => `l${k} = stack[bp + ${k}]`).join(", ")};`);
          this.lines.push("for (;;) {");
          for (const l of charge) this.lines.push(`  ${fill(l)}`);
          for (const l of this.body) this.lines.push(`  ${fill(l)}`);
          const jump = OPS[op].flow === "jump";
          this.lines.push(jump ? "}" : "  break;\n        }");
          if (back !== "" && !jump) this.lines.push(back.trim());
        } else {
          for (const l of charge) this.lines.push(fill(l));
          for (const l of this.body) this.lines.push(fill(l));
        }
        return goesOn ? after : -1;
      }
      pc = after;
    }
  }

  protected slot(h: number): string {
    return `stack[bp + ${this.nl + h}]`;
  }

  protected operand(i: number): string {
    return String(this.m.code[this.at + 1 + i]);
  }

  /** Where local k lives: a JS variable in promoted blocks, else its stack slot. */
  protected local(i: number, write: boolean): string {
    const k = this.m.code[this.at + 1 + i];
    if (!this.promote) return `stack[bp + ${k}]`;
    this.locals.add(k);
    if (write) this.written.add(k);
    return `l${k}`;
  }

  protected special(name: Special): string {
    switch (name) {
      case "SP":
        return `bp + ${this.nl + this.height}`;
      case "NEXT":
        return String(this.at + this.width);
      case "HERE":
        return String(this.at);
      case "SELF":
        return String(this.f);
    }
  }

  protected fact(name: Fact, f: string): string {
    const i = Number(f);
    if (!Number.isInteger(i)) throw new Error(`jit: ${name}(${f}) is not known when compiling`);
    const m = this.m;
    const v = { entry: m.entries, nparams: m.nparams, nlocals: m.nlocals, frameCost: m.frameCost }[name === "nfresh" ? "nlocals" : name][i];
    return String(name === "nfresh" ? v - m.nparams[i] : v);
  }

  protected constant(name: FrameConstant): string {
    return String(name === "FRAME_WORDS" ? Frame.Words : name === "FRAME_RET" ? Frame.Ret : name === "FRAME_BP" ? Frame.Bp : Frame.Fn);
  }

  /**
   * Any check that fails stops the compiled code before the instruction (its
   * operands written back, its gas and the rest of the block's refunded): the
   * interpreter then runs it and reports what stops it.
   */
  protected guard(guards: readonly Guard[]): void {
    const cond = guards.map((g) => `(${g.cond})`).join(" || ");
    const stop = `{ ${this.stopAt(this.at, true, this.writes().map((l) => `${l} `).join(""))}; }`;
    this.body.push(guards.some((g) => g.cond === "true") ? stop : `if (${cond}) ${stop}`);
  }

  protected goto(target: string): string {
    const t = Number(target);
    // Jumps stay inside the function (the verifier checked): straight to the target's block.
    if (OPS[this.op].flow === "jump" || OPS[this.op].flow === "branch") return this.jumpTo(t);
    // Calls and returns may leave the chunk: the pc goes with them.
    if (Number.isInteger(t)) return `{ pc = ${t}; blk = ${this.leader[t]}; continue loop; }`;
    return `{ pc = ${target}; blk = leader[pc]; continue loop; }`;
  }

  protected done(v: string): string {
    return `{ pc = ${this.at}; cpu.value = ${v}; exit = ${Exit.Done}; break loop; }`;
  }

  /** The compiled code keeps sp only where it stops (stopAt). */
  protected sync(): void {}

  private jumpTo(target: number): string {
    if (target !== this.start) return `{ blk = ${this.leader[target]}; continue loop; }`;
    this.loops = true;
    return "continue;";
  }

  /** Text that leaves the compiled code before `pc`, after `extra` (statements), refunding what `charged` says. */
  private stopAt(pc: number, charged: boolean, extra: string): string {
    const h = this.m.heights[pc];
    const back = this.promote ? "@back@" : "";
    return `${extra}${back}pc = ${pc}; sp = bp + ${this.nl + h};${charged ? ` gas += @refund${this.cost}@;` : ""} break loop`;
  }
}
