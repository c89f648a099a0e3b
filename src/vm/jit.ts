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
//   derived.
// - A function's locals live in JS variables (f<fn>_<k>) for as long as
//   control stays in the function's compiled code, and are in the stack array
//   wherever anything else can see them: they are loaded when control enters
//   the function (entering the chunk, a CALL's callee, a return into the code
//   after a CALL) and the ones the function writes are stored back before it
//   leaves (a CALL; any stop, once, where the chunk returns). A jump to the
//   code after a CALL, which loads them, stores them first. The interpreter, the scheduler and images
//   therefore see the stack array exactly as when locals lived there.
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
import { SEMANTICS } from "./semantics.js";
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
/** Instructions translated into one block at most past another block's start (copies of what follows). */
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
  const fnAt = new Int32Array(n).fill(-1);
  m.functions.forEach((f, i) => fnAt.fill(i, f.entry, f.end));
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
    return compileChunk(m, group, leader, fnAt);
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

function compileChunk(m: Module, fns: readonly number[], leader: Int32Array, fnAt: Int32Array): Chunk {
  const body: string[] = [];
  const copies = { left: COPIES_PER_WORD * fns.reduce((n, f) => n + m.functions[f].end - m.functions[f].entry, 0) };
  const inChunk = new Set(fns);
  for (const f of fns) emitFunction(m, f, leader, copies, inChunk, body);
  const vars = fns.flatMap((f) => Array.from({ length: m.nlocals[f] }, (_, k) => `${localVar(f, k)} = 0`));
  // Entering the chunk: the locals of the function the pc is in. Leaving it (unless the process is
  // done): its written locals back into its frame, where the pc stopped in one of the chunk's functions.
  const enter = fns.filter((f) => m.nlocals[f] > 0).map((f) => `case ${f}: ${loadLocals(m, f)} break;`);
  const leave = fns.filter((f) => writtenLocals(m, f).length > 0).map((f) => `case ${f}: ${storeLocals(m, f)} break;`);
  // Strict: a name the translation failed to declare throws instead of becoming a global.
  const src = `"use strict";
return function chunk(cpu) {
  let pc = cpu.pc, sp = cpu.sp, bp = cpu.bp, fp = cpu.fp;
  let stack = cpu.stack, frames = cpu.frames, mem = cpu.mem, memSize = cpu.memSize;
  let gas = cpu.gas, memFree = cpu.memFree;
  const memMax = cpu.memMax;
  let exit = ${STOP};
  ${vars.length > 0 ? `let ${vars.join(", ")};` : ""}
  switch (fnAt[pc]) {
    ${enter.join("\n    ")}
  }
  // The block to run; pc is kept only where control may leave the chunk (entry, call, return).
  let blk = leader[pc];
  loop: for (;;) {
    switch (blk) {
${body.join("\n")}
      default:
        break loop;
    }
  }
  if (exit !== ${Exit.Done}) {
    switch (fnAt[pc]) {
      ${leave.join("\n      ")}
    }
  }
  cpu.pc = pc; cpu.sp = sp; cpu.bp = bp; cpu.fp = fp; cpu.memSize = memSize; cpu.gas = gas; cpu.memFree = memFree;
  return exit;
};`;
  return new Function("leader", "fnAt", "growInt32", "wordGas", src)(leader, fnAt, growInt32, wordGas) as Chunk;
}

/** The JS variable holding local k of function f while its compiled code runs. */
function localVar(f: number, k: number): string {
  return `f${f}_${k}`;
}

/** Statements loading function f's locals from its frame in the stack array. */
function loadLocals(m: Module, f: number): string {
  return Array.from({ length: m.nlocals[f] }, (_, k) => `${localVar(f, k)} = stack[bp + ${k}];`).join(" ");
}

