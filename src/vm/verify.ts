// The verifier: modules are untrusted. It checks every instruction's operands
// and proves a consistent operand-stack height at every instruction, so the
// interpreter never checks stack bounds. It works with an explicit worklist:
// no host recursion, whatever the code looks like.

import { RarError } from "./errors.js";
import { CallInfo, MODULE_LIMITS, digestBytes, encodeModule, type FunctionDef, type Module, type ModuleDef, type SourceMap } from "./module.js";
import { FRAME_WORDS, OPS, WIDTH, popCount } from "./opcodes.js";
import { quicken } from "./quicken.js";

/** Operand stack height bound per frame; keeps frames and charges small. */
export const MAX_STACK = 4096;
export const MAX_CAP_ARGS = 16;

// Per opcode, derived from the table once, so the verifier's loops read numbers rather than the
// table's rows: each operand's kind (two at most) and how control leaves the instruction.
const KINDS = ["i32", "local", "label", "func", "cap", "count", "link"] as const;
const [I32, LOCAL, LABEL, FUNC, CAP, COUNT, LINK] = [0, 1, 2, 3, 4, 5, 6];
const OPERAND_KIND = Uint8Array.from(OPS.flatMap((o) => [0, 1].map((k) => (k < o.operands.length ? KINDS.indexOf(o.operands[k] as (typeof KINDS)[number]) : I32))));
const OPERANDS = Uint8Array.from(OPS, (o) => o.operands.length);
const PUSHES = Int32Array.from(OPS, (o) => o.push);
const NEXT = 0;
const JUMP = 1;
const BRANCH = 2;
const FLOW = Uint8Array.from(OPS, (o) => (o.flow === "next" ? NEXT : o.flow === "jump" ? JUMP : o.flow === "branch" ? BRANCH : 3));
if (OPS.some((o) => o.operands.length > 2 || o.operands.some((k) => !(KINDS as readonly string[]).includes(k))))
  throw new Error("verify: an operand kind or count the verifier does not know");

/** Where an instruction is, for messages (built only when something fails). */
function at(fn: { name: string }, pc: number): string {
  return `function ${fn.name} at pc ${pc}`;
}

/** An integer in 0..max (definitions built through the API are not shape-checked by decoding). */
function isCount(x: number, max: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= max;
}

/** Verifies a module definition; returns the verified Module or throws a RarError naming function and offset. */
export function verify(def: ModuleDef): Module {
  const code = def.code;
  const fns = def.functions;
  const n = fns.length;
  if (n === 0) throw new RarError("verify.no_functions", undefined, "module");
  if (n > MODULE_LIMITS.functions) throw new RarError("verify.too_many", "too many functions", "module");
  if (def.caps.length > MODULE_LIMITS.caps) throw new RarError("verify.too_many", `more than ${MODULE_LIMITS.caps} capabilities`, "module");
  if (new Set(def.caps).size !== def.caps.length) throw new RarError("verify.duplicate", undefined, "module");
  for (const t of def.trapOnly ?? [])
    if (!def.caps.includes(t)) throw new RarError("verify.bad_manifest", `trap-only capability ${t} is not in the manifest`, "module");
  if (code.length > MODULE_LIMITS.codeWords) throw new RarError("verify.too_big", `more than ${MODULE_LIMITS.codeWords} code words`, "module");
  const maxStack = new Int32Array(n);
  const frameCost = new Int32Array(n);
  const nparams = new Int32Array(n);
  const nlocals = new Int32Array(n);
  const entries = new Int32Array(n);
  let expectedEntry = 0;
  for (let f = 0; f < n; f++) {
    const fn = fns[f];
    const where = `function ${fn.name} (#${f})`;
    if (fn.entry !== expectedEntry) throw new RarError("verify.layout", `starts at ${fn.entry}, expected ${expectedEntry}`, where);
    if (!Number.isInteger(fn.end) || fn.end <= fn.entry || fn.end > code.length) throw new RarError("verify.layout", `bad end ${fn.end}`, where);
    if (!isCount(fn.nparams, 255)) throw new RarError("verify.layout", `nparams ${fn.nparams} out of range 0..255`, where);
    if (!isCount(fn.nlocals, MODULE_LIMITS.locals)) throw new RarError("verify.layout", `nlocals ${fn.nlocals} out of range 0..${MODULE_LIMITS.locals}`, where);
    if (fn.nlocals < fn.nparams) throw new RarError("verify.layout", "nlocals < nparams", where);
    expectedEntry = fn.end;
    nparams[f] = fn.nparams;
    nlocals[f] = fn.nlocals;
    entries[f] = fn.entry;
  }
  if (expectedEntry !== code.length) throw new RarError("verify.layout", "code after the last function", "module");
  // Heights of every function first (CALL needs only nparams, known already).
  const { height, isStart, kept } = scratchFor(code.length);
  for (let f = 0; f < n; f++) {
    maxStack[f] = verifyFunction(def, f, height, isStart);
    frameCost[f] = fns[f].nlocals + maxStack[f] + FRAME_WORDS;
  }
  if (def.sourceMap) verifySourceMap(def);
  const fast = quicken(code, fns);
  const callInfo = new Int32Array(n * CallInfo.Words);
  for (let f = 0; f < n; f++) {
    const at = f * CallInfo.Words;
    callInfo[at + CallInfo.Entry] = entries[f];
    callInfo[at + CallInfo.NParams] = nparams[f];
    callInfo[at + CallInfo.NLocals] = nlocals[f];
    callInfo[at + CallInfo.Cost] = frameCost[f];
  }
  // A large module is encoded now, where its caller verifies it (at whatever stack depth that is),
  // and keeps its heights: only small ones, made by the thousand, put either off.
  return new VerifiedModule(def, maxStack, frameCost, nparams, nlocals, entries, fast, callInfo, kept ? null : height, kept ? null : encodeModule(def));
}

