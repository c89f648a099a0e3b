// The instruction set, defined once. This table drives the interpreter's gas
// charging, the verifier's stack checking, the assembler, the disassembler and
// the generated `spec/isa.md`. Code is an Int32Array: an opcode word followed
// by its operand words.

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
  /** Words popped; -1 when the verifier derives it from an operand (CALL, SPAWN, CAP). */
  readonly pop: number;
  readonly push: number;
  /**
   * Base gas charged before the instruction runs. Proportional to host CPU
   * time (about 3-7 ns per unit here; `npm run bench -- --only calibrate`):
   * instructions the scheduler runs cost more because they leave the hot loop.
   */
  readonly gas: number;
  /** What the instruction's gas beyond `gas` is proportional to, if anything (see `dynamicGas`). */
  readonly dynamic?: DynamicGas;
  /** Who runs it (see `Runs`). */
  readonly runs: Runs;
  readonly flow: Flow;
  readonly doc: string;
}

/**
 * Dynamic gas, charged on top of the base gas when the instruction runs:
 * - "words": `wordGas(n)` for the n words it moves, grows, fills or copies;
 * - "bytes": `byteGas(n)` for the n bytes of code or image it verifies;
 * - "words+bytes": both (SPAWNC: its memory words and its code bytes).
 */
export type DynamicGas = "words" | "bytes" | "words+bytes";

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
/** Code or image bytes verified per extra unit of gas ("bytes" dynamic gas). */
export const BYTES_PER_GAS = 4;

