// The instruction set, defined once. This table drives the interpreter's gas
// charging, the verifier's stack checking, the assembler, the disassembler,
// the compiled tier's block boundaries and the generated `spec/isa.md`; what
// each instruction computes is written once in semantics.ts. Code is an
// Int32Array: an opcode word followed by its operand words.

import type { FaultKind } from "./errors.js";

/** Kinds of operand words that follow an opcode. */
export type OperandKind =
  | "i32" // an immediate signed word
  | "local" // a local slot index in the current frame
  | "label" // an absolute code address (a jump target inside the function)
  | "func" // a function index in the module
  | "cap" // an index into the module's capability manifest
  | "count" // a small non-negative count (0..16)
  | "link"; // an index into the module's linked modules

/** How control leaves an instruction; the verifier follows these. */
export type Flow = "next" | "jump" | "branch" | "end";

export interface OpInfo {
  readonly name: string;
  readonly operands: readonly OperandKind[];
  /** Words popped; -1 when `popFrom` derives it from an operand (CALL, SPAWN, CAP). */
  readonly pop: number;
  /** How a variable pop count is derived (see `popCount`). */
  readonly popFrom?: VariablePop;
  readonly push: number;
  /**
   * Base gas charged before the instruction runs. Proportional to host CPU
   * time (about 3-7 ns per unit here; `npm run bench -- --only calibrate`):
   * instructions the scheduler runs cost more because they leave the hot loop.
   */
  readonly gas: number;
  /** What the instruction's gas beyond `gas` counts, if anything (see `DynamicGas`). */
  readonly dynamic?: DynamicGas;
  /** Who runs it (see `Runs`). */
  readonly runs: Runs;
  readonly flow: Flow;
  /** The fault kinds the instruction itself can raise (errors.ts FAULTS). */
  readonly faults: readonly FaultKind[];
  readonly doc: string;
}

/** A variable pop count: the value of an operand (a count), or the nparams of the function it names, plus `plus`. */
export interface VariablePop {
  readonly operand: number;
  readonly as: "nparams" | "count";
  readonly plus: number;
}

/** One quantity of dynamic gas: its symbol in spec/isa.md and what it counts. */
export type Quantity = readonly [symbol: string, counts: string];

/**
 * Dynamic gas, charged on top of the base gas when the instruction runs:
 * - words: `wordGas(n)` for the n words it moves, grows, fills or copies;
 * - bytes: `byteGas(n)` for the n bytes of code or image it verifies;
 * - levels: `levelGas(d)` for a switch to a process at depth d (RESUME: the
 *   scheduler settles and loads the counters of every process on the chain);
 * both for SPAWNC (its memory words and its code bytes). An instruction with
 * dynamic gas is "bulk": the compiled tier ends a block after it.
 */
export interface DynamicGas {
  readonly words?: Quantity;
  readonly bytes?: Quantity;
  readonly levels?: Quantity;
}

/**
 * Who runs an instruction:
 * - "compiled": the hot loop, and the compiled tier (jit.ts) inside its blocks;
 * - "loop": the hot loop only (the compiled tier stops before it);
 * - "scheduler": the hot loop exits (Exit.Slow) and the scheduler runs it,
 *   because it touches the process tree or the host.
 */
export type Runs = "compiled" | "loop" | "scheduler";

/** Words moved per extra unit of gas ("words" dynamic gas). */
export const WORDS_PER_GAS = 16;
/** Tree levels a switch walks for free ("levels" dynamic gas): a RESUME in a shallow tree costs its base gas only. */
export const FREE_LEVELS = 64;
/** Gas per tree level beyond FREE_LEVELS ("levels" dynamic gas): a resume's two switches walk the chain about four times, some 25 ns a level. */
export const GAS_PER_LEVEL = 2;

/** Gas for a switch to a process at depth d ("levels" dynamic gas). */
export function levelGas(d: number): number {
  return d <= FREE_LEVELS ? 0 : (d - FREE_LEVELS) * GAS_PER_LEVEL;
}

/** Code or image bytes verified per extra unit of gas ("bytes" dynamic gas). */
export const BYTES_PER_GAS = 4;

/**
 * A call frame in the frames array: what CALL saves and RET restores,
 * Frame.Words words per call. A const enum: the hot loop reads literals.
 */
export const enum Frame {
  /** The pc to return to (after the CALL). */
  Ret = 0,
  /** The caller's base of locals. */
  Bp = 1,
  /** The function called (its frame cost is released on return). */
  Fn = 2,
  Words = 3,
}

/** Bookkeeping words charged per call frame (Frame: return pc, saved base, function). */
export const FRAME_WORDS: number = Frame.Words;

