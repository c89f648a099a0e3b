// The bytecode emitter: the one way rar's code generators build a code
// module. The Ent compiler (lang/ent/codegen.ts and its runtime) and the GP
// harness (gp/: the genome compiler, the evaluator and the warm-up programs)
// all emit through it; the assembler reads text, not this.
//
// - Functions tile one code array in index order, as the module format
//   requires. A function index is handed out when the function is declared,
//   with a generator for its body that runs later, in index order, so
//   declarations may come from anywhere (a body may declare more).
// - Jumps are absolute and go through labels, bound before or after the jump.
// - The operand-stack height is followed as the verifier follows it (through
//   labels; CALL, SPAWN and CAP pop what their operands say), so code that
//   would need more than MAX_STACK words is reported where it is, and a
//   generator may read the height to decide what to emit (GP does).
// - Locals are allocated as a stack (local, mark, release) above the
//   parameters, or reserved up to a count.
// - The base gas of what was emitted is summed from the opcode table, plus
//   whatever bulk gas the caller adds, so a generator can know statically
//   what a stretch of straight-line code charges (the GP evaluator measures
//   its own overhead so).
// - Instructions may carry source positions, which become the source map;
//   a module none of whose instructions has one gets no source map.
//
// The module format has limits (code words, functions, locals, source files,
// name length, operand-stack height); exceeding one is reported through the
// `fail` given to the ModuleEmitter at the position of the construct that
// does, never left for the verifier to reject without one.

import { RarError } from "../src/vm/errors.js";
import { MODULE_LIMITS, type FunctionDef, type ModuleDef } from "../src/vm/module.js";
import { OPS, Op, SPAWN_EXTRA, wordGas } from "../src/vm/opcodes.js";
import { copyWords } from "../src/vm/slab.js";
import { MAX_STACK } from "../src/vm/verify.js";

// Per opcode, derived from the table once, so emitting an instruction reads
// numbers rather than the table's rows: operand count, words popped (-1: an
// operand says) and pushed, base gas, and how control leaves it.
const OPERANDS = Uint8Array.from(OPS, (o) => o.operands.length);
const POPS = Int32Array.from(OPS, (o) => o.pop);
const PUSHES = Int32Array.from(OPS, (o) => o.push);
const GAS = Int32Array.from(OPS, (o) => o.gas);
const FALLS = 0; // goes on to the next instruction
const ENDS = 1; // does not fall through (RET, ...)
const TAKES_LABEL = 2; // a jump: emitted by jump(), not emit()
const FLOW = Uint8Array.from(OPS, (o) => (o.flow === "end" ? ENDS : o.flow === "jump" || o.flow === "branch" ? TAKES_LABEL : FALLS));

/** A position in a source file (1-based line and column), as the source map records it. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** Reports a module-format limit at a position (undefined: code without a source); must throw. */
export type LimitFail = (pos: SourcePos | undefined, detail: string) => never;

/** The default LimitFail: a RarError of phase "compile". */
export const limitError: LimitFail = (pos, detail) => {
  throw new RarError("compile.module_limit", detail, pos ? `${pos.file}:${pos.line}:${pos.col}` : undefined);
};

/** A jump target inside one function. */
export class Label {
  /** Absolute pc once bound, -1 before. */
  pc = -1;
  /** Operand words of jumps emitted before the label was bound, patched by bind(). */
  readonly refs: number[] = [];
  /** Operand-stack height where control reaches the label (-1: not known yet). */
  height = -1;
}

/** The generator of one function's body. */
export type Body = (f: FnEmitter) => void;

/** One function being emitted. */
export class FnEmitter {
  /** Source position given to the next instructions (undefined: none). */
  pos: SourcePos | undefined;
  private next: number;
  private high: number;
  private h = 0;
  private highH = 0;
  /** False after an instruction that does not fall through, until a label is bound. */
  private reachable = true;
  private gas = 0;

  constructor(
    private readonly mod: ModuleEmitter,
    readonly index: number,
    readonly name: string,
    readonly nparams: number,
    pos: SourcePos | undefined,
  ) {
    this.next = nparams;
    this.high = nparams;
    this.pos = pos;
  }

  /** Local slots the function uses so far, parameters included. */
  get nlocals(): number {
    return this.high;
  }

  /** A fresh local slot, valid until the enclosing release(). */
  local(): number {
    const s = this.next++;
    if (this.next > this.high) {
      this.high = this.next;
      if (this.high > MODULE_LIMITS.locals) this.mod.fail(this.pos, `a function needs more than ${MODULE_LIMITS.locals} local slots`);
    }
    return s;
  }

  /** Reserves slots up to n (those a generator numbers itself); local() allocates above them. */
  reserve(n: number): void {
    while (this.next < n) this.local();
  }

  mark(): number {
    return this.next;
  }

