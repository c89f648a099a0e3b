// The second tier: a hot module's verified code translated to JavaScript, one
// `switch` case per basic block, so V8 compiles guest loops to machine code.
//
// Exactness comes from three rules:
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
import { FRAME_WORDS, type Module } from "./module.js";
import { COMPILED, GAS, OPS, Op, SCHEDULED, WIDTH, WORDS_PER_GAS } from "./opcodes.js";

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

/**
 * Bulk instructions end their block: their extra gas is known only when they
 * run, so nothing after them may have been charged in advance.
 */
const BULK: Uint8Array = Uint8Array.from(OPS.map((o) => (o.runs === "compiled" && o.dynamic !== undefined ? 1 : 0)));

const BINARY: Partial<Record<number, (a: string, b: string) => string>> = {
  [Op.ADD]: (a, b) => `(${a} + ${b}) | 0`,
  [Op.SUB]: (a, b) => `(${a} - ${b}) | 0`,
  [Op.MUL]: (a, b) => `Math.imul(${a}, ${b})`,
  [Op.AND]: (a, b) => `${a} & ${b}`,
  [Op.OR]: (a, b) => `${a} | ${b}`,
  [Op.XOR]: (a, b) => `${a} ^ ${b}`,
  [Op.SHL]: (a, b) => `${a} << ${b}`,
  [Op.SHR]: (a, b) => `${a} >> ${b}`,
  [Op.SHRU]: (a, b) => `(${a} >>> ${b}) | 0`,
  [Op.EQ]: (a, b) => `${a} === ${b} ? 1 : 0`,
  [Op.NE]: (a, b) => `${a} !== ${b} ? 1 : 0`,
  [Op.LT]: (a, b) => `${a} < ${b} ? 1 : 0`,
  [Op.LE]: (a, b) => `${a} <= ${b} ? 1 : 0`,
  [Op.GT]: (a, b) => `${a} > ${b} ? 1 : 0`,
  [Op.GE]: (a, b) => `${a} >= ${b} ? 1 : 0`,
};

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
    if (op === Op.JMP || op === Op.JZ || op === Op.JNZ) starts.add(code[pc + 1]);
    if (op === Op.JMP || op === Op.JZ || op === Op.JNZ || op === Op.CALL || op === Op.RET || BULK[op] === 1 || COMPILED[op] === 0) {
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
  return new Function("leader", "growInt32", src)(leader, growInt32) as Chunk;
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

/** Translation of one basic block with a compile-time operand stack. */
class Block {
  readonly lines: string[] = [];
  /** Operand height below which values are in the stack array. */
  private real: number;
  /** Values above `real`: JS literals or constants. */
  private virt: string[] = [];
  private temps = 0;
  /** Gas of the instructions translated so far (the block's charge once done). */
  private cost = 0;
  private body: string[] = [];
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
    this.real = m.heights[start];
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
      this.lines.push(`${this.stopAt(pc, 0, SCHEDULED[code[pc]] === 1 ? `exit = ${Exit.Slow}; ` : "")};`);
      return -1;
    }
    let passed = false;
    for (let n = 1; ; n++) {
      const op = code[pc];
      const after = pc + WIDTH[op];
      const ends = this.instruction(op, pc, after);
      this.cost += GAS[op];
      const atLeader = this.leader[after] >= 0;
      // Translating on past a block start makes a second copy of what follows.
      if (atLeader) passed = true;
      if (passed) this.copies.left--;
      const stop = ends || BULK[op] === 1 || after >= end || COMPILED[code[after]] === 0 || (atLeader && (n >= MAX_BLOCK || this.copies.left <= 0));
      if (stop) {
        if (!ends || op === Op.JZ || op === Op.JNZ) this.flush(this.body);
        const total = this.cost;
        const charge = [`if (gas < ${total}) { ${this.stopAt(this.start, 0, "")}; }`, `gas -= ${total};`];
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
          this.lines.push(op === Op.JMP ? "}" : "  break;\n        }");
          if (back !== "" && op !== Op.JMP) this.lines.push(back.trim());
        } else {
          for (const l of charge) this.lines.push(fill(l));
          for (const l of this.body) this.lines.push(fill(l));
        }
        return op === Op.JMP || op === Op.CALL || op === Op.RET ? -1 : after;
      }
      pc = after;
    }
  }

  /** Where local k lives: a JS variable in promoted blocks, else its stack slot. */
  private local(k: number, write: boolean): string {
    if (!this.promote) return `stack[bp + ${k}]`;
    this.locals.add(k);
    if (write) this.written.add(k);
    return `l${k}`;
  }

  private jumpTo(target: number): string {
    if (target !== this.start) return `{ blk = ${this.leader[target]}; continue loop; }`;
    this.loops = true;
    return "continue;";
  }

  /** Text that leaves the compiled code before `pc`, after `extra` (statements). */
  private stopAt(pc: number, charged: number, extra: string): string {
    const h = this.m.heights[pc];
    const back = this.promote ? "@back@" : "";
    return `${extra}${back}pc = ${pc}; sp = bp + ${this.nl + h};${charged ? ` gas += @refund${this.cost}@;` : ""} break loop`;
  }

  /**
   * Stop before the instruction being translated (at pc, its operands still on
   * the stack): write the operands back and refund its gas and the rest's.
   */
  private bail(pc: number): string {
    const saved: string[] = [];
    this.flushInto(saved);
    return `{ ${this.stopAt(pc, 1, saved.map((l) => `${l} `).join(""))}; }`;
  }

  private slot(h: number): string {
    return `stack[bp + ${this.nl + h}]`;
  }

  private temp(expr: string): string {
    const t = `t${this.temps++}`;
    this.body.push(`const ${t} = ${expr};`);
    return t;
  }

  private push(v: string): void {
    this.virt.push(v);
  }

  private pop(): string {
    if (this.virt.length > 0) return this.virt.pop() as string;
    this.real--;
    return this.temp(this.slot(this.real));
  }

  /** The value `depth` below the top (0 = top), materialized without popping. */
  private peek(depth: number): string {
    const v = this.virt.length - 1 - depth;
    if (v >= 0) return this.virt[v];
    // Bring real values up into the virtual stack so later pops see the same constants.
    const need = -v;
    const loaded: string[] = [];
    for (let i = 0; i < need; i++) loaded.unshift(this.temp(this.slot(this.real - 1 - i)));
    this.real -= need;
    this.virt = loaded.concat(this.virt);
    return this.virt[this.virt.length - 1 - depth];
  }

  private flushInto(out: string[]): void {
    this.virt.forEach((v, i) => out.push(`${this.slot(this.real + i)} = ${v};`));
  }

  private flush(out: string[]): void {
    this.flushInto(out);
    this.real += this.virt.length;
    this.virt = [];
  }

  /** Translates one instruction; returns true if it ends the block (control leaves). */
  private instruction(op: number, pc: number, after: number): boolean {
    const code = this.m.code;
    const a1 = code[pc + 1];
    const b = this.body;
    const bin = BINARY[op];
    if (bin) {
      const y = this.pop();
      const x = this.pop();
      this.push(this.temp(bin(x, y)));
      return false;
    }
    switch (op) {
      case Op.NOP:
        return false;
      case Op.PUSH:
        this.push(String(a1));
        return false;
      case Op.POP:
        if (this.virt.length > 0) this.virt.pop();
        else this.real--;
        return false;
      case Op.DUP:
        this.push(this.peek(0));
        return false;
      case Op.SWAP: {
        const y = this.pop();
        const x = this.pop();
        this.push(y);
        this.push(x);
        return false;
      }
      case Op.OVER:
        this.push(this.peek(1));
        return false;
      case Op.LGET:
        this.push(this.temp(this.local(a1, false)));
        return false;
      case Op.LSET:
        b.push(`${this.local(a1, true)} = ${this.pop()};`);
        return false;
      case Op.LTEE:
        b.push(`${this.local(a1, true)} = ${this.peek(0)};`);
        return false;
      case Op.LINC: {
        const l = this.local(a1, true);
        // Int32Array stores wrap by themselves; a JS variable needs | 0.
        b.push(this.promote ? `${l} = (${l} + ${code[pc + 2]}) | 0;` : `${l} += ${code[pc + 2]};`);
        return false;
      }
      case Op.ADDI:
        this.push(this.temp(`(${this.pop()} + ${a1}) | 0`));
        return false;
      case Op.NEG:
        this.push(this.temp(`-(${this.pop()}) | 0`));
        return false;
      case Op.NOT:
        this.push(this.temp(`~${this.pop()}`));
        return false;
      case Op.EQZ:
        this.push(this.temp(`${this.pop()} === 0 ? 1 : 0`));
        return false;
      case Op.DIV:
      case Op.REM: {
        const y = this.peek(0);
        const x = this.peek(1);
        const bad = op === Op.DIV ? `${y} === 0 || (${x} === -2147483648 && ${y} === -1)` : `${y} === 0`;
        b.push(`if (${bad}) ${this.bail(pc)}`);
        this.pop();
        this.pop();
        this.push(this.temp(op === Op.DIV ? `(${x} / ${y}) | 0` : `${y} === -1 ? 0 : (${x} % ${y}) | 0`));
        return false;
      }
      case Op.MSIZE:
        // A constant, not the variable: MGROW later in the block changes memSize.
        this.push(this.temp("memSize"));
        return false;
      case Op.LOAD: {
        const a = this.temp(`${this.peek(0)} + ${a1}`);
        b.push(`if (${a} < 0 || ${a} >= memSize) ${this.bail(pc)}`);
        this.pop();
        this.push(this.temp(`mem[${a}]`));
        return false;
      }
      case Op.STORE: {
        const v = this.peek(0);
        const a = this.temp(`${this.peek(1)} + ${a1}`);
        b.push(`if (${a} < 0 || ${a} >= memSize) ${this.bail(pc)}`);
        this.pop();
        this.pop();
        b.push(`mem[${a}] = ${v};`);
        return false;
      }
      case Op.ALOAD:
      case Op.ASTORE: {
        const w = op === Op.ASTORE ? 1 : 0;
        const i = this.peek(w);
        const a = this.peek(w + 1);
        b.push(`if (${a} < 0 || ${a} >= memSize || ${i} < 0 || ${i} >= mem[${a}] || ${a} + 1 + ${i} >= memSize) ${this.bail(pc)}`);
        if (w === 1) {
          const v = this.pop();
          this.pop();
          this.pop();
          b.push(`mem[${a} + 1 + ${i}] = ${v};`);
        } else {
          this.pop();
          this.pop();
          this.push(this.temp(`mem[${a} + 1 + ${i}]`));
        }
        return false;
      }
      case Op.MGROW: {
        // Last in its block (BULK): the gas left is exactly what the interpreter would have after charging it.
        const n = this.peek(0);
        const extra = this.temp(`Math.ceil(${n} / ${WORDS_PER_GAS})`);
        b.push(`if (${n} < 0 || ${extra} > gas || ${n} > memFree || memSize + ${n} > memMax) ${this.bail(pc)}`);
        this.pop();
        b.push(`gas -= ${extra}; memFree -= ${n};`);
        b.push(`if (memSize + ${n} > mem.length) mem = cpu.mem = growInt32(mem, memSize + ${n}, memSize);`);
        this.push(this.temp("memSize"));
        b.push(`memSize += ${n};`);
        return false;
      }
      case Op.MCOPY:
      case Op.MFILL: {
        const n = this.peek(0);
        const s = this.peek(1);
        const d = this.peek(2);
        const copy = op === Op.MCOPY;
        const extra = this.temp(`Math.ceil(${n} / ${WORDS_PER_GAS})`);
        b.push(
          `if (${n} < 0 || ${d} < 0 || ${d} + ${n} > memSize${copy ? ` || ${s} < 0 || ${s} + ${n} > memSize` : ""} || ${extra} > gas) ${this.bail(pc)}`,
        );
        this.pop();
        this.pop();
        this.pop();
        b.push(`gas -= ${extra};`, copy ? `mem.copyWithin(${d}, ${s}, ${s} + ${n});` : `mem.fill(${s}, ${d}, ${d} + ${n});`);
        return false;
      }
      case Op.JMP:
        this.flush(b);
        b.push(this.jumpTo(a1));
        return true;
      case Op.JZ:
      case Op.JNZ: {
        const c = this.pop();
        this.flush(b);
        b.push(`if (${c} ${op === Op.JZ ? "===" : "!=="} 0) ${this.jumpTo(a1)}`);
        // Not taken: falls through into the next block's case.
        return true;
      }
      case Op.CALL:
        this.call(a1, pc, after);
        return true;
      case Op.RET:
        this.ret(pc);
        return true;
      default:
        throw new Error(`jit: ${OPS[op]?.name ?? op} is not compiled`);
    }
  }

  private call(f: number, pc: number, after: number): void {
    const m = this.m;
    this.flush(this.body);
    const cost = m.frameCost[f];
    const sp0 = this.nl + this.real; // operand top relative to bp
    const nb = sp0 - m.nparams[f];
    const top = nb + m.nlocals[f];
    const b = this.body;
    // A frame that does not fit: stop before the CALL (its gas refunded); the interpreter reports it.
    b.push(`if (${cost} > memFree) { ${this.stopAt(pc, 1, "")}; }`);
    b.push(
      `memFree -= ${cost};`,
      `if (bp + ${nb + cost} > stack.length) stack = cpu.stack = growInt32(stack, bp + ${nb + cost}, bp + ${sp0});`,
      `if (fp + ${FRAME_WORDS} > frames.length) frames = cpu.frames = growInt32(frames, fp + ${FRAME_WORDS}, fp);`,
    );
    for (let i = sp0; i < top; i++) b.push(`stack[bp + ${i}] = 0;`);
    b.push(
      `frames[fp] = ${after}; frames[fp + 1] = bp; frames[fp + 2] = ${f}; fp += ${FRAME_WORDS};`,
      `bp += ${nb}; sp = bp + ${m.nlocals[f]}; pc = ${m.entries[f]}; blk = ${this.leader[m.entries[f]]}; continue loop;`,
    );
  }

  private ret(pc: number): void {
    const v = this.pop();
    // Operands under the result die with the frame: nothing to write back.
    // The frame being released is this function's (frames[fp - 1] names it).
    this.body.push(
      `fp -= ${FRAME_WORDS}; memFree += ${this.m.frameCost[this.f]}; sp = bp; bp = frames[fp + 1];`,
      `if (fp === 0) { pc = ${pc}; cpu.value = ${v}; exit = ${Exit.Done}; break loop; }`,
      `pc = frames[fp]; stack[sp++] = ${v}; blk = leader[pc]; continue loop;`,
    );
  }
}