/** Opcode numbers. A const enum so the interpreter's `case` labels are literals. */
export const enum Op {
  NOP = 0,
  PUSH = 1,
  POP = 2,
  DUP = 3,
  SWAP = 4,
  OVER = 5,
  LGET = 6,
  LSET = 7,
  LTEE = 8,
  LINC = 9,
  ADD = 10,
  SUB = 11,
  MUL = 12,
  DIV = 13,
  REM = 14,
  ADDI = 15,
  NEG = 16,
  AND = 17,
  OR = 18,
  XOR = 19,
  SHL = 20,
  SHR = 21,
  SHRU = 22,
  NOT = 23,
  EQ = 24,
  NE = 25,
  LT = 26,
  LE = 27,
  GT = 28,
  GE = 29,
  EQZ = 30,
  JMP = 31,
  JZ = 32,
  JNZ = 33,
  CALL = 34,
  RET = 35,
  TRAP = 36,
  MSIZE = 37,
  MGROW = 38,
  LOAD = 39,
  STORE = 40,
  MCOPY = 41,
  MFILL = 42,
  SPAWN = 43,
  SPAWNC = 44,
  SPAWNX = 45,
  RESUME = 46,
  REFUEL = 47,
  STATUS = 48,
  RESULT = 49,
  CLOAD = 50,
  CSTORE = 51,
  KILL = 52,
  YIELD = 53,
  GASLEFT = 54,
  MEMLEFT = 55,
  CAP = 56,
  SNAPSHOT = 57,
  RESTORE = 58,
  INBOX = 59,
  INLEN = 60,
  ANSWER = 61,
  ANSWERA = 62,
  NARROW = 63,
  REQUEST = 64,
  ALOAD = 65,
  ASTORE = 66,
  CSIZE = 67,
}