  release(mark: number): void {
    this.next = mark;
  }

  at(pos: SourcePos | undefined): this {
    this.pos = pos;
    return this;
  }

  /** Operand-stack height after the code emitted so far. */
  get height(): number {
    return this.h;
  }

  /** Highest operand-stack height so far: the verifier's maxStack for the function, once it is complete. */
  get maxHeight(): number {
    return this.highH;
  }

  /** Absolute pc of the next instruction. */
  get pc(): number {
    return this.mod.here;
  }

  /** One instruction that is not a jump (jumps take a Label: see jump()), with its operands (none, one or two). */
  emit(op: Op, a?: number, b?: number): void {
    const given = a === undefined ? 0 : b === undefined ? 1 : 2;
    if (OPERANDS[op] !== given || FLOW[op] === TAKES_LABEL) refuse(op, given);
    this.mod.instruction(this.pos, op, given, a, b);
    this.gas += GAS[op];
    let pop = POPS[op];
    if (pop < 0) pop = op === Op.CAP ? (b as number) : this.mod.nparamsOf(a as number) + (op === Op.SPAWN ? SPAWN_EXTRA : 0);
    this.push(PUSHES[op] - pop);
    if (FLOW[op] === ENDS) this.reachable = false;
  }

  /** Instructions written flat, each opcode followed by its operands (no jumps): `code(Op.PUSH, 1, Op.ADD)`. */
  code(...words: number[]): void {
    for (let i = 0; i < words.length; ) {
      const n = OPERANDS[words[i]];
      if (n === undefined || i + n >= words.length) refuse(words[i], words.length - i - 1);
      this.emit(words[i], n > 0 ? words[i + 1] : undefined, n > 1 ? words[i + 2] : undefined);
      i += 1 + n;
    }
  }

  /** A jump to `label`, bound already (backward) or later (forward). */
  jump(op: Op.JMP | Op.JZ | Op.JNZ, label: Label): void {
    if (OPERANDS[op] !== 1 || FLOW[op] !== TAKES_LABEL) refuse(op, 1);
    this.mod.instruction(this.pos, op, 1, label.pc, undefined);
    if (label.pc < 0) label.refs.push(this.mod.here - 1);
    this.gas += GAS[op];
    this.push(-POPS[op]);
    if (label.height < 0) label.height = this.h;
    if (op === Op.JMP) this.reachable = false;
  }

  /** Binds `label` here. After code that does not fall through, the height is the label's. */
  bind(label: Label): void {
    label.pc = this.mod.here;
    for (const r of label.refs) this.mod.patch(r, label.pc);
    if (!this.reachable && label.height >= 0) this.h = label.height;
    else if (label.height < 0) label.height = this.h;
    this.reachable = true;
  }

  label(): Label {
    return new Label();
  }

  /** A label bound here (the head of a loop). */
  here(): Label {
    const l = new Label();
    this.bind(l);
    return l;
  }

  /**
   * Appends a whole function body emitted before (by emit(), jump() and the
   * rest) that started at pc `from`: the same words, each jump target moved by
   * as far as the body moved, and `nlocals` local slots reserved. A code
   * generator that emits one body into many modules (the GP output helpers)
   * emits it once and pastes it. The body's last instruction must not fall
   * through (its end is the function's end); the words are taken as they are
   * (the stack heights they reach are not followed: see maxHeight).
   */
  paste(words: Int32Array, from: number, nlocals: number): void {
    this.reserve(nlocals);
    const delta = this.mod.here - from;
    for (let i = 0; i < words.length; ) {
      const op = words[i];
      const n = OPERANDS[op];
      this.mod.instruction(this.pos, op, n, FLOW[op] === TAKES_LABEL ? words[i + 1] + delta : words[i + 1], words[i + 2]);
      this.gas += GAS[op];
      i += 1 + n;
    }
    this.reachable = false;
  }

  /** Adds the bulk gas of `words` words to the gas count (what the instruction just emitted charges beyond its base gas). */
  bulk(words: number): void {
    this.gas += wordGas(words);
  }

  /** Gas the instructions emitted since the previous takeGas() charge (base gas from the table, plus bulk()), and restarts the count. */
  takeGas(): number {
    const g = this.gas;
    this.gas = 0;
    return g;
  }

  private push(delta: number): void {
    this.h += delta;
    if (this.h > this.highH) {
      this.highH = this.h;
      if (this.h > MAX_STACK) this.mod.fail(this.pos, `an expression needs more than ${MAX_STACK} words of operand stack`);
    }
  }
}

