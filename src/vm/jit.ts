// The second tier: a hot module's verified code translated to JavaScript, one
// `switch` case per basic block, so V8 compiles guest loops to machine code.
// A case inside a loop holds, where it jumps to another block of its
// innermost loop, a copy of that block's code (and so on, once per block):
// entered there, the whole loop, inner loops included, is nested JS loops
// (a jump back to an enclosing block's start is a labelled `continue`), and
// only jumps out of it go through the switch (or, to the block whose case
// comes next, fall into that case).
//
// What each instruction does comes from its row in semantics.ts, translated
// by translate.ts exactly as the interpreter's cases are. Exactness of the
// blocks, copies included (each is the block's own translation), comes from these rules:
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
// - An array access through a local's array, inside a JS loop, first compares
//   its index with a bound read before the loop (Block.hoist): an index below
//   it passes every check, and the access runs its full check otherwise.
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
import { type Fact, type FrameConstant, type Guard, type Special, Translator, type Value } from "./translate.js";

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
  /**
   * Per block, at index block + 1: 1 once a call of its chunk has started
   * there. Entering a chunk at a block it was never entered at can meet code
   * V8 has no type feedback for, and deoptimize the chunk once it is
   * optimized (execute.ts steps to a block seen before instead). Marked per
   * call, not per dispatch: a store on every trip through the switch cost
   * array loops 4-6 %. Index 0 (no block) is always 1.
   */
  readonly seen: Uint8Array;
  /** Per chunk: how far its first calls, kept short, have warmed it up (execute.ts). */
  readonly warmed: Float64Array;
}

/**
 * Functions are grouped into chunks of about this many code words: V8 does
 * not optimize a function whose bytecode passes 60 KB, about 1100 code words
 * of a chunk's text (see MAX_CHUNK_SOURCE); a larger function has a chunk of its own.
 */
const CHUNK_WORDS = 1024;
/** Instructions translated into one block at most past another block's start (copies of what follows). */
const MAX_BLOCK = 64;
/** Blocks nested at most in one another's code (copies inlined at jumps within a loop). */
const MAX_NEST = 16;
/** Instructions copied into loops (Block.inlines), at most, per code word of a chunk. */
const INLINE_PER_WORD = 1;
/** A loop of more instructions than this is entered through the switch, not copied into an enclosing loop's code. */
const MAX_INLINED_LOOP = 256;
/**
 * Characters of a chunk's text beyond which it is generated again with
 * fewer copies in loops, or none: V8 does not optimize a function whose
 * bytecode passes a limit (60 KB), and a chunk it does not optimize runs many
 * times slower. The bench's chunks have 0.54-0.66 bytes of bytecode per
 * character (--print-bytecode), so this is about 43-53 KB.
 */
const MAX_CHUNK_SOURCE = 80_000;
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
  const seen = new Uint8Array(blocks + 1);
  seen[0] = 1;
  const chunks = groups.map((group, k) => {
    for (const f of group) chunkOf.fill(k, m.functions[f].entry, m.functions[f].end);
    return compileChunk(m, group, leader, fnAt, seen);
  });
  return chunks.length > 0 ? { leader, chunkOf, chunks, seen, warmed: new Float64Array(chunks.length) } : null;
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

function compileChunk(m: Module, fns: readonly number[], leader: Int32Array, fnAt: Int32Array, seen: Uint8Array): Chunk {
  const words = fns.reduce((n, f) => n + m.functions[f].end - m.functions[f].entry, 0);
  // Loops as structured code only while the chunk stays small enough for V8 to optimize: fewer copies, or none, if need be.
  let text = chunkSource(m, fns, leader, words * INLINE_PER_WORD);
  for (const share of [0.75, 0.5, 0.25, 0]) if (text.length > MAX_CHUNK_SOURCE) text = chunkSource(m, fns, leader, Math.floor(words * INLINE_PER_WORD * share));
  return new Function("leader", "fnAt", "seen", "growInt32", "wordGas", text)(leader, fnAt, seen, growInt32, wordGas) as Chunk;
}

