// Test helper: assemble + verify + run `.rasm` text through a Session and
// collect what the program printed. Also small readers for gas accounting.

import fc from "fast-check";
import { assemble } from "../../lang/asm.js";
import type { Process } from "../../src/process/process.js";
import { Session, type RunResult, type SessionOptions } from "../../src/session.js";
import type { Module, ModuleDef } from "../../src/vm/module.js";
import { GAS, OPS, WIDTH, opByName } from "../../src/vm/opcodes.js";
import { verify } from "../../src/vm/verify.js";

/** Assembles and verifies `.rasm` text. */
export function load(text: string, file = "test.rasm"): Module {
  return verify(assemble(text, file));
}

export interface Started {
  session: Session;
  module: Module;
  /** Everything io.print wrote so far. */
  out(): string;
  run(): RunResult;
  root: Process;
}

/** Starts a session on `.rasm` text (or a module) without running it; output is captured. */
export function start(src: string | Module, opts: SessionOptions = {}): Started {
  const module = typeof src === "string" ? load(src) : src;
  let out = "";
  const session = Session.start(module, { ...opts, stdout: (t) => void (out += t) });
  return { session, module, out: () => out, run: () => session.run(), root: session.root };
}

export interface Ran extends RunResult {
  out: string;
  session: Session;
}

/** Runs `.rasm` text (or a module) once to a stop. */
export function run(src: string | Module, opts: SessionOptions = {}): Ran {
  const s = start(src, opts);
  const r = s.run();
  return { ...r, out: s.out(), session: s.session };
}

/** Runs with the host refueling by `step` gas (and `memStep` words) each time the root stops out of budget. */
export function runRefueling(src: string | Module, step: number, memStep = 0, opts: SessionOptions = {}): Ran & { stops: number } {
  const s = start(src, { ...opts, gas: opts.gas ?? step });
  let r = s.run();
  let stops = 0;
  while (r.status === "out_of_gas" || r.status === "out_of_mem") {
    stops++;
    s.session.refuel(r.status === "out_of_gas" ? step : 0, r.status === "out_of_mem" ? memStep : 0);
    r = s.session.run();
  }
  return { ...r, out: s.out(), session: s.session, stops };
}

/** Base gas of instructions by name, summed (e.g. gasOf("PUSH", "PUSH", "ADD") = 3). */
export function gasOf(...names: string[]): number {
  let g = 0;
  for (const n of names) {
    const op = opByName(n);
    if (op === undefined) throw new Error(`no opcode ${n}`);
    g += OPS[op].gas;
  }
  return g;
}

/** Sum of base gas over every instruction of a function: its cost when it runs straight through once. */
export function straightGas(m: ModuleDef, fn: string | number): number {
  const f = typeof fn === "number" ? m.functions[fn] : m.functions.find((x) => x.name === fn);
  if (!f) throw new Error(`no function ${fn}`);
  let g = 0;
  for (let pc = f.entry; pc < f.end; pc += WIDTH[m.code[pc]]) g += GAS[m.code[pc]];
  return g;
}

/** Child process by handle path from the root, e.g. child(root, 1, 1). */
export function child(p: Process, ...handles: number[]): Process {
  let q = p;
  for (const h of handles) {
    const c = q.children.get(h);
    if (!c) throw new Error(`process ${q.path} has no child ${h}`);
    q = c;
  }
  return q;
}

// --- random programs ------------------------------------------------------
// A tiny structured generator of verifiable `.rasm` function bodies (straight
// code, if-blocks and counted loops over pure i32 instructions), and a
// reference interpreter for the same subset, written independently of the VM.

export type Tok =
  | { t: "op"; name: string; a: number; b: number }
  | { t: "if"; body: Tok[] }
  | { t: "loop"; n: number; body: Tok[] };

const PURE_BINARY = ["ADD", "SUB", "MUL", "AND", "OR", "XOR", "SHL", "SHR", "SHRU", "EQ", "NE", "LT", "LE", "GT", "GE"];
const PURE_UNARY = ["NEG", "NOT", "EQZ", "ADDI", "DIVC", "REMC"];
const PURE_OTHER = ["PUSH", "PUSH", "POP", "DUP", "SWAP", "OVER", "LGET", "LSET", "LTEE", "LINC", "NOP"];
const IMMS = fc.oneof(
  fc.integer({ min: -20, max: 20 }),
  fc.constantFrom(-0x80000000, 0x7fffffff, 31, 32, -1),
  fc.integer({ min: -0x80000000, max: 0x7fffffff }),
);