/** Code words up to which verify works in scratch arrays it keeps (a module's heights are then found again when asked for). */
const SCRATCH_WORDS = 1 << 14;
let scratchHeight = new Int32Array(0);
let scratchStart = new Uint8Array(0);

/**
 * The arrays verification fills, reset for `words` code words: for a small
 * module the scratch arrays kept between calls (verify never runs twice at
 * once, and a typed array of a few hundred bytes costs microseconds to make
 * and collect, more than verifying a GP candidate), else new ones.
 */
function scratchFor(words: number): { height: Int32Array; isStart: Uint8Array; kept: boolean } {
  if (words > SCRATCH_WORDS) return { height: new Int32Array(words).fill(-1), isStart: new Uint8Array(words), kept: false };
  if (scratchHeight.length < words) {
    const size = Math.min(SCRATCH_WORDS, Math.max(1024, words * 2));
    scratchHeight = new Int32Array(size);
    scratchStart = new Uint8Array(size);
  }
  scratchHeight.fill(-1, 0, words);
  scratchStart.fill(0, 0, words);
  return { height: scratchHeight, isStart: scratchStart, kept: true };
}

/** The operand-stack heights of a verified module's code (what verification found; it cannot fail again). */
function heightsOf(def: ModuleDef): Int32Array {
  const height = new Int32Array(def.code.length).fill(-1);
  const isStart = new Uint8Array(def.code.length);
  for (let f = 0; f < def.functions.length; f++) verifyFunction(def, f, height, isStart);
  return height;
}

/**
 * A verified module. Every one is of this class, so all modules share one
 * object layout and the interpreter's and scheduler's reads of a module stay
 * monomorphic. A small module's canonical bytes and their digest are made
 * when first asked for (an image, a trace, a SPAWNC comparison), and so are
 * its stack heights (the compiled tier, image checks, the debugger): a GP
 * run verifies thousands of candidates that need none of them. They are the bytes of the
 * definition verified: nothing changes a definition once it is verified (its
 * code is what verification proved safe).
 */
class VerifiedModule implements Module {
  readonly name: string;
  readonly caps: readonly string[];
  readonly functions: readonly FunctionDef[];
  readonly code: Int32Array;
  readonly sourceMap: SourceMap | undefined;
  readonly links: readonly string[] | undefined;
  readonly trapOnly: readonly string[] | undefined;
  private encoded: Uint8Array | null;
  private hash: string | null = null;
  private stackHeights: Int32Array | null;

  constructor(
    def: ModuleDef,
    readonly maxStack: Int32Array,
    readonly frameCost: Int32Array,
    readonly nparams: Int32Array,
    readonly nlocals: Int32Array,
    readonly entries: Int32Array,
    readonly fast: Int32Array,
    readonly callInfo: Int32Array,
    heights: Int32Array | null,
    encoded: Uint8Array | null,
  ) {
    this.stackHeights = heights;
    this.encoded = encoded;
    this.name = def.name;
    this.caps = def.caps;
    this.functions = def.functions;
    this.code = def.code;
    this.sourceMap = def.sourceMap;
    this.links = def.links;
    this.trapOnly = def.trapOnly;
  }

  get bytes(): Uint8Array {
    return (this.encoded ??= encodeModule(this));
  }

  get digest(): string {
    return (this.hash ??= digestBytes(this.bytes));
  }

  get heights(): Int32Array {
    return (this.stackHeights ??= heightsOf(this));
  }
}