/** The text of a chunk's function, with at most `inline` instructions copied into loops (see Block.inlines). */
function chunkSource(m: Module, fns: readonly number[], leader: Int32Array, inline: number): string {
  const body: string[] = [];
  const words = fns.reduce((n, f) => n + m.functions[f].end - m.functions[f].entry, 0);
  const copies = { left: COPIES_PER_WORD * words, inline };
  const inChunk = new Set(fns);
  const labels = { n: 0 };
  const accessIds = { n: 0 };
  for (const f of fns) emitFunction(m, f, leader, copies, inChunk, body, labels, accessIds);
  const vars = fns.flatMap((f) => Array.from({ length: m.nlocals[f] }, (_, k) => `${localVar(f, k)} = 0`));
  // Entering the chunk: the locals of the function the pc is in. Leaving it (unless the process is
  // done): its written locals back into its frame, where the pc stopped in one of the chunk's functions.
  const enter = fns.filter((f) => m.nlocals[f] > 0).map((f) => `case ${f}: ${loadLocals(m, f)} break;`);
  const leave = fns.filter((f) => writtenLocals(m, f).length > 0).map((f) => `case ${f}: ${storeLocals(m, f)} break;`);
  // Strict: a name the translation failed to declare throws instead of becoming a global.
  return `"use strict";
return function chunk(cpu) {
  let pc = cpu.pc, sp = cpu.sp, bp = cpu.bp, fp = cpu.fp;
  let stack = cpu.stack, frames = cpu.frames, mem = cpu.mem, memSize = cpu.memSize;
  let gas = cpu.gas, memFree = cpu.memFree;
  const memMax = cpu.memMax;
  let exit = ${STOP};
  // Where a stop leaves the stack (its height above bp, -1: sp as it is) and the gas it gives back.
  let stopHeight = -1, refund = 0;
  ${vars.length > 0 ? `let ${vars.join(", ")};` : ""}
  switch (fnAt[pc]) {
    ${enter.join("\n    ")}
  }
  // The block to run; pc is kept only where control may leave the chunk (entry, call, return).
  let blk = leader[pc];
  seen[blk + 1] = 1;
  loop: for (;;) {
    switch (blk) {
${body.join("\n")}
      default:
        break loop;
    }
  }
  if (stopHeight >= 0) sp = bp + stopHeight;
  gas += refund;
  if (exit !== ${Exit.Done}) {
    switch (fnAt[pc]) {
      ${leave.join("\n      ")}
    }
  }
  cpu.pc = pc; cpu.sp = sp; cpu.bp = bp; cpu.fp = fp; cpu.memSize = memSize; cpu.gas = gas; cpu.memFree = memFree;
  return exit;
};`;
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
function emitFunction(
  m: Module,
  f: number,
  leader: Int32Array,
  copies: Copies,
  inChunk: ReadonlySet<number>,
  out: string[],
  labels: { n: number },
  accessIds: { n: number },
): void {
  const { entry, end } = m.functions[f];
  const starts: number[] = [];
  for (let pc = entry; pc < end; pc += WIDTH[m.code[pc]]) if (leader[pc] >= 0) starts.push(pc);
  const loops = loopsOf(m, f, leader);
  // Each block's innermost loop.
  const inner = new Map<number, Loop>();
  for (const l of [...loops.values()].sort((a, b) => b.size - a.size)) for (const b of l.blocks) inner.set(b, l);
  const ctx: FunctionContext = { m, f, end, leader, copies, inChunk, store: storeLocals(m, f), loops, inner, labels, accessIds };
  // The budget of copies goes first to the cases control reaches through the switch: from the
  // function's entry and the places calls return to, the cases their code goes on to, breadth first.
  // A loop is then one piece of structured code in the case control enters it by (its header's, as
  // a rule), not copied into the case of each of its blocks. Cases no jump goes to follow in pc order.
  const index = new Map(starts.map((pc, i) => [pc, i]));
  const blocks: Block[] = new Array(starts.length);
  const queue = starts.filter((pc) => pc === entry || isLanding(m, pc));
  const emit = (i: number): void => {
    if (blocks[i] !== undefined) return;
    blocks[i] = new Block(ctx, starts[i], []);
    // Control that continues at the next block start falls into its case.
    blocks[i].emit(starts[i + 1] ?? -1);
    for (const t of blocks[i].targets) queue.push(t);
  };
  for (let q = 0; q < queue.length; q++) {
    const i = index.get(queue[q]);
    if (i !== undefined) emit(i);
  }
  starts.forEach((_, i) => emit(i));
  blocks.forEach((b) => {
    // Pushed one by one: a straight-line block can have tens of thousands of lines, too many to spread as arguments.
    // A case some jump leaves for the next case has a label: `break` out of it falls into that case.
    out.push(`      case ${leader[b.start]}: ${b.fallsThrough ? `${b.endLabel}: ` : ""}{`);
    for (const l of b.lines) out.push(`        ${l}`);
    out.push(`      }`);
  });
}

/** What may still be translated twice in a chunk: past block starts (left) and into loops (inline). */
interface Copies {
  left: number;
  inline: number;
}

/** What the blocks of one function share while it is compiled. */
interface FunctionContext {
  readonly m: Module;
  readonly f: number;
  /** The function's end (pc). */
  readonly end: number;
  readonly leader: Int32Array;
  /** What may still be translated twice in this chunk (shared by its blocks). */
  readonly copies: Copies;
  /** The functions compiled into this chunk (their locals are declared in it). */
  readonly inChunk: ReadonlySet<number>;
  /** Statements storing the function's written locals into the stack array. */
  readonly store: string;
  /** Per loop header (a block start some later jump goes back to): its loop. */
  readonly loops: ReadonlyMap<number, Loop>;
  /** Per block start in some loop: the innermost one. */
  readonly inner: ReadonlyMap<number, Loop>;
  /** Labels given so far in the chunk. */
  readonly labels: { n: number };
  /** Array accesses numbered so far in the chunk (Access.id). */
  readonly accessIds: { n: number };
}

/** An array access through the array a local holds (ALOAD or ASTORE), as emitted: its check has a placeholder `@h<id>@`. */
interface Access {
  readonly id: number;
  /** The local. */
  readonly k: number;
  /** The index, as the code names it. */
  readonly index: string;
  /** The blocks whose code the access is in, outermost first (its own block last). */
  readonly chain: readonly Block[];
}

/** By opcode: 1 where the instruction's row writes words of memory (not where it only grows it). */
const WRITES_MEMORY = Uint8Array.from(SEMANTICS, (s) => (/\bmem\[[^\]]*\]\s*=(?!=)|\bmem\.(copyWithin|fill)\(/.test(s?.do ?? "") ? 1 : 0));

/** A loop: the block starts from which control can come back to its header (the header included), and their instructions. */
interface Loop {
  readonly blocks: ReadonlySet<number>;
  readonly size: number;
}

/**
 * The natural loops of function f, by header: a block start that dominates
 * a block jumping or falling back to it, with the blocks from which control
 * reaches such a block without passing through the header. (Only a guide to
 * what to copy where: a copy of a block anywhere in its function's code runs
 * correctly.)
 */
function loopsOf(m: Module, f: number, leader: Int32Array): Map<number, Loop> {
  const { entry, end } = m.functions[f];
  const code = m.code;
  const succs = new Map<number, number[]>();
  const preds = new Map<number, number[]>();
  /** Instructions from each block start to the next. */
  const sizes = new Map<number, number>();
  let block = -1;
  const edge = (from: number, to: number): void => {
    if (to < entry || to >= end || leader[to] < 0) return;
    succs.get(from)?.push(to);
    preds.get(to)?.push(from);
  };
  for (let pc = entry; pc < end; pc += WIDTH[code[pc]]) {
    if (m.heights[pc] < 0) continue;
    if (leader[pc] >= 0) {
      succs.set(pc, []);
      preds.set(pc, preds.get(pc) ?? []);
      if (block >= 0) edge(block, pc);
      block = pc;
    }
    if (block < 0) continue;
    sizes.set(block, (sizes.get(block) ?? 0) + 1);
    const flow = OPS[code[pc]].flow;
    if (flow === "jump" || flow === "branch") {
      const t = code[pc + 1];
      if (!preds.has(t)) preds.set(t, []);
      edge(block, t);
    }
    // After a jump, a return or a trap nothing falls through; the next block is entered only by jumps.
    if (flow === "jump" || flow === "end") block = -1;
  }
  // Immediate dominators (Cooper, Harvey and Kennedy), over the blocks reachable from the entry in reverse postorder.
  const order: number[] = [];
  const seen = new Set<number>([entry]);
  const stack: [number, number][] = [[entry, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const next = (succs.get(top[0]) ?? [])[top[1]++];
    if (next === undefined) order.push((stack.pop() as [number, number])[0]);
    else if (!seen.has(next)) (seen.add(next), stack.push([next, 0]));
  }
  order.reverse();
  const rank = new Map(order.map((b, i) => [b, i]));
  const idom = new Map<number, number>([[entry, entry]]);
  const meet = (a: number, b: number): number => {
    while (a !== b) {
      while ((rank.get(a) as number) > (rank.get(b) as number)) a = idom.get(a) as number;
      while ((rank.get(b) as number) > (rank.get(a) as number)) b = idom.get(b) as number;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const b of order.slice(1)) {
      let d = -1;
      for (const p of preds.get(b) ?? []) if (idom.has(p)) d = d < 0 ? p : meet(p, d);
      if (d >= 0 && idom.get(b) !== d) (idom.set(b, d), (changed = true));
    }
  }
  const dominates = (h: number, b: number): boolean => {
    for (;;) {
      if (b === h) return true;
      const d = idom.get(b) as number;
      if (d === b) return false;
      b = d;
    }
  };
  const loops = new Map<number, Loop>();
  for (const b of order)
    for (const h of succs.get(b) ?? []) {
      if (!dominates(h, b)) continue;
      const blocks = new Set<number>([h, ...(loops.get(h)?.blocks ?? [])]);
      const work = blocks.has(b) ? [] : [b];
      blocks.add(b);
      while (work.length > 0) for (const p of preds.get(work.pop() as number) ?? []) if (!blocks.has(p) && rank.has(p)) (blocks.add(p), work.push(p));
      let size = 0;
      for (const x of blocks) size += sizes.get(x) ?? 0;
      loops.set(h, { blocks, size });
    }
  return loops;
}

/** Translation of one basic block: the rows of its instructions (semantics.ts) over a compile-time operand stack. */
class Block extends Translator {
  readonly lines: string[] = [];
  /** Gas of the instructions translated so far (the block's charge once done). */
  private cost = 0;
  /** The block's charge, once emitted. */
  private total = 0;
  /** The statement stopping before the block when the gas left is less than its check asks for. */
  private check = "";
  /** The blocks whose code is nested directly in this one's. */
  private readonly children: Block[] = [];
  /** Whether the block's code ends in a bulk instruction, whose extra gas is known only when it runs. */
  private bulk = false;
  /** Whether some jump in the block's code goes back to its start: its code is then a labelled JS loop. */
  loops = false;
  /** In the outermost block: the blocks whose code has a copy nested in its code (one each, so a loop's code grows with its size only). */
  readonly inlined = new Set<number>();
  /** The label of that loop. */
  readonly label: string;
  /** In the outermost block: the start of the block whose case follows its case (-1: none, or not known). */
  private next = -1;
  /** In the outermost block: whether some jump in its code goes on at `next` by leaving its case (`break` to endLabel). */
  fallsThrough = false;
  /** In the outermost block: the block starts its code goes on to through the switch or into the next case. */
  readonly targets: number[] = [];
  /** Locals that some instruction in this block's code (the copies nested in it included) writes. */
  readonly written = new Set<number>();
  /**
   * The locals holding the arrays every ASTORE in this code stores through;
   * null where something in it writes memory otherwise (STORE, MCOPY, MFILL,
   * an ASTORE through a computed address).
   */
  stores: Set<number> | null = new Set();
  /** The array accesses in this code through a local's array, whose check may use a bound hoisted before a loop. */
  readonly accesses: Access[] = [];
  /** The blocks whose code is nested in this one's, at any depth. */
  readonly nested: Block[] = [];
  /** The locals whose arrays' bounds are read before this block's loop (see hoist()). */
  readonly hoisted = new Set<number>();
  private readonly m: Module;
  private readonly f: number;
  private readonly leader: Int32Array;
  private readonly nl: number;

  constructor(
    private readonly ctx: FunctionContext,
    readonly start: number,
    /** The blocks whose code this block's code is nested in (a copy of it, inlined at a jump), outermost first. */
    private readonly outer: readonly Block[],
  ) {
    super(ctx.m.heights[start]);
    this.m = ctx.m;
    this.f = ctx.f;
    this.leader = ctx.leader;
    this.nl = ctx.m.nlocals[ctx.f];
    this.label = `b${ctx.labels.n++}`;
  }

  /**
   * Translates from `start` through straight-line code (past other block
   * starts and unconditional jumps, whose code then has a copy here) up to a
   * branch, a jump to its own start, a call, a return or an instruction the
   * compiled code does not run. Every path through the lines ends in a
   * transfer of control, except one that goes on at `next`, which falls out
   * of them (a case falls into the next case).
   */
  emit(next: number): void {
    const code = this.m.code;
    const copy = this.outer.length > 0;
    if (!copy) this.next = next;
    let pc = this.start;
    // Control comes back here from a RET: the function's locals are in its frame only.
    if (isLanding(this.m, pc) && this.nl > 0) this.lines.push(loadLocals(this.m, this.f));
    if (COMPILED[code[pc]] === 0) {
      // The scheduler's instructions are reached as the interpreter reaches them: Exit.Slow at
      // their pc, nothing charged. Anything else (TRAP) is the interpreter's to run.
      this.lines.push(`${this.stopAt(pc, false, SCHEDULED[code[pc]] === 1 ? `exit = ${Exit.Slow}; ` : "")};`);
      return;
    }
    let copied = 0;
    for (;;) {
      const op = code[pc];
      // An unconditional jump elsewhere is followed: its target is translated here too (a copy),
      // so entering a loop or leaving an if goes through one block, not two.
      const t = code[pc + 1];
      if (op === Op.JMP && t !== this.start && !this.encloses(t) && copied < MAX_BLOCK && this.ctx.copies.left > 0 && COMPILED[code[t]] === 1) {
        this.cost += GAS[op];
        copied++;
        this.ctx.copies.left--;
        pc = t;
        continue;
      }
      const after = pc + WIDTH[op];
      const goesOn = this.translate(op, pc);
      if (SEMANTICS[op]?.local !== undefined) this.written.add(code[pc + 1 + OPS[op].operands.indexOf("local")]);
      if (WRITES_MEMORY[op] === 1 && op !== Op.ASTORE) this.stores = null;
      const ends = !goesOn || OPS[op].flow === "branch";
      if (BULK[op] === 1) this.bulk = true;
      this.cost += GAS[op];
      const atLeader = this.leader[after] >= 0;
      // Translating on past a block start makes a second copy; anything in a copy inlined in a loop counts against the loops' budget.
      if (copy) this.ctx.copies.inline--;
      else if (atLeader || copied > 0) {
        copied++;
        this.ctx.copies.left--;
      }
      const stop = ends || BULK[op] === 1 || after >= this.ctx.end || COMPILED[code[after]] === 0 || (atLeader && (copied > MAX_BLOCK || this.ctx.copies.left <= 0));
      if (stop) {
        this.flush();
        const total = this.cost;
        this.total = total;
        this.check = this.stopAt(this.start, false, "");
        // The check is resolved once the case is emitted (see need()).
        const charge = [`@gas:${this.label}@`, `gas -= ${total};`];
        // A stop before an instruction returns the gas of it and everything after it in the block.
        const fill = (l: string): string => l.replace(/@refund(\d+)@/g, (_, before: string) => String(total - Number(before)));
        const body = [...charge, ...this.body].map(fill);
        // Where control goes on after the last instruction: its own start repeats the block.
        if (goesOn && (after !== next || after === this.start || copy)) body.push(this.jumpTo(after));
        else if (goesOn) this.targets.push(after);
        if (this.loops) {
          // The block's code is a JS loop: jumps back to its start continue it, so a guest loop runs without going through the switch.
          // Before it, the bounds of the arrays hoisted there (resolved once the whole case is emitted).
          this.lines.push(`@pre:${this.label}@`);
          this.lines.push(`${this.label}: for (;;) {`);
          for (const l of body) this.lines.push(`  ${l}`);
          if (goesOn && after === next && !copy && after !== this.start) this.lines.push(`  break ${this.label};`);
          this.lines.push("}");
        } else for (const l of body) this.lines.push(l);
        if (!copy) this.hoist();
        return;
      }
      pc = after;
    }
  }

  /** The local of this function a value was read from (LGET), if it was. */
  private localOf(v: Value | undefined): number | undefined {
    const l = v?.src === undefined ? null : /^f(\d+)_(\d+)$/.exec(v.src);
    return l !== null && Number(l[1]) === this.f ? Number(l[2]) : undefined;
  }

  /** Takes in what the code of a block nested in this one's does. */
  private absorb(b: Block): void {
    for (const k of b.written) this.written.add(k);
    if (b.stores === null) this.stores = null;
    else if (this.stores !== null) for (const k of b.stores) this.stores.add(k);
    for (const a of b.accesses) this.accesses.push(a);
    this.nested.push(b, ...b.nested);
    this.children.push(b);
  }

  /**
   * Once a case is emitted (this is its outermost block): each access
   * through a local's array, inside a JS loop whose code writes neither that
   * local nor memory except through locals' arrays it does not write either,
   * first compares its index with a bound read before the outermost such
   * loop, once each time the loop is entered, and runs its full check only
   * when that comparison fails (so its behaviour is the same).
   *
   * The bound of array a (the local's value) is mem[a] clamped to the words
   * of memory after a, 0 where a is not an address; an index below it passes
   * every check, and it stays such a bound while the loop runs: memory only
   * grows, the local keeps its value, and no store in the loop reaches a
   * length word: before the loop, the arrays it stores through are checked
   * not to hold the length word of any array it hoists or stores through in
   * their elements (with those words unchanged, by induction no store ever
   * reaches one), else every bound is 0.
   */
  private hoist(): void {
    const eligible = (l: Block): boolean => l.loops && l.stores !== null && ![...l.stores].some((k) => l.written.has(k));
    const fast = new Map<number, string>();
    for (const a of this.accesses) {
      const l = a.chain.find((b) => eligible(b) && !b.written.has(a.k));
      if (l === undefined) continue;
      l.hoisted.add(a.k);
      fast.set(a.id, `(${a.index} >>> 0) >= ${l.boundOf(a.k)} && `);
    }
    const pre = new Map<string, string>();
    for (const l of [this, ...this.nested]) if (l.hoisted.size > 0) pre.set(l.label, l.preamble());
    const checks = new Map<string, string>();
    const resolve = (b: Block, covered: boolean): void => {
      checks.set(b.label, covered ? "" : `if (gas < ${b.need()}) { ${b.check}; }`);
      for (const c of b.children) resolve(c, b.covers(c));
    };
    resolve(this, false);
    const fill = (line: string): string =>
      line
        .replace(/@h(\d+)@/g, (_, id: string) => fast.get(Number(id)) ?? "")
        .replace(/@pre:(\w+)@/g, (_, label: string) => pre.get(label) ?? "")
        .replace(/@gas:(\w+)@/g, (_, label: string) => checks.get(label) ?? "");
    for (let i = 0; i < this.lines.length; i++) this.lines[i] = fill(this.lines[i]);
  }

  /**
   * The gas this block's check asks for: its charge and, on the costliest
   * path, what the copies nested in its code ask for, those that run at most
   * once each time it does (not loops: every turn of one checks again), and
   * not after a bulk instruction, which takes gas the check did not count. Those
   * copies then check nothing: when this check passes, each finds at least
   * its charge left. When it fails the code stops before this block, earlier
   * than it must, and the interpreter runs on from there (stops are not
   * seen: only where the gas runs out, which the interpreter finds exactly).
   */
  private need(): number {
    let most = 0;
    for (const c of this.children) if (this.covers(c)) most = Math.max(most, c.need());
    return this.total + most;
  }

  /** Whether this block's check covers a copy nested directly in its code (see need()): not a loop, nor after a bulk instruction's extra gas. */
  private covers(c: Block): boolean {
    return !c.loops && !this.bulk;
  }

  /** The label of this block's case, which a jump to the next case breaks out of. */
  get endLabel(): string {
    return `${this.label}_end`;
  }

  /** The name of the bound of local k's array hoisted before this block's loop. */
  private boundOf(k: number): string {
    return `B${this.label}_${k}`;
  }

  /** Statements before this block's loop reading the bounds of its hoisted arrays (see hoist()). */
  private preamble(): string {
    const stores = [...(this.stores as Set<number>)];
    const all = [...new Set([...this.hoisted, ...stores])].sort((a, b) => a - b);
    const v = (k: number): string => localVar(this.f, k);
    const r = (k: number): string => `R${this.label}_${k}`;
    // (An address is in memory when it is below memSize as an unsigned number.)
    const out = all.map((k) => `const ${r(k)} = (${v(k)} >>> 0) < memSize ? Math.max(0, Math.min(mem[${v(k)}], memSize - 1 - ${v(k)})) : 0;`);
    // s < t <= s + R(s), as t - s - 1 below R(s) unsigned (a difference past 32 bits may wrap and
    // find an overlap where there is none: then nothing is hoisted, which is only slower).
    const apart = stores.flatMap((s) => all.filter((t) => t !== s).map((t) => `((${v(t)} - ${v(s)} - 1) >>> 0) >= ${r(s)}`));
    const ok = `ok${this.label}`;
    if (apart.length > 0) out.push(`const ${ok} = ${apart.join(" && ")};`);
    for (const k of [...this.hoisted].sort((a, b) => a - b)) out.push(`const ${this.boundOf(k)} = ${apart.length > 0 ? `${ok} ? ${r(k)} : 0` : r(k)};`);
    return out.join(" ");
  }

  /** Whether the code being emitted is nested in the code of a block starting at pc. */
  private encloses(pc: number): boolean {
    return this.outer.some((b) => b.start === pc);
  }

  /**
   * Whether a jump to `target` gets a copy of the target's code in place:
   * where the target is in the innermost loop of the outermost block (the
   * case being emitted), so that the loop's blocks, entered there, are one
   * piece of structured code (nested JS loops) instead of cases the switch
   * goes between; once per case, an inner loop only if small, not where
   * locals must be loaded, and within the chunk's budget of copies.
   */
  private inlines(target: number): boolean {
    const root = this.outer.length > 0 ? this.outer[0] : this;
    const loop = this.ctx.inner.get(root.start);
    const nested = this.ctx.loops.get(target);
    return (
      loop !== undefined &&
      loop.blocks.has(target) &&
      !root.inlined.has(target) &&
      (nested === undefined || nested === loop || nested.size <= MAX_INLINED_LOOP) &&
      this.outer.length < MAX_NEST &&
      this.ctx.copies.inline > 0 &&
      COMPILED[this.m.code[target]] === 1 &&
      !isLanding(this.m, target)
    );
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
    let cond = any ?? guards.map((g) => `(${g.cond})`).join(" || ");
    if (this.op === Op.ALOAD || this.op === Op.ASTORE) {
      // Through a local's array, the check may first compare the index with a bound read before an enclosing loop (hoist()).
      const k = this.localOf(this.bound("a"));
      if (this.op === Op.ASTORE) {
        if (k === undefined) this.stores = null;
        else this.stores?.add(k);
      }
      if (k !== undefined) {
        const id = this.ctx.accessIds.n++;
        this.accesses.push({ id, k, index: (this.bound("i") as Value).expr, chain: [...this.outer, this] });
        cond = `@h${id}@(${cond})`;
      }
    }
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
      const load = this.op === Op.CALL && this.ctx.inChunk.has(callee) ? ` ${loadLocals(this.m, callee)}` : "";
      return `{ pc = ${t}; blk = ${this.leader[t]};${load} continue loop; }`;
    }
    return `{ pc = ${target}; blk = leader[pc]; continue loop; }`;
  }

  protected done(v: string): string {
    return `{ pc = ${this.at}; cpu.value = ${v}; exit = ${Exit.Done}; break loop; }`;
  }

  /** Before a CALL leaves the function, its locals go back into its frame (the callee's frame is set up above them). */
  protected sync(): void {
    if (this.op === Op.CALL && this.ctx.store !== "") this.body.push(this.ctx.store);
  }

  /**
   * A jump within the function: back to the start of this block or of one its
   * code is nested in, a continue of its loop; to a block of the loop being
   * emitted, that block's code in place; to the block whose case follows the
   * case being emitted, out of it (falling into that case); else through the
   * switch. One to the code after a CALL (which loads the locals) stores them first.
   */
  jumpTo(target: number): string {
    for (const b of [this, ...this.outer])
      if (b.start === target) {
        b.loops = true;
        return `continue ${b.label};`;
      }
    if (this.inlines(target)) {
      (this.outer.length > 0 ? this.outer[0] : this).inlined.add(target);
      const b = new Block(this.ctx, target, [...this.outer, this]);
      b.emit(-1);
      this.absorb(b);
      return `{\n${b.lines.map((l) => `  ${l}`).join("\n")}\n}`;
    }
    const store = isLanding(this.m, target) && this.ctx.store !== "" ? `${this.ctx.store} ` : "";
    // To the next case: out of this one and into it, rather than back through the switch.
    const root = this.outer.length > 0 ? this.outer[0] : this;
    root.targets.push(target);
    if (target === root.next) {
      root.fallsThrough = true;
      return `{ ${store}break ${root.endLabel}; }`;
    }
    return `{ ${store}blk = ${this.leader[target]}; continue loop; }`;
  }

  /** Text that leaves the compiled code before `pc`, after `extra` (statements), refunding what `charged` says (the chunk then stores the locals). */
  private stopAt(pc: number, charged: boolean, extra: string): string {
    const h = this.m.heights[pc];
    // Only constants are assigned here, the arithmetic is done once after the loop: a stop first taken
    // late would otherwise be code V8 has no type feedback for, and taking it would deoptimize the chunk.
    return `${extra}pc = ${pc}; stopHeight = ${this.nl + h};${charged ? ` refund = @refund${this.cost}@;` : ""} break loop`;
  }
}