export const opTok: fc.Arbitrary<Tok> = fc.record({
  t: fc.constant("op" as const),
  name: fc.constantFrom(...PURE_BINARY, ...PURE_UNARY, ...PURE_OTHER),
  a: IMMS,
  b: fc.integer({ min: 0, max: 1 }),
});

/** A block of tokens; loops run 0..5 times and nest at most three deep when rendered. */
export const blockArb: fc.Arbitrary<Tok[]> = fc.letrec<{ block: Tok[]; tok: Tok }>((tie) => ({
  block: fc.array(tie("tok"), { maxLength: 7 }),
  tok: fc.oneof(
    { depthSize: "small" },
    opTok,
    opTok,
    opTok,
    fc.record({ t: fc.constant("if" as const), body: tie("block") }),
    fc.record({ t: fc.constant("loop" as const), n: fc.integer({ min: 0, max: 5 }), body: tie("block") }),
  ),
})).block;

const MAX_HEIGHT = 10;

/** Renders tokens as the body of a function with `2 + 3` locals (0, 1 free; 2..4 loop counters), ending in RET. */
export function renderBody(toks: Tok[], prefix = "L"): string {
  const out: string[] = [];
  let labels = 0;
  let h = 0;
  const emit = (s: string): void => void out.push(`  ${s}`);
  const block = (ts: Tok[], base: number, level: number): void => {
    for (const tk of ts) {
      if (tk.t === "op") {
        op(tk, base);
      } else if (tk.t === "if") {
        if (h - base < 1) {
          emit("PUSH 1");
          h++;
        }
        const l = `${prefix}${labels++}`;
        emit(`JZ ${l}`);
        h--;
        const at = h;
        block(tk.body, at, level);
        while (h > at) (emit("POP"), h--);
        out.push(`${l}:`);
      } else {
        const at = h;
        if (level >= 3) {
          block(tk.body, at, level);
        } else {
          const c = 2 + level;
          const l = `${prefix}${labels++}`;
          emit(`PUSH ${tk.n}`);
          emit(`LSET ${c}`);
          const skip = `${prefix}${labels++}`;
          emit(`LGET ${c}`);
          emit(`JZ ${skip}`);
          out.push(`${l}:`);
          block(tk.body, at, level + 1);
          while (h > at) (emit("POP"), h--);
          emit(`LINC ${c} -1`);
          emit(`LGET ${c}`);
          emit(`JNZ ${l}`);
          out.push(`${skip}:`);
        }
      }
    }
  };
  const op = (tk: Extract<Tok, { t: "op" }>, base: number): void => {
    const avail = h - base;
    const push = (s: string): void => {
      if (h >= MAX_HEIGHT) {
        if (avail > 0) (emit("POP"), h--);
        return;
      }
      emit(s);
      h++;
    };
    const name = tk.name;
    if (PURE_BINARY.includes(name)) {
      if (avail < 2) return push(`PUSH ${tk.a}`);
      emit(name);
      h--;
    } else if (name === "DIVC" || name === "REMC") {
      if (avail < 1) return push(`PUSH ${tk.a}`);
      if (h >= MAX_HEIGHT) return;
      const d = tk.a === 0 || tk.a === -1 ? 7 : tk.a;
      emit(`PUSH ${d}`);
      emit(name === "DIVC" ? "DIV" : "REM");
    } else if (PURE_UNARY.includes(name)) {
      if (avail < 1) return push(`PUSH ${tk.a}`);
      emit(name === "ADDI" ? `ADDI ${tk.a}` : name);
    } else {
      switch (name) {
        case "PUSH":
          return push(`PUSH ${tk.a}`);
        case "LGET":
          return push(`LGET ${tk.b}`);
        case "DUP":
          return avail < 1 ? push(`PUSH ${tk.a}`) : push("DUP");
        case "OVER":
          return avail < 2 ? push(`PUSH ${tk.a}`) : push("OVER");
        case "POP":
        case "LSET":
          if (avail < 1) return push(`PUSH ${tk.a}`);
          emit(name === "POP" ? "POP" : `LSET ${tk.b}`);
          h--;
          return;
        case "SWAP":
        case "LTEE":
          if (avail < (name === "SWAP" ? 2 : 1)) return push(`PUSH ${tk.a}`);
          emit(name === "SWAP" ? "SWAP" : `LTEE ${tk.b}`);
          return;
        case "LINC":
          emit(`LINC ${tk.b} ${tk.a}`);
          return;
        default:
          emit("NOP");
      }
    }
  };
  block(toks, 0, 0);
  if (h === 0) emit("PUSH 0");
  emit("RET");
  return out.join("\n");
}