/** Words SPAWN pops besides the entry function's arguments (ptr len gas mem grant trap). */
export const SPAWN_EXTRA = 6;

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
  { name: "NOP",     operands: [],               pop: 0, push: 0, gas: 1, runs: "compiled", flow: "next", doc: "do nothing" },
  { name: "PUSH",    operands: ["i32"],          pop: 0, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "push imm" },
  { name: "POP",     operands: [],               pop: 1, push: 0, gas: 1, runs: "compiled", flow: "next", doc: "drop a" },
  { name: "DUP",     operands: [],               pop: 1, push: 2, gas: 1, runs: "compiled", flow: "next", doc: "a -> a a" },
  { name: "SWAP",    operands: [],               pop: 2, push: 2, gas: 1, runs: "compiled", flow: "next", doc: "a b -> b a" },
  { name: "OVER",    operands: [],               pop: 2, push: 3, gas: 1, runs: "compiled", flow: "next", doc: "a b -> a b a" },
  // --- locals (parameters are the first locals)
  { name: "LGET",    operands: ["local"],        pop: 0, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "push local[l]" },
  { name: "LSET",    operands: ["local"],        pop: 1, push: 0, gas: 1, runs: "compiled", flow: "next", doc: "local[l] := a" },
  { name: "LTEE",    operands: ["local"],        pop: 1, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "local[l] := a, keep a" },
  { name: "LINC",    operands: ["local", "i32"], pop: 0, push: 0, gas: 1, runs: "compiled", flow: "next", doc: "local[l] := local[l] + imm (wrapping)" },
  // --- i32 arithmetic, wrapping like WebAssembly
  { name: "ADD",     operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a + b" },
  { name: "SUB",     operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a - b" },
  { name: "MUL",     operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a * b" },
  { name: "DIV",     operands: [],               pop: 2, push: 1, gas: 2, runs: "compiled", flow: "next", doc: "a / b truncated; faults div_by_zero, overflow (INT_MIN / -1)" },
  { name: "REM",     operands: [],               pop: 2, push: 1, gas: 2, runs: "compiled", flow: "next", doc: "a % b (sign of a); faults div_by_zero; INT_MIN % -1 is 0" },
  { name: "ADDI",    operands: ["i32"],          pop: 1, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a + imm" },
  { name: "NEG",     operands: [],               pop: 1, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "-a (wrapping)" },
  // --- bitwise; shift counts are taken modulo 32
  { name: "AND",     operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a & b" },
  { name: "OR",      operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a | b" },
  { name: "XOR",     operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a ^ b" },
  { name: "SHL",     operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a << (b mod 32)" },
  { name: "SHR",     operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a >> (b mod 32), arithmetic" },
  { name: "SHRU",    operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a >>> (b mod 32), logical" },
  { name: "NOT",     operands: [],               pop: 1, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "~a" },
  // --- comparison: 1 or 0
  { name: "EQ",      operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a == b" },
  { name: "NE",      operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a != b" },
  { name: "LT",      operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a < b" },
  { name: "LE",      operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a <= b" },
  { name: "GT",      operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a > b" },
  { name: "GE",      operands: [],               pop: 2, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a >= b" },
  { name: "EQZ",     operands: [],               pop: 1, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "a == 0" },
  // --- control
  { name: "JMP",     operands: ["label"],        pop: 0, push: 0, gas: 1, runs: "compiled", flow: "jump", doc: "pc := label" },
  { name: "JZ",      operands: ["label"],        pop: 1, push: 0, gas: 1, runs: "compiled", flow: "branch", doc: "if a == 0 then pc := label" },
  { name: "JNZ",     operands: ["label"],        pop: 1, push: 0, gas: 1, runs: "compiled", flow: "branch", doc: "if a != 0 then pc := label" },
  { name: "CALL",    operands: ["func"],         pop: -1, push: 1, gas: 2, runs: "compiled", flow: "next", doc: "call f with its nparams arguments; allocates f's frame (nlocals + maxStack + 3 words)" },
  { name: "RET",     operands: [],               pop: 1, push: 0, gas: 1, runs: "compiled", flow: "end", doc: "return a to the caller, releasing the frame; from the bottom frame: the process is done(a)" },
  { name: "TRAP",    operands: ["i32"],          pop: 0, push: 0, gas: 1, runs: "loop", flow: "end", doc: "fault with kind trap(imm)" },
  // --- linear memory (word addressed, every access bounds-checked)
  { name: "MSIZE",   operands: [],               pop: 0, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "push memory size in words" },
  { name: "MGROW",   operands: [],               pop: 1, push: 1, gas: 2, dynamic: "words", runs: "compiled", flow: "next", doc: "grow memory by n zero words (allocates n); push the old size" },
  { name: "LOAD",    operands: ["i32"],          pop: 1, push: 1, gas: 1, runs: "compiled", flow: "next", doc: "push mem[a + imm]" },
  { name: "STORE",   operands: ["i32"],          pop: 2, push: 0, gas: 1, runs: "compiled", flow: "next", doc: "a v: mem[a + imm] := v" },
  { name: "MCOPY",   operands: [],               pop: 3, push: 0, gas: 2, dynamic: "words", runs: "compiled", flow: "next", doc: "dst src n: copy n words (overlap-safe)" },
  { name: "MFILL",   operands: [],               pop: 3, push: 0, gas: 2, dynamic: "words", runs: "compiled", flow: "next", doc: "dst v n: fill n words with v" },
  // --- processes (DESIGN §3)
  { name: "SPAWN",   operands: ["func"],         pop: -1, push: 1, gas: 120, dynamic: "words", runs: "scheduler", flow: "next", doc: "args.. ptr len gas mem grant trap: child running f(args) with mem[ptr..ptr+len) as its memory; push handle" },
  { name: "SPAWNC",  operands: [],               pop: 8, push: 1, gas: 100, dynamic: "words+bytes", runs: "scheduler", flow: "next", doc: "ptr len gas mem grant trap cptr clen: child from module bytes mem[cptr..+clen) (one byte per word, verified), entry function 0 (no parameters); push handle" },
  { name: "SPAWNX",  operands: ["link", "i32"], pop: 6, push: 1, gas: 120, dynamic: "words", runs: "scheduler", flow: "next", doc: "ptr len gas mem grant trap: child running function imm (no parameters) of linked module l, memory from mem[ptr..ptr+len); push handle" },
  { name: "RESUME",  operands: [],               pop: 1, push: 1, gas: 15, runs: "scheduler", flow: "next", doc: "h: run child h until it stops; push its status" },
  { name: "REFUEL",  operands: [],               pop: 3, push: 0, gas: 10, runs: "scheduler", flow: "next", doc: "h g m: raise child h's gas limit by g and memory limit by m (both >= 0)" },
  { name: "STATUS",  operands: [],               pop: 1, push: 1, gas: 8, runs: "scheduler", flow: "next", doc: "h: push child h's status" },
  { name: "RESULT",  operands: [],               pop: 1, push: 1, gas: 8, runs: "scheduler", flow: "next", doc: "h: push the value child h returned or yielded" },
  { name: "CLOAD",   operands: [],               pop: 4, push: 0, gas: 8, dynamic: "words", runs: "scheduler", flow: "next", doc: "h src dst n: copy n words from child h's memory at src to own memory at dst" },
  { name: "CSTORE",  operands: [],               pop: 4, push: 0, gas: 8, dynamic: "words", runs: "scheduler", flow: "next", doc: "h dst src n: copy n words from own memory at src to child h's memory at dst" },
  { name: "KILL",    operands: [],               pop: 1, push: 0, gas: 30, runs: "scheduler", flow: "next", doc: "h: drop child h and its subtree, releasing their footprint up the chain" },
  { name: "YIELD",   operands: [],               pop: 1, push: 0, gas: 10, runs: "scheduler", flow: "next", doc: "stop as yielded(a); the parent's resume continues after this instruction" },
  { name: "GASLEFT", operands: [],               pop: 0, push: 1, gas: 6, runs: "scheduler", flow: "next", doc: "push own gasLimit - gasUsed (saturated to i32)" },
  { name: "MEMLEFT", operands: [],               pop: 0, push: 1, gas: 6, runs: "scheduler", flow: "next", doc: "push own memLimit - memUsed (saturated to i32)" },
  { name: "CAP",     operands: ["cap", "count"], pop: -1, push: 1, gas: 100, dynamic: "words", runs: "scheduler", flow: "next", doc: "call capability c with n argument words; push its result (an array result goes to the inbox; its length is pushed)" },
  { name: "SNAPSHOT",operands: [],               pop: 1, push: 1, gas: 60, dynamic: "words", runs: "scheduler", flow: "next", doc: "h: encode child h's subtree as an image into the inbox (its bytes charged as words); push its length in bytes; bulk gas on the subtree's footprint" },
  { name: "RESTORE", operands: [],               pop: 2, push: 1, gas: 100, dynamic: "words+bytes", runs: "scheduler", flow: "next", doc: "ptr len: verify image bytes mem[ptr..ptr+len) (one byte per word) and make its tree a new child; push handle" },
  { name: "INBOX",   operands: [],               pop: 1, push: 0, gas: 4, dynamic: "words", runs: "scheduler", flow: "next", doc: "dst: copy the inbox (one element per word) to mem[dst..], then empty it, releasing its charge" },
  { name: "INLEN",   operands: [],               pop: 0, push: 1, gas: 4, runs: "scheduler", flow: "next", doc: "push the inbox length" },
  { name: "ANSWER",  operands: [],               pop: 2, push: 0, gas: 4, runs: "scheduler", flow: "next", doc: "h v: set the int value child h's trapped capability call returns" },
  { name: "ANSWERA", operands: [],               pop: 3, push: 0, gas: 8, dynamic: "words", runs: "scheduler", flow: "next", doc: "h ptr len: answer child h's trapped call with the array mem[ptr..ptr+len) (goes to its inbox; its call returns len)" },
  { name: "NARROW",  operands: ["cap"],          pop: 3, push: 0, gas: 20, dynamic: "words", runs: "scheduler", flow: "next", doc: "h ptr len: narrow child h's grants of capability family c to the scope mem[ptr..+len) (code points; relative to the held scope), which must lie within a scope it holds" },
  { name: "REQUEST", operands: [],               pop: 2, push: 1, gas: 8, dynamic: "words", runs: "scheduler", flow: "next", doc: "h k: child h's trapped request: k = -2 push its argument count; k = -1 its capability name (code points) into the inbox, k >= 0 argument k into the inbox, and push the length" },
  // --- arrays ([len, e0, e1, ...] in linear memory) and children, appended to keep opcode numbers stable
  { name: "ALOAD",   operands: [],               pop: 2, push: 1, gas: 2, runs: "compiled", flow: "next", doc: "a i: push mem[a + 1 + i]; faults index_bounds unless 0 <= i < mem[a]" },
  { name: "ASTORE",  operands: [],               pop: 3, push: 0, gas: 2, runs: "compiled", flow: "next", doc: "a i v: mem[a + 1 + i] := v; faults index_bounds unless 0 <= i < mem[a]" },
  { name: "CSIZE",   operands: [],               pop: 1, push: 1, gas: 8, runs: "scheduler", flow: "next", doc: "h: push child h's memory size in words" },
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

function runsBy(runs: Runs): Uint8Array {
  return Uint8Array.from(TABLE.map((o) => (o.runs === runs ? 1 : 0)));
}

/** By opcode, 1 where the scheduler runs the instruction (the loop exits with Exit.Slow). */
export const SCHEDULED: Uint8Array = runsBy("scheduler");
/** By opcode, 1 where the compiled tier runs the instruction itself. */
export const COMPILED: Uint8Array = runsBy("compiled");

/** Status codes as guests see them (RESUME, STATUS): defined by the status table, src/vm/status.ts. */
export { StatusCode } from "./status.js";