// prettier-ignore
const TABLE: readonly OpInfo[] = [
  // --- stack
  { name: "NOP",     operands: [],               pop: 0, push: 0, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "do nothing" },
  { name: "PUSH",    operands: ["i32"],          pop: 0, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "push imm" },
  { name: "POP",     operands: [],               pop: 1, push: 0, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "drop a" },
  { name: "DUP",     operands: [],               pop: 1, push: 2, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a -> a a" },
  { name: "SWAP",    operands: [],               pop: 2, push: 2, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a b -> b a" },
  { name: "OVER",    operands: [],               pop: 2, push: 3, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a b -> a b a" },
  // --- locals (parameters are the first locals)
  { name: "LGET",    operands: ["local"],        pop: 0, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "push local[l]" },
  { name: "LSET",    operands: ["local"],        pop: 1, push: 0, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "local[l] := a" },
  { name: "LTEE",    operands: ["local"],        pop: 1, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "local[l] := a, keep a" },
  { name: "LINC",    operands: ["local", "i32"], pop: 0, push: 0, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "local[l] := local[l] + imm (wrapping)" },
  // --- i32 arithmetic, wrapping like WebAssembly
  { name: "ADD",     operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a + b" },
  { name: "SUB",     operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a - b" },
  { name: "MUL",     operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a * b" },
  { name: "DIV",     operands: [],               pop: 2, push: 1, gas: 2, runs: "compiled", flow: "next", faults: ["div_by_zero", "overflow"], doc: "a / b truncated; faults if b = 0 or the quotient overflows (INT_MIN / -1)" },
  { name: "REM",     operands: [],               pop: 2, push: 1, gas: 2, runs: "compiled", flow: "next", faults: ["div_by_zero"], doc: "a % b (sign of a); faults if b = 0; INT_MIN % -1 is 0" },
  { name: "ADDI",    operands: ["i32"],          pop: 1, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a + imm" },
  { name: "NEG",     operands: [],               pop: 1, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "-a (wrapping)" },
  // --- bitwise; shift counts are taken modulo 32
  { name: "AND",     operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a & b" },
  { name: "OR",      operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a | b" },
  { name: "XOR",     operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a ^ b" },
  { name: "SHL",     operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a << (b mod 32)" },
  { name: "SHR",     operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a >> (b mod 32), arithmetic" },
  { name: "SHRU",    operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a >>> (b mod 32), logical" },
  { name: "NOT",     operands: [],               pop: 1, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "~a" },
  // --- comparison: 1 or 0
  { name: "EQ",      operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a == b" },
  { name: "NE",      operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a != b" },
  { name: "LT",      operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a < b" },
  { name: "LE",      operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a <= b" },
  { name: "GT",      operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a > b" },
  { name: "GE",      operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a >= b" },
  { name: "EQZ",     operands: [],               pop: 1, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "a == 0" },
  // --- control
  { name: "JMP",     operands: ["label"],        pop: 0, push: 0, gas: 1, runs: "compiled", flow: "jump", faults: [], doc: "pc := label" },
  { name: "JZ",      operands: ["label"],        pop: 1, push: 0, gas: 1, runs: "compiled", flow: "branch", faults: [], doc: "if a == 0 then pc := label" },
  { name: "JNZ",     operands: ["label"],        pop: 1, push: 0, gas: 1, runs: "compiled", flow: "branch", faults: [], doc: "if a != 0 then pc := label" },
  { name: "CALL",    operands: ["func"],         pop: -1, popFrom: { operand: 0, as: "nparams", plus: 0 }, push: 1, gas: 2, runs: "compiled", flow: "next", faults: [], doc: `call f with its nparams arguments; allocates f's frame (nlocals + maxStack + ${FRAME_WORDS} words)` },
  { name: "RET",     operands: [],               pop: 1, push: 0, gas: 1, runs: "compiled", flow: "end", faults: [], doc: "return a to the caller, releasing the frame; from the bottom frame: the process is done(a)" },
  { name: "TRAP",    operands: ["i32"],          pop: 0, push: 0, gas: 1, runs: "loop", flow: "end", faults: ["trap"], doc: "fault with kind trap, code imm" },
  // --- linear memory (word addressed, every access bounds-checked)
  { name: "MSIZE",   operands: [],               pop: 0, push: 1, gas: 1, runs: "compiled", flow: "next", faults: [], doc: "push memory size in words" },
  { name: "MGROW",   operands: [],               pop: 1, push: 1, gas: 2, dynamic: { words: ["n", "words grown"] }, runs: "compiled", flow: "next", faults: ["bad_arg", "mem_limit"], doc: "grow memory by n zero words (allocates n); push the old size" },
  { name: "LOAD",    operands: ["i32"],          pop: 1, push: 1, gas: 1, runs: "compiled", flow: "next", faults: ["mem_bounds"], doc: "push mem[a + imm]" },
  { name: "STORE",   operands: ["i32"],          pop: 2, push: 0, gas: 1, runs: "compiled", flow: "next", faults: ["mem_bounds"], doc: "a v: mem[a + imm] := v" },
  { name: "MCOPY",   operands: [],               pop: 3, push: 0, gas: 2, dynamic: { words: ["n", "words copied"] }, runs: "compiled", flow: "next", faults: ["mem_bounds"], doc: "dst src n: copy n words (overlap-safe)" },
  { name: "MFILL",   operands: [],               pop: 3, push: 0, gas: 2, dynamic: { words: ["n", "words filled"] }, runs: "compiled", flow: "next", faults: ["mem_bounds"], doc: "dst v n: fill n words with v" },
  // --- processes (DESIGN §3)
  { name: "SPAWN",   operands: ["func"],         pop: -1, popFrom: { operand: 0, as: "nparams", plus: 6 }, push: 1, gas: 120, dynamic: { words: ["len", "words of the child's memory"] }, runs: "scheduler", flow: "next", faults: ["bad_arg", "mem_bounds", "depth_limit", "cap_denied"], doc: "args.. ptr len gas mem grant trap: child running f(args) with mem[ptr..ptr+len) as its memory; push handle" },
  { name: "SPAWNC",  operands: [],               pop: 8, push: 1, gas: 100, dynamic: { words: ["len", "words of the child's memory"], bytes: ["clen", "code bytes"] }, runs: "scheduler", flow: "next", faults: ["bad_arg", "mem_bounds", "depth_limit", "cap_denied", "bad_code"], doc: "ptr len gas mem grant trap cptr clen: child from module bytes mem[cptr..+clen) (one byte per word, verified), entry function 0 (no parameters); push handle" },
  { name: "SPAWNX",  operands: ["link", "i32"], pop: 6, push: 1, gas: 120, dynamic: { words: ["len", "words of the child's memory"] }, runs: "scheduler", flow: "next", faults: ["bad_arg", "mem_bounds", "depth_limit", "cap_denied", "bad_code"], doc: "ptr len gas mem grant trap: child running function imm (no parameters) of linked module l, memory from mem[ptr..ptr+len); push handle" },
  { name: "RESUME",  operands: [],               pop: 1, push: 1, gas: 15, dynamic: { levels: ["d", "depth of the process control goes to (the child's deepest running process)"] }, runs: "scheduler", flow: "next", faults: ["bad_handle"], doc: "h: run child h until it stops; push its status" },
  { name: "REFUEL",  operands: [],               pop: 3, push: 0, gas: 10, runs: "scheduler", flow: "next", faults: ["bad_handle", "bad_arg"], doc: "h g m: raise child h's gas limit by g and memory limit by m (both >= 0)" },
  { name: "STATUS",  operands: [],               pop: 1, push: 1, gas: 8, runs: "scheduler", flow: "next", faults: ["bad_handle"], doc: "h: push child h's status" },
  { name: "RESULT",  operands: [],               pop: 1, push: 1, gas: 8, runs: "scheduler", flow: "next", faults: ["bad_handle", "no_result"], doc: "h: push the value child h returned or yielded" },
  { name: "CLOAD",   operands: [],               pop: 4, push: 0, gas: 8, dynamic: { words: ["n", "words copied"] }, runs: "scheduler", flow: "next", faults: ["bad_handle", "mem_bounds"], doc: "h src dst n: copy n words from child h's memory at src to own memory at dst" },
  { name: "CSTORE",  operands: [],               pop: 4, push: 0, gas: 8, dynamic: { words: ["n", "words copied"] }, runs: "scheduler", flow: "next", faults: ["bad_handle", "mem_bounds"], doc: "h dst src n: copy n words from own memory at src to child h's memory at dst" },
  { name: "KILL",    operands: [],               pop: 1, push: 0, gas: 30, runs: "scheduler", flow: "next", faults: ["bad_handle"], doc: "h: drop child h and its subtree, releasing their footprint up the chain" },
  { name: "YIELD",   operands: [],               pop: 1, push: 0, gas: 10, runs: "scheduler", flow: "next", faults: [], doc: "stop as yielded(a); the parent's resume continues after this instruction" },
  { name: "GASLEFT", operands: [],               pop: 0, push: 1, gas: 6, runs: "scheduler", flow: "next", faults: [], doc: "push own gasLimit - gasUsed (saturated to i32)" },
  { name: "MEMLEFT", operands: [],               pop: 0, push: 1, gas: 6, runs: "scheduler", flow: "next", faults: [], doc: "push own memLimit - memUsed (saturated to i32)" },
  { name: "CAP",     operands: ["cap", "count"], pop: -1, popFrom: { operand: 1, as: "count", plus: 0 }, push: 1, gas: 100, dynamic: { words: ["w", "argument words passed (an int counts 1, an array its length)"] }, runs: "scheduler", flow: "next", faults: ["cap_denied", "bad_arg", "mem_bounds", "cap_failed"], doc: "call capability c with n argument words; push its result (an array result goes to the inbox; its length is pushed)" },
  { name: "SNAPSHOT",operands: [],               pop: 1, push: 1, gas: 60, dynamic: { words: ["w", "memUsed of the child (its subtree footprint)"] }, runs: "scheduler", flow: "next", faults: ["bad_handle", "bad_image"], doc: "h: encode child h's subtree as an image into the inbox (its bytes charged as words); push its length in bytes; bulk gas on the subtree's footprint" },
  { name: "RESTORE", operands: [],               pop: 2, push: 1, gas: 100, dynamic: { bytes: ["len", "image bytes"] }, runs: "scheduler", flow: "next", faults: ["mem_bounds", "bad_image", "depth_limit"], doc: "ptr len: verify image bytes mem[ptr..ptr+len) (one byte per word) and make its tree a new child; push handle" },
  { name: "INBOX",   operands: [],               pop: 1, push: 0, gas: 4, dynamic: { words: ["n", "inbox length"] }, runs: "scheduler", flow: "next", faults: ["mem_bounds"], doc: "dst: copy the inbox (one element per word) to mem[dst..], then empty it, releasing its charge" },
  { name: "INLEN",   operands: [],               pop: 0, push: 1, gas: 4, runs: "scheduler", flow: "next", faults: [], doc: "push the inbox length" },
  { name: "ANSWER",  operands: [],               pop: 2, push: 0, gas: 4, runs: "scheduler", flow: "next", faults: ["bad_handle", "not_resumable", "bad_arg"], doc: "h v: set the int value child h's trapped capability call returns" },
  { name: "ANSWERA", operands: [],               pop: 3, push: 0, gas: 8, dynamic: { words: ["len", "words of the answer"] }, runs: "scheduler", flow: "next", faults: ["bad_handle", "not_resumable", "bad_arg", "mem_bounds"], doc: "h ptr len: answer child h's trapped call with the array mem[ptr..ptr+len) (goes to its inbox; its call returns len)" },
  { name: "NARROW",  operands: ["cap"],          pop: 3, push: 0, gas: 20, dynamic: { words: ["len", "code points of the scope"] }, runs: "scheduler", flow: "next", faults: ["bad_handle", "mem_bounds", "cap_denied"], doc: "h ptr len: narrow child h's grants of capability family c to the scope mem[ptr..+len) (code points; relative to the held scope), which must lie within a scope it holds" },
  { name: "REQUEST", operands: [],               pop: 2, push: 1, gas: 8, dynamic: { words: ["len", "words put in the inbox (none for k = -2)"] }, runs: "scheduler", flow: "next", faults: ["bad_handle", "no_result", "bad_arg"], doc: "h k: child h's trapped request: k = -2 push its argument count; k = -1 its capability name (code points) into the inbox, k >= 0 argument k into the inbox, and push the length" },
  // --- arrays ([len, e0, e1, ...] in linear memory) and children, appended to keep opcode numbers stable
  { name: "ALOAD",   operands: [],               pop: 2, push: 1, gas: 2, runs: "compiled", flow: "next", faults: ["index_bounds", "mem_bounds"], doc: "a i: push mem[a + 1 + i]; faults unless a is in memory and 0 <= i < mem[a]" },
  { name: "ASTORE",  operands: [],               pop: 3, push: 0, gas: 2, runs: "compiled", flow: "next", faults: ["index_bounds", "mem_bounds"], doc: "a i v: mem[a + 1 + i] := v; faults unless a is in memory and 0 <= i < mem[a]" },
  { name: "CSIZE",   operands: [],               pop: 1, push: 1, gas: 8, runs: "scheduler", flow: "next", faults: ["bad_handle"], doc: "h: push child h's memory size in words" },
];

export const OPS: readonly OpInfo[] = TABLE;

const BY_NAME = new Map(TABLE.map((o, i) => [o.name, i]));

/** Base gas per opcode, for the hot loop. */
export const GAS: Int32Array = Int32Array.from(TABLE.map((o) => o.gas));

/** Number of words an instruction occupies (opcode + operands). */
export const WIDTH: Int32Array = Int32Array.from(TABLE.map((o) => 1 + o.operands.length));

export function opByName(name: string): number | undefined {
  return BY_NAME.get(name.toUpperCase());
}

/** Gas for n words moved by an instruction with "words" dynamic gas, on top of its base gas. */
export function wordGas(n: number): number {
  return n <= 0 ? 0 : Math.ceil(n / WORDS_PER_GAS);
}

/** Gas for n code or image bytes verified by an instruction with "bytes" dynamic gas. */
export function byteGas(n: number): number {
  return n <= 0 ? 0 : Math.ceil(n / BYTES_PER_GAS);
}

/**
 * Words the instruction at pc pops: its `pop`, or for a variable pop the
 * count its operand gives (`nparamsOf` maps a function index to its nparams).
 */
export function popCount(code: ArrayLike<number>, pc: number, nparamsOf: (f: number) => number): number {
  const o = TABLE[code[pc]];
  const v = o.popFrom;
  if (v === undefined) return o.pop;
  const x = code[pc + 1 + v.operand];
  return (v.as === "nparams" ? nparamsOf(x) : x) + v.plus;
}

/** Words SPAWN pops besides the entry function's arguments (ptr len gas mem grant trap): from its row. */
export const SPAWN_EXTRA: number = (TABLE[Op.SPAWN].popFrom as VariablePop).plus;

function by(pick: (o: OpInfo) => boolean): Uint8Array {
  return Uint8Array.from(TABLE.map((o) => (pick(o) ? 1 : 0)));
}

/** By opcode, 1 where the scheduler runs the instruction (the loop exits with Exit.Slow). */
export const SCHEDULED: Uint8Array = by((o) => o.runs === "scheduler");
/** By opcode, 1 where the compiled tier runs the instruction itself. */
export const COMPILED: Uint8Array = by((o) => o.runs === "compiled");
/** By opcode, 1 where the instruction has dynamic gas (known only when it runs). */
export const BULK: Uint8Array = by((o) => o.dynamic !== undefined);

// The table checks itself once: a variable pop is declared one way only.
for (const o of TABLE)
  if ((o.pop < 0) !== (o.popFrom !== undefined) || (o.popFrom !== undefined && o.popFrom.operand >= o.operands.length))
    throw new Error(`opcodes: ${o.name} must give pop -1 exactly when popFrom names one of its operands`);

/** Status codes as guests see them (RESUME, STATUS): defined by the status table, src/vm/status.ts. */
export { StatusCode } from "./status.js";
