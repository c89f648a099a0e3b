// Building a code module: functions tile one code array in index order, jumps
// are absolute, and every instruction is mapped to a source position. A
// function index is handed out when the function is first requested; its body
// is generated later, in index order, so requests may come from anywhere.

import type { FunctionDef, ModuleDef } from "../../src/vm/module.js";
import { OPS, Op } from "../../src/vm/opcodes.js";
import type { Pos } from "./errors.js";

/** Position given to code that has no Ent source (runtime helpers). */
export const RUNTIME_POS: Pos = { file: "<ent runtime>", line: 0, col: 0 };

export class Label {
  pc = -1;
  readonly refs: number[] = [];
}

/** One function being emitted. Locals are allocated as a stack: mark() / release(). */
export class FnEmitter {
  /** Source position given to the next instructions. */
  pos: Pos;
  private next: number;
  private high: number;

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
    if (this.next > this.high) this.high = this.next;
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
    if (operands.length !== OPS[op].operands.length) throw new Error(`internal: ${OPS[op].name} takes ${OPS[op].operands.length} operands`);
    this.mod.instruction(this.pos, op, operands);
  }

  jump(op: Op.JMP | Op.JZ | Op.JNZ, label: Label): void {
    this.mod.instruction(this.pos, op, [label.pc]);
    if (label.pc < 0) label.refs.push(this.mod.here - 1);
  }

  bind(label: Label): void {
    label.pc = this.mod.here;
    for (const r of label.refs) this.mod.patch(r, label.pc);
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
  private readonly map: number[] = [];
  private readonly files: string[] = [];
  private readonly fileIndex = new Map<string, number>();
  private readonly functions: FunctionDef[] = [];
  private readonly queue: Pending[] = [];
  private readonly byKey = new Map<string, number>();
  private count = 0;
  private lastKey = "";

  get here(): number {
    return this.code.length;
  }

  /** Function index for `key`, requesting it (with its body generator) the first time. */
  request(key: string, name: string, nparams: number, pos: Pos, body: (f: FnEmitter) => void): number {
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    const index = this.count++;
    this.byKey.set(key, index);
    this.queue.push({ index, name, nparams, pos, body });
    return index;
  }

  instruction(pos: Pos, op: Op, operands: readonly number[]): void {
    let fi = this.fileIndex.get(pos.file);
    if (fi === undefined) {
      fi = this.files.length;
      this.files.push(pos.file);
      this.fileIndex.set(pos.file, fi);
    }
    const key = `${fi}:${pos.line}:${pos.col}`;
    if (key !== this.lastKey) {
      this.map.push(this.code.length, fi, pos.line, pos.col);
      this.lastKey = key;
    }
    this.code.push(op, ...operands);
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
      this.lastKey = "";
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
