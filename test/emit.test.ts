// The bytecode emitter (lang/emit.ts) that the Ent compiler and the GP
// harness both build modules with: what it builds verifies, it follows the
// stack height as the verifier does, sums the gas the table charges, resolves
// labels either way, and reports module limits where they are exceeded.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ModuleEmitter, type FnEmitter } from "../lang/emit.js";
import { OPS, Op, wordGas } from "../src/vm/opcodes.js";
import { MAX_STACK, verify } from "../src/vm/verify.js";
import { rarErrorOf } from "./helpers/errors.js";

/** Zero-operand instructions that only move words on the operand stack. */
const STACK_OPS = [Op.POP, Op.DUP, Op.SWAP, Op.OVER, Op.ADD, Op.SUB, Op.MUL, Op.AND, Op.XOR, Op.EQ, Op.LT, Op.NEG, Op.NOT, Op.EQZ];

/** A straight-line program: pushes and stack instructions where their operands are there. */
function straightLine(f: FnEmitter, choices: readonly number[]): void {
  for (const c of choices) {
    const op = STACK_OPS[c % STACK_OPS.length];
    if (c % 3 === 0 || f.height < OPS[op].pop) f.emit(Op.PUSH, c);
    else f.emit(op);
  }
  if (f.height === 0) f.emit(Op.PUSH, 0);
  f.emit(Op.RET);
}

describe("the bytecode emitter", () => {
  it("follows the operand stack as the verifier does: its highest height is the verifier's maxStack (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(1000), { maxLength: 200 }), (choices) => {
        const m = new ModuleEmitter();
        let high = -1;
        m.declare("main", 0, (f) => {
          straightLine(f, choices);
          high = f.maxHeight;
        });
        expect(verify(m.build("straight")).maxStack[0]).toBe(high);
      }),
    );
  });

  it("counts the gas the opcode table charges for what it emitted, plus the bulk gas it is told of", () => {
    const m = new ModuleEmitter();
    m.declare("main", 0, (f) => {
      f.code(Op.PUSH, 1, Op.PUSH, 2, Op.ADD);
      expect(f.takeGas()).toBe(2 * OPS[Op.PUSH].gas + OPS[Op.ADD].gas);
      f.code(Op.PUSH, 40, Op.MGROW);
      f.bulk(40);
      expect(f.takeGas()).toBe(OPS[Op.PUSH].gas + OPS[Op.MGROW].gas + wordGas(40));
      expect(f.takeGas()).toBe(0);
      f.emit(Op.RET);
    });
    verify(m.build("gas"));
  });

  it("resolves forward and backward labels, and takes the label's height after code that does not fall through", () => {
    const m = new ModuleEmitter();
    m.declare("main", 0, (f) => {
      f.reserve(1);
      f.code(Op.PUSH, 3, Op.LSET, 0);
      const top = f.here();
      const done = f.label();
      f.code(Op.LGET, 0);
      f.jump(Op.JZ, done);
      f.emit(Op.LINC, 0, -1);
      f.code(Op.PUSH, 7, Op.PUSH, 8);
      f.code(Op.POP, Op.POP);
      f.jump(Op.JMP, top);
      f.bind(done);
      expect(f.height).toBe(0);
      f.code(Op.PUSH, 42, Op.RET);
    });
    const def = m.build("loop");
    expect(Array.from(def.code.subarray(4, 7))).toEqual([Op.LGET, 0, Op.JZ]);
    expect(def.code[7]).toBe(def.code.length - 3); // JZ lands on PUSH 42
    expect(verify(def).maxStack[0]).toBe(2);
  });

  it("generates declared functions in index order, so a body may call (or declare) functions after it", () => {
    const m = new ModuleEmitter();
    const twice = (): number => m.request("twice", "twice", 1, (f) => f.code(Op.LGET, 0, Op.LGET, 0, Op.ADD, Op.RET));
    m.declare("main", 0, (f) => {
      f.code(Op.PUSH, 21, Op.CALL, twice(), Op.RET);
    });
    expect(twice()).toBe(1);
    const def = m.build("calls");
    expect(def.functions.map((fn) => [fn.name, fn.nparams, fn.nlocals])).toEqual([
      ["main", 0, 0],
      ["twice", 1, 1],
    ]);
    expect(def.functions[1].entry).toBe(def.functions[0].end);
    expect(verify(def).maxStack).toEqual(Int32Array.from([1, 2]));
  });

  it("writes a source map only for code that has positions", () => {
    const plain = new ModuleEmitter();
    plain.declare("main", 0, (f) => f.code(Op.PUSH, 0, Op.RET));
    expect(plain.build("plain").sourceMap).toBeUndefined();
    const mapped = new ModuleEmitter();
    mapped.declare("main", 0, (f) => {
      f.at({ file: "a.ent", line: 1, col: 1 }).emit(Op.PUSH, 0);
      f.at({ file: "a.ent", line: 2, col: 3 }).emit(Op.RET);
    }, { file: "a.ent", line: 1, col: 1 });
    const map = mapped.build("mapped").sourceMap;
    expect(map?.files).toEqual(["a.ent"]);
    expect(Array.from(map?.entries ?? [])).toEqual([0, 0, 1, 1, 2, 0, 2, 3]);
  });

  it("reports an operand stack deeper than the verifier allows where it happens, as a compile error", () => {
    const m = new ModuleEmitter();
    m.declare("main", 0, (f) => {
      for (let i = 0; i <= MAX_STACK; i++) f.at({ file: "deep.ent", line: 1 + i, col: 5 }).emit(Op.PUSH, i);
    });
    const e = rarErrorOf(() => m.build("deep"));
    expect(e.phase).toBe("compile");
    expect(e.where).toBe(`deep.ent:${MAX_STACK + 1}:5`);
    expect(e.message).toMatch(/operand stack/);
  });

  it("refuses a jump without a label and an instruction with the wrong number of operands", () => {
    const m = new ModuleEmitter();
    m.declare("main", 0, (f) => f.emit(Op.JMP, 0));
    expect(() => m.build("bad")).toThrow(/label/);
    const n = new ModuleEmitter();
    n.declare("main", 0, (f) => f.emit(Op.PUSH));
    expect(() => n.build("bad")).toThrow(/operands/);
  });
});
