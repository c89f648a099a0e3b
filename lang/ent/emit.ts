// Building a code module: functions tile one code array in index order, jumps
// are absolute, and every instruction is mapped to a source position. A
// function index is handed out when the function is first requested; its body
// is generated later, in index order, so requests may come from anywhere.
//
// The module format has limits (code words, functions, locals, source files,
// name length, operand stack height per frame); a program that exceeds one is
// a compile error at the construct that does, not a module the verifier
// rejects later without a source position.

import { MODULE_LIMITS, type FunctionDef, type ModuleDef } from "../../src/vm/module.js";
import { OPS, Op, SPAWN_EXTRA } from "../../src/vm/opcodes.js";
import { MAX_STACK } from "../../src/vm/verify.js";
import type { Pos } from "./errors.js";

/** Reports a module-format limit at a source position (a compile error). */
export type LimitFail = (pos: Pos, detail: string) => never;

/** Position given to code that has no Ent source (runtime helpers). */
export const RUNTIME_POS: Pos = { file: "<ent runtime>", line: 0, col: 0 };

export class Label {
  pc = -1;
  readonly refs: number[] = [];
  /** Operand stack height where control reaches the label (-1: not known yet). */
  height = -1;
}

/**
 * One function being emitted. Locals are allocated as a stack: mark() / release().
 * The operand stack height is followed as the verifier will (through labels),
 * to report an expression too big for a frame where it is.
 */
export class FnEmitter {
  /** Source position given to the next instructions. */
  pos: Pos;
  private next: number;
  private high: number;
  private height = 0;
  /** False after an instruction that does not fall through, until a label is bound. */
  private reachable = true;

  constructor(
    private readonly mod: ModuleEmitter,
    readonly name: string,
    readonly nparams: number,
    pos: Pos,
  ) {
    this.next = nparams;
    this.high = nparams;
    this.pos = pos;
  }

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

  /** Reserves slots [0, n) beyond the parameters (main's args slot). */
  reserve(n: number): void {
    while (this.next < n) this.local();
  }

  mark(): number {
    return this.next;
  }

  release(mark: number): void {
    this.next = mark;
  }

  at(pos: Pos): this {
    this.pos = pos;
    return this;
  }

  emit(op: Op, ...operands: number[]): void {
    const info = OPS[op];
    if (operands.length !== info.operands.length) throw new Error(`internal: ${info.name} takes ${info.operands.length} operands`);
    this.mod.instruction(this.pos, op, operands);
    let pop = info.pop;
    if (op === Op.CAP) pop = operands[1];
    else if (op === Op.CALL) pop = this.mod.nparamsOf(operands[0]);
    else if (op === Op.SPAWN) pop = this.mod.nparamsOf(operands[0]) + SPAWN_EXTRA;
    this.push(info.push - pop);
    if (info.flow === "end") this.reachable = false;
  }

  private push(delta: number): void {
    this.height += delta;
    if (this.height > MAX_STACK) this.mod.fail(this.pos, `an expression needs more than ${MAX_STACK} words of operand stack`);
  }

  jump(op: Op.JMP | Op.JZ | Op.JNZ, label: Label): void {
    this.mod.instruction(this.pos, op, [label.pc]);
    if (label.pc < 0) label.refs.push(this.mod.here - 1);
    this.push(-OPS[op].pop);
    if (label.height < 0) label.height = this.height;
    if (op === Op.JMP) this.reachable = false;
  }

  bind(label: Label): void {
    label.pc = this.mod.here;
    for (const r of label.refs) this.mod.patch(r, label.pc);
    if (!this.reachable && label.height >= 0) this.height = label.height;
    else if (label.height < 0) label.height = this.height;
    this.reachable = true;
  }

  label(): Label {
    return new Label();
  }
}

interface Pending {
  readonly index: number;
  readonly name: string;
  readonly nparams: number;
  readonly pos: Pos;
  readonly body: (f: FnEmitter) => void;
}

export class ModuleEmitter {
  private readonly code: number[] = [];
  private readonly nparams: number[] = [];
  private readonly map: number[] = [];
  private readonly files: string[] = [];
  private readonly fileIndex = new Map<string, number>();
  private readonly functions: FunctionDef[] = [];
  private readonly queue: Pending[] = [];
  private readonly byKey = new Map<string, number>();
  private count = 0;
  /** Source position of the last source map entry (file index, line, column); file -1: none yet in this function. */
  private lastFile = -1;
  private lastLine = 0;
  private lastCol = 0;

  constructor(readonly fail: LimitFail) {}

  get here(): number {
    return this.code.length;
  }

  /** Function index for `key`, requesting it (with its body generator) the first time. */
  request(key: string, name: string, nparams: number, pos: Pos, body: (f: FnEmitter) => void): number {
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    if (this.count >= MODULE_LIMITS.functions) this.fail(pos, `more than ${MODULE_LIMITS.functions} functions in one module`);
    if (name.length > MODULE_LIMITS.nameLength) this.fail(pos, `function name '${name.slice(0, 32)}…' is longer than ${MODULE_LIMITS.nameLength} characters`);
    const index = this.count++;
    this.byKey.set(key, index);
    this.nparams.push(nparams);
    this.queue.push({ index, name, nparams, pos, body });
    return index;
  }

  /** Parameters of a function already requested. */
  nparamsOf(index: number): number {
    return this.nparams[index];
  }

  instruction(pos: Pos, op: Op, operands: readonly number[]): void {
    if (this.code.length + 1 + operands.length > MODULE_LIMITS.codeWords)
      this.fail(pos, `the module's code is larger than ${MODULE_LIMITS.codeWords} words`);
    // Consecutive instructions nearly always come from the same file: skip the map then.
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
    this.code.push(op);
    for (const w of operands) this.code.push(w);
  }

  patch(at: number, value: number): void {
    this.code[at] = value;
  }

  /** Emits every requested function (and those they request) in index order. */
  build(name: string, caps: readonly string[], links: readonly string[], trapOnly: readonly string[] = []): ModuleDef {
    for (let k = 0; k < this.queue.length; k++) {
      const p = this.queue[k];
      if (p.index !== this.functions.length) throw new Error("internal: functions out of order");
      const entry = this.code.length;
      const f = new FnEmitter(this, p.name, p.nparams, p.pos);
      this.lastFile = -1;
      p.body(f);
      this.functions.push({ name: p.name, nparams: p.nparams, nlocals: f.nlocals, entry, end: this.code.length });
    }
    const def: ModuleDef = {
      name,
      caps: [...caps],
      functions: this.functions,
      code: Int32Array.from(this.code),
      sourceMap: { files: this.files, entries: Int32Array.from(this.map) },
    };
    return {
      ...def,
      ...(links.length > 0 ? { links: [...links] } : {}),
      ...(trapOnly.length > 0 ? { trapOnly: [...trapOnly] } : {}),
    };
  }
}