/** The locals function f writes (an instruction whose row assigns `local`), ascending. */
function writtenLocals(m: Module, f: number): number[] {
  const { entry, end } = m.functions[f];
  const out = new Set<number>();
  for (let pc = entry; pc < end; pc += WIDTH[m.code[pc]]) {
    const op = m.code[pc];
    if (m.heights[pc] < 0 || SEMANTICS[op]?.local === undefined) continue;
    out.add(m.code[pc + 1 + OPS[op].operands.indexOf("local")]);
  }
  return [...out].sort((a, b) => a - b);
}

/** Statements storing the locals function f writes back into its frame. */
function storeLocals(m: Module, f: number): string {
  return writtenLocals(m, f).map((k) => `stack[bp + ${k}] = ${localVar(f, k)};`).join(" ");
}

/** Whether pc is where a CALL returns to: control arrives there from a RET, with the locals only in the stack array. */
function isLanding(m: Module, pc: number): boolean {
  const call = pc - WIDTH[Op.CALL];
  return call >= 0 && m.heights[call] >= 0 && m.code[call] === Op.CALL;
}

/** Emits one case per block of function f, in pc order. */
function emitFunction(m: Module, f: number, leader: Int32Array, copies: { left: number }, inChunk: ReadonlySet<number>, out: string[]): void {
  const { entry, end } = m.functions[f];
  const starts: number[] = [];
  for (let pc = entry; pc < end; pc += WIDTH[m.code[pc]]) if (leader[pc] >= 0) starts.push(pc);
  const store = storeLocals(m, f);
  starts.forEach((pc, i) => {
    const b = new Block(m, pc, f, leader, copies, inChunk, store);
    const fall = b.emit(end);
    // Pushed one by one: a straight-line block can have tens of thousands of lines, too many to spread as arguments.
    out.push(`      case ${leader[pc]}: {`);
    for (const l of b.lines) out.push(`        ${l}`);
    // Control that continues at `fall` falls into the next case if that is where it starts.
    if (fall >= 0 && starts[i + 1] !== fall) out.push(`        ${b.jumpTo(fall)}`);
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
  private readonly nl: number;

  constructor(
    private readonly m: Module,
    readonly start: number,
    private readonly f: number,
    private readonly leader: Int32Array,
    /** What may still be translated twice in this chunk (shared by its blocks). */
    private readonly copies: { left: number },
    /** The functions compiled into this chunk (their locals are declared in it). */
    private readonly inChunk: ReadonlySet<number>,
    /** Statements storing the function's written locals into the stack array. */
    private readonly store: string,
  ) {
    super(m.heights[start]);
    this.nl = m.nlocals[f];
  }

  /**
   * Translates from `start` through straight-line code (past other block
   * starts and unconditional jumps, whose code then has a copy here) up to a
   * branch, a jump to its own start, a call, a return or an instruction the
   * compiled code does not run. Returns the pc where control
   * continues when the block falls through, or -1.
   */
  emit(end: number): number {
    const code = this.m.code;
    let pc = this.start;
    // Control comes back here from a RET: the function's locals are in its frame only.
    if (isLanding(this.m, pc) && this.nl > 0) this.lines.push(loadLocals(this.m, this.f));
    if (COMPILED[code[pc]] === 0) {
      // The scheduler's instructions are reached as the interpreter reaches them: Exit.Slow at
      // their pc, nothing charged. Anything else (TRAP) is the interpreter's to run.
      this.lines.push(`${this.stopAt(pc, false, SCHEDULED[code[pc]] === 1 ? `exit = ${Exit.Slow}; ` : "")};`);
      return -1;
    }
    let copied = 0;
    for (;;) {
      const op = code[pc];
      // An unconditional jump elsewhere is followed: its target is translated here too (a copy),
      // so entering a loop or leaving an if goes through one block, not two.
      const t = code[pc + 1];
      if (op === Op.JMP && t !== this.start && copied < MAX_BLOCK && this.copies.left > 0 && COMPILED[code[t]] === 1) {
        this.cost += GAS[op];
        copied++;
        this.copies.left--;
        pc = t;
        continue;
      }
      const after = pc + WIDTH[op];
      const goesOn = this.translate(op, pc);
      const ends = !goesOn || OPS[op].flow === "branch";
      this.cost += GAS[op];
      const atLeader = this.leader[after] >= 0;
      // Translating on past a block start makes a second copy of what follows.
      if (atLeader || copied > 0) {
        copied++;
        this.copies.left--;
      }
      const stop = ends || BULK[op] === 1 || after >= end || COMPILED[code[after]] === 0 || (atLeader && (copied > MAX_BLOCK || this.copies.left <= 0));
      if (stop) {
        this.flush();
        const total = this.cost;
        const charge = [`if (gas < ${total}) { ${this.stopAt(this.start, false, "")}; }`, `gas -= ${total};`];
        // A stop before an instruction returns the gas of it and everything after it in the block.
        const fill = (l: string): string => l.replace(/@refund(\d+)@/g, (_, before: string) => String(total - Number(before)));
        // Control that falls through to the block's own start (a followed jump led back to the branch before it) repeats it too.
        const again = goesOn && after === this.start;
        if (this.loops || again) {
          // The block jumps to itself: a JS loop, so a guest loop runs without going through the switch.
          this.lines.push("for (;;) {");
          for (const l of charge) this.lines.push(`  ${fill(l)}`);
          for (const l of this.body) this.lines.push(`  ${fill(l)}`);
          this.lines.push(OPS[op].flow === "jump" || again ? "}" : "  break;\n        }");
        } else {
          for (const l of charge) this.lines.push(fill(l));
          for (const l of this.body) this.lines.push(fill(l));
        }
        return goesOn && !again ? after : -1;
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

  /** Local k lives in a JS variable while the function's compiled code runs. */
  protected local(i: number): string {
    return localVar(this.f, this.m.code[this.at + 1 + i]);
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
  protected guard(guards: readonly Guard[], any: string | null): void {
    const cond = any ?? guards.map((g) => `(${g.cond})`).join(" || ");
    const stop = `{ ${this.stopAt(this.at, true, this.writes().map((l) => `${l} `).join(""))}; }`;
    this.body.push(guards.some((g) => g.cond === "true") ? stop : `if (${cond}) ${stop}`);
  }

  protected goto(target: string): string {
    const t = Number(target);
    // Jumps stay inside the function (the verifier checked): straight to the target's block.
    if (OPS[this.op].flow === "jump" || OPS[this.op].flow === "branch") return this.jumpTo(t);
    // Calls and returns may leave the chunk: the pc goes with them. A callee compiled here starts with its locals loaded.
    if (Number.isInteger(t)) {
      const callee = this.m.code[this.at + 1];
      const load = this.op === Op.CALL && this.inChunk.has(callee) ? ` ${loadLocals(this.m, callee)}` : "";
      return `{ pc = ${t}; blk = ${this.leader[t]};${load} continue loop; }`;
    }
    return `{ pc = ${target}; blk = leader[pc]; continue loop; }`;
  }

  protected done(v: string): string {
    return `{ pc = ${this.at}; cpu.value = ${v}; exit = ${Exit.Done}; break loop; }`;
  }

  /** Before a CALL leaves the function, its locals go back into its frame (the callee's frame is set up above them). */
  protected sync(): void {
    if (this.op === Op.CALL && this.store !== "") this.body.push(this.store);
  }

  /** A jump within the function; one to the code after a CALL (which loads the locals) stores them first. */
  jumpTo(target: number): string {
    if (target === this.start) {
      this.loops = true;
      return "continue;";
    }
    const store = isLanding(this.m, target) && this.store !== "" ? `${this.store} ` : "";
    return `{ ${store}blk = ${this.leader[target]}; continue loop; }`;
  }

  /** Text that leaves the compiled code before `pc`, after `extra` (statements), refunding what `charged` says (the chunk then stores the locals). */
  private stopAt(pc: number, charged: boolean, extra: string): string {
    const h = this.m.heights[pc];
    return `${extra}pc = ${pc}; sp = bp + ${this.nl + h};${charged ? ` gas += @refund${this.cost}@;` : ""} break loop`;
  }
}