/** A misuse of the emitter by a code generator (a bug in rar, not in the program compiled). */
function refuse(op: number, given: number): never {
  const info = OPS[op];
  if (info === undefined) throw new Error(`internal: no opcode ${op}`);
  if (FLOW[op] === TAKES_LABEL && given === 1) throw new Error(`internal: ${info.name} takes a label: use jump()`);
  if (FLOW[op] !== TAKES_LABEL && OPERANDS[op] === given) throw new Error(`internal: ${info.name} does not take a label: use emit()`);
  throw new Error(`internal: ${info.name} takes ${info.operands.length} operands, not ${given}`);
}

interface Declared {
  readonly name: string;
  readonly nparams: number;
  readonly pos: SourcePos | undefined;
  readonly body: Body;
}

/** A module being emitted: declare functions, then build(). */
export class ModuleEmitter {
  private readonly code: number[] = [];
  private readonly map: number[] = [];
  private readonly files: string[] = [];
  private fileIndex: Map<string, number> | null = null;
  private readonly functions: FunctionDef[] = [];
  private readonly declared: Declared[] = [];
  private byKey: Map<string, number> | null = null;
  /** Source position of the last source map entry (file index, line, column); file -1: none yet in this function. */
  private lastFile = -1;
  private lastLine = 0;
  private lastCol = 0;

  constructor(readonly fail: LimitFail = limitError) {}

  /** Code words emitted so far: the pc of the next instruction. */
  get here(): number {
    return this.code.length;
  }

  /** The index of a new function whose body `body` generates at build time, after those declared before it. */
  declare(name: string, nparams: number, body: Body, pos?: SourcePos): number {
    if (this.declared.length >= MODULE_LIMITS.functions) this.fail(pos, `more than ${MODULE_LIMITS.functions} functions in one module`);
    if (name.length > MODULE_LIMITS.nameLength) this.fail(pos, `function name '${name.slice(0, 32)}…' is longer than ${MODULE_LIMITS.nameLength} characters`);
    this.declared.push({ name, nparams, pos, body });
    return this.declared.length - 1;
  }

  /** The function declared under `key`, declaring it the first time (helpers requested from many places). */
  request(key: string, name: string, nparams: number, body: Body, pos?: SourcePos): number {
    this.byKey ??= new Map();
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    const index = this.declare(name, nparams, body, pos);
    this.byKey.set(key, index);
    return index;
  }

  /** Parameters of a function already declared. */
  nparamsOf(index: number): number {
    const d = this.declared[index];
    if (d === undefined) throw new Error(`internal: function ${index} is not declared`);
    return d.nparams;
  }

  /** Appends one instruction of `n` operands (the FnEmitter keeps the stack height; this keeps the code and the source map). */
  instruction(pos: SourcePos | undefined, op: Op, n: number, a: number | undefined, b: number | undefined): void {
    if (this.code.length + 1 + n > MODULE_LIMITS.codeWords) this.fail(pos, `the module's code is larger than ${MODULE_LIMITS.codeWords} words`);
    if (pos !== undefined) this.mapTo(pos);
    this.code.push(op);
    if (n > 0) this.code.push(a as number);
    if (n > 1) this.code.push(b as number);
  }

  private mapTo(pos: SourcePos): void {
    // Consecutive instructions nearly always come from the same file: skip the map then.
    this.fileIndex ??= new Map();
    let fi = pos.file === this.files[this.lastFile] ? this.lastFile : this.fileIndex.get(pos.file);
    if (fi === undefined) {
      if (this.files.length === MODULE_LIMITS.files) this.fail(pos, `code from more than ${MODULE_LIMITS.files} source files in one module`);
      fi = this.files.length;
      this.files.push(pos.file);
      this.fileIndex.set(pos.file, fi);
    }
    if (fi !== this.lastFile || pos.line !== this.lastLine || pos.col !== this.lastCol) {
      this.map.push(this.code.length, fi, pos.line, pos.col);
      this.lastFile = fi;
      this.lastLine = pos.line;
      this.lastCol = pos.col;
    }
  }

  patch(at: number, value: number): void {
    this.code[at] = value;
  }

  /** Generates every declared function (and those they declare) in index order, into a module definition. */
  build(name: string, caps: readonly string[] = [], links: readonly string[] = [], trapOnly: readonly string[] = []): ModuleDef {
    for (let k = this.functions.length; k < this.declared.length; k++) {
      const d = this.declared[k];
      const entry = this.code.length;
      const f = new FnEmitter(this, k, d.name, d.nparams, d.pos);
      this.lastFile = -1;
      d.body(f);
      this.functions.push({ name: d.name, nparams: d.nparams, nlocals: f.nlocals, entry, end: this.code.length });
    }
    return {
      name,
      caps: [...caps],
      functions: this.functions,
      code: copyWords(this.code),
      ...(this.files.length > 0 ? { sourceMap: { files: this.files, entries: Int32Array.from(this.map) } } : {}),
      ...(links.length > 0 ? { links: [...links] } : {}),
      ...(trapOnly.length > 0 ? { trapOnly: [...trapOnly] } : {}),
    };
  }
}