function verifyFunction(def: ModuleDef, f: number, height: Int32Array, isStart: Uint8Array): number {
  const code = def.code;
  const fn = def.functions[f];
  const { entry, end } = fn;
  // Pass 1: decode instruction boundaries and check static operands.
  for (let pc = entry; pc < end; ) {
    const op = code[pc];
    if (op < 0 || op >= OPS.length) throw new RarError("verify.bad_opcode", `unknown opcode ${op}`, at(fn, pc));
    const w = WIDTH[op];
    if (pc + w > end) throw new RarError("verify.truncated", `${OPS[op].name} runs past the end of the function`, at(fn, pc));
    isStart[pc] = 1;
    for (let k = 0; k < OPERANDS[op]; k++) {
      const v = code[pc + 1 + k];
      switch (OPERAND_KIND[2 * op + k]) {
        case LOCAL:
          if (v < 0 || v >= fn.nlocals) throw new RarError("verify.bad_local", `local ${v} out of range (nlocals ${fn.nlocals})`, at(fn, pc));
          break;
        case FUNC:
          if (v < 0 || v >= def.functions.length) throw new RarError("verify.bad_func", `function index ${v} out of range`, at(fn, pc));
          break;
        case CAP:
          if (v < 0 || v >= def.caps.length) throw new RarError("verify.bad_cap", `capability index ${v} not in the manifest`, at(fn, pc));
          break;
        case COUNT:
          if (v < 0 || v > MAX_CAP_ARGS) throw new RarError("verify.bad_count", `count ${v} out of range 0..${MAX_CAP_ARGS}`, at(fn, pc));
          break;
        case LINK:
          if (v < 0 || v >= (def.links?.length ?? 0)) throw new RarError("verify.bad_link", `link ${v} not in the module's links`, at(fn, pc));
          break;
        case LABEL:
          if (v < entry || v >= end) throw new RarError("verify.bad_jump", `jump target ${v} outside the function`, at(fn, pc));
          break;
      }
    }
    pc += w;
  }
  // Pass 2: stack heights by worklist over reachable instructions.
  let max = 0;
  const work: number[] = [entry];
  height[entry] = 0;
  const nparamsOf = (f: number): number => def.functions[f].nparams;
  const join = (target: number, h: number, from: number): void => {
    if (!isStart[target]) throw new RarError("verify.bad_jump", `target ${target} is not an instruction start`, at(fn, from));
    if (height[target] === -1) {
      height[target] = h;
      work.push(target);
    } else if (height[target] !== h) {
      throw new RarError("verify.stack_mismatch", `stack height ${h} meets ${height[target]} at pc ${target}`, at(fn, from));
    }
  };
  while (work.length > 0) {
    const pc = work.pop() as number;
    const op = code[pc];
    const h = height[pc];
    const pop = popCount(code, pc, nparamsOf);
    if (h < pop) throw new RarError("verify.stack_underflow", `${OPS[op].name} needs ${pop} operands, stack has ${h}`, at(fn, pc));
    const after = h - pop + PUSHES[op];
    // DUP/OVER/SWAP read below what they "pop"; covered since pop counts them.
    if (after > MAX_STACK) throw new RarError("verify.stack_overflow", `stack height exceeds ${MAX_STACK}`, at(fn, pc));
    if (after > max) max = after;
    const next = pc + WIDTH[op];
    switch (FLOW[op]) {
      case NEXT:
        if (next >= fn.end) throw new RarError("verify.falls_off", undefined, at(fn, pc));
        join(next, after, pc);
        break;
      case JUMP:
        join(code[pc + 1], after, pc);
        break;
      case BRANCH:
        join(code[pc + 1], after, pc);
        if (next >= fn.end) throw new RarError("verify.falls_off", undefined, at(fn, pc));
        join(next, after, pc);
        break;
    }
  }
  return max;
}

function verifySourceMap(def: ModuleDef): void {
  const sm = def.sourceMap;
  if (!sm) return;
  const e = sm.entries;
  let last = -1;
  for (let i = 0; i < e.length; i += 4) {
    if (e[i] < last || e[i] < 0 || e[i] >= def.code.length)
      throw new RarError("verify.bad_source_map", "pc out of order or range", `source map entry ${i / 4}`);
    if (e[i + 1] < 0 || e[i + 1] >= sm.files.length)
      throw new RarError("verify.bad_source_map", "file index out of range", `source map entry ${i / 4}`);
    last = e[i];
  }
}

/** Verifies every module of a `.rmod` bundle and checks that each link resolves inside it. Entry module first. */
export function verifyBundle(defs: readonly ModuleDef[], where = "bundle"): Module[] {
  const mods = defs.map((d) => verify(d));
  const known = new Set(mods.map((m) => m.digest));
  mods.forEach((m, i) => {
    for (const l of m.links ?? [])
      if (!known.has(l)) throw new RarError("verify.unresolved_link", `links module ${l.slice(0, 12)}…, which the bundle does not hold`, `${where}: module ${i}`);
  });
  return mods;
}