/** Locals a rendered body needs. */
export const BODY_LOCALS = 5;

/**
 * Reference semantics of the pure subset: the value returned and the gas charged, from the code of
 * one function. With `trace`, records each executed instruction's pc under the gas used before it.
 */
export function reference(m: ModuleDef, fn: number, trace?: Map<number, number>, fuel = 10_000_000): { value: number; gas: number } {
  const f = m.functions[fn];
  const code = m.code;
  const locals = new Array<number>(f.nlocals).fill(0);
  const st: number[] = [];
  let pc = f.entry;
  let gas = 0;
  const pop = (): number => st.pop() as number;
  for (;;) {
    const op = OPS[code[pc]];
    if (!op) throw new Error(`reference: bad opcode at ${pc}`);
    trace?.set(gas, pc);
    gas += op.gas;
    if (gas > fuel) throw new Error("reference: out of fuel");
    const a1 = code[pc + 1];
    let next = pc + 1 + op.operands.length;
    const bin = (g: (a: number, b: number) => number): void => {
      const b = pop();
      const a = pop();
      st.push(g(a, b) | 0);
    };
    switch (op.name) {
      case "NOP": break;
      case "PUSH": st.push(a1); break;
      case "POP": pop(); break;
      case "DUP": st.push(st[st.length - 1]); break;
      case "SWAP": { const b = pop(); const a = pop(); st.push(b, a); break; }
      case "OVER": st.push(st[st.length - 2]); break;
      case "LGET": st.push(locals[a1]); break;
      case "LSET": locals[a1] = pop(); break;
      case "LTEE": locals[a1] = st[st.length - 1]; break;
      case "LINC": locals[a1] = (locals[a1] + code[pc + 2]) | 0; break;
      case "ADD": bin((a, b) => a + b); break;
      case "SUB": bin((a, b) => a - b); break;
      case "MUL": bin((a, b) => Number((BigInt(a) * BigInt(b)) & 0xffffffffn)); break;
      case "DIV": bin((a, b) => { if (b === 0 || (a === -0x80000000 && b === -1)) throw new Error("reference: fault"); return Math.trunc(a / b); }); break;
      case "REM": bin((a, b) => { if (b === 0) throw new Error("reference: fault"); return b === -1 ? 0 : a % b; }); break;
      case "ADDI": st.push((pop() + a1) | 0); break;
      case "NEG": st.push(-pop() | 0); break;
      case "AND": bin((a, b) => a & b); break;
      case "OR": bin((a, b) => a | b); break;
      case "XOR": bin((a, b) => a ^ b); break;
      case "SHL": bin((a, b) => a << (b & 31)); break;
      case "SHR": bin((a, b) => a >> (b & 31)); break;
      case "SHRU": bin((a, b) => a >>> (b & 31)); break;
      case "NOT": st.push(~pop()); break;
      case "EQ": bin((a, b) => +(a === b)); break;
      case "NE": bin((a, b) => +(a !== b)); break;
      case "LT": bin((a, b) => +(a < b)); break;
      case "LE": bin((a, b) => +(a <= b)); break;
      case "GT": bin((a, b) => +(a > b)); break;
      case "GE": bin((a, b) => +(a >= b)); break;
      case "EQZ": st.push(+(pop() === 0)); break;
      case "JMP": next = a1; break;
      case "JZ": if (pop() === 0) next = a1; break;
      case "JNZ": if (pop() !== 0) next = a1; break;
      case "RET": return { value: pop(), gas };
      default: throw new Error(`reference: ${op.name} is outside the pure subset`);
    }
    pc = next;
  }
}
