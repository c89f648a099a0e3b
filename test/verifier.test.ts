// The verifier: code modules are untrusted. Bad code is rejected before it
// runs, with a RarError (phase "verify") whose message names the function and
// the pc; good code gets its maximum stack heights and frame costs.

import { describe, expect, it } from "vitest";
import { assemble } from "../lang/asm.js";
import { RarError } from "../src/vm/errors.js";
import type { FunctionDef, ModuleDef } from "../src/vm/module.js";
import { OPS, Op } from "../src/vm/opcodes.js";
import { MAX_STACK, verify, verifyBundle } from "../src/vm/verify.js";

/** A one-function module from raw code words. */
function raw(code: number[], fn: Partial<FunctionDef> = {}, rest: Partial<ModuleDef> = {}): ModuleDef {
  return {
    name: "t",
    caps: [],
    functions: [{ name: "f", nparams: 0, nlocals: 0, entry: 0, end: code.length, ...fn }],
    code: Int32Array.from(code),
    ...rest,
  };
}

function rejection(def: ModuleDef): RarError {
  try {
    verify(def);
  } catch (e) {
    expect(e).toBeInstanceOf(RarError);
    const err = e as RarError;
    expect(err.phase).toBe("verify");
    return err;
  }
  throw new Error("verify accepted the module");
}

function rejects(src: string): RarError {
  return rejection(assemble(src, "bad.rasm"));
}

describe("the verifier rejects", () => {
  it("unknown opcodes, naming function and pc", () => {
    for (const op of [OPS.length, 999, -1]) {
      const e = rejection(raw([Op.NOP, op, Op.RET]));
      expect(e.kind).toBe("bad_opcode");
      expect(e.message).toMatch(new RegExp(`function f at pc 1: unknown opcode ${op}`));
    }
  });

  it("an instruction whose operands run past the end of the function", () => {
    const e = rejection(raw([Op.NOP, Op.PUSH]));
    expect(e.kind).toBe("truncated");
    expect(e.message).toMatch(/function f at pc 1/);
  });

  const operands: [string, string, string][] = [
    ["a local index >= nlocals", ".func g 1 2\n NOP\n LGET 2\n RET", "bad_local"],
    ["a negative local index", ".func g 1 2\n NOP\n LSET -1\n RET", "bad_local"],
    ["LINC on a missing local", ".func g 1 2\n NOP\n LINC 5 1\n PUSH 0\n RET", "bad_local"],
    ["a function index out of range", ".func g 0 0\n NOP\n CALL #3\n RET", "bad_func"],
    ["SPAWN of a function out of range", ".func g 0 0\n NOP\n SPAWN #-1\n RET", "bad_func"],
    ["a capability index outside the manifest", ".func g 0 0\n NOP\n CAP #0 0\n RET", "bad_cap"],
    ["a capability argument count above 16", ".cap io.print\n.func g 0 0\n NOP\n CAP io.print 17\n RET", "bad_count"],
    ["a negative capability argument count", ".cap io.print\n.func g 0 0\n NOP\n CAP io.print -1\n RET", "bad_count"],
    ["SPAWNX of a link the module does not have", ".func g 0 0\n " + "PUSH 0\n ".repeat(6) + "SPAWNX 0 0\n RET", "bad_link"],
  ];
  for (const [what, src, kind] of operands) {
    it(`${what} (${kind})`, () => {
      const e = rejects(src);
      expect(e.kind).toBe(kind);
      expect(e.message).toMatch(/function g at pc \d+/);
      if (!src.includes("SPAWNX")) expect(e.message).toMatch(/at pc 1:/);
    });
  }

  it("a jump outside its function, even into another function", () => {
    const def: ModuleDef = {
      ...raw([Op.PUSH, 0, Op.RET, Op.NOP, Op.JMP, 0]),
      functions: [
        { name: "main", nparams: 0, nlocals: 0, entry: 0, end: 3 },
        { name: "g", nparams: 0, nlocals: 0, entry: 3, end: 6 },
      ],
    };
    const e = rejection(def);
    expect(e.kind).toBe("bad_jump");
    expect(e.message).toMatch(/function g at pc 4: jump target 0 outside the function/);
    expect(rejection(raw([Op.JMP, 1000])).kind).toBe("bad_jump");
    expect(rejection(raw([Op.PUSH, 1, Op.JZ, -1, Op.PUSH, 0, Op.RET])).kind).toBe("bad_jump");
  });

  it("a jump into the middle of an instruction", () => {
    // pc 0: PUSH 5 (pc 1 is its operand); pc 2: JMP 1
    const e = rejection(raw([Op.PUSH, 5, Op.JMP, 1]));
    expect(e.kind).toBe("bad_jump");
    expect(e.message).toMatch(/function f at pc 2: target 1 is not an instruction start/);
    const b = rejection(raw([Op.PUSH, 0, Op.JNZ, 3, Op.PUSH, 7, Op.RET]));
    expect(b.kind).toBe("bad_jump");
  });

  const underflows: [string, string, RegExp][] = [
    ["ADD with one operand", ".func g 0 0\n PUSH 1\n ADD\n RET", /function g at pc 2: ADD needs 2 operands, stack has 1/],
    ["RET on an empty stack", ".func g 0 0\n RET", /function g at pc 0: RET needs 1 operands, stack has 0/],
    ["POP after the branch consumed the value", ".func g 0 0\n PUSH 1\n JZ next\n next: POP\n PUSH 0\n RET", /function g at pc 4: POP needs 1/],
    ["CALL with fewer arguments than parameters", ".func g 0 0\n PUSH 1\n CALL h\n RET\n.func h 2 2\n PUSH 0\n RET", /function g at pc 2: CALL needs 2/],
    ["SPAWN without its six extra operands", ".func g 0 0\n " + "PUSH 0\n ".repeat(6) + "SPAWN h\n RET\n.func h 1 1\n PUSH 0\n RET", /function g at pc 12: SPAWN needs 7/],
    ["SPAWNC with seven operands", ".func g 0 0\n " + "PUSH 0\n ".repeat(7) + "SPAWNC\n RET", /function g at pc 14: SPAWNC needs 8/],
    ["CAP with fewer words than its count", ".cap io.print\n.func g 0 0\n PUSH 0\n CAP io.print 2\n RET", /function g at pc 2: CAP needs 2/],
    ["SWAP with one operand", ".func g 0 0\n PUSH 1\n SWAP\n RET", /SWAP needs 2/],
    ["OVER with one operand", ".func g 0 0\n PUSH 1\n OVER\n RET", /OVER needs 2/],
  ];
  for (const [what, src, msg] of underflows) {
    it(`stack underflow: ${what}`, () => {
      const e = rejects(src);
      expect(e.kind).toBe("stack_underflow");
      expect(e.message).toMatch(msg);
    });
  }

  it("inconsistent stack heights where control flow merges", () => {
    // One path pushes an extra word before reaching `join`.
    const e = rejects(`.func g 0 0
      PUSH 0
      JZ join
      PUSH 1
    join:
      PUSH 2
      RET`);
    expect(e.kind).toBe("stack_mismatch");
    expect(e.message).toMatch(/function g at pc \d+: stack height \d meets \d at pc 6/);
    // A loop whose body leaves a word behind each time round.
    const loop = rejects(`.func g 0 0
    top:
      PUSH 1
      PUSH 1
      JNZ top
      RET`);
    expect(loop.kind).toBe("stack_mismatch");
  });

  it("execution falling off the end of a function", () => {
    const e = rejects(".func g 0 0\n PUSH 1\n.func h 0 0\n PUSH 2\n RET");
    expect(e.kind).toBe("falls_off");
    expect(e.message).toMatch(/function g at pc 0: execution falls off the end/);
    const branch = rejects(".func g 0 0\n top: PUSH 1\n JZ top");
    expect(branch.kind).toBe("falls_off");
    expect(branch.message).toMatch(/function g at pc 2/);
  });

  it("an operand stack deeper than the bound", () => {
    const e = rejects(`.func g 0 0\n${" PUSH 1\n".repeat(MAX_STACK + 1)} RET`);
    expect(e.kind).toBe("stack_overflow");
    expect(e.message).toMatch(new RegExp(`function g at pc ${2 * MAX_STACK}`));
  });

  it("function tables that do not tile the code", () => {
    const two = (f: FunctionDef[], code = [Op.PUSH, 0, Op.RET, Op.PUSH, 0, Op.RET]): ModuleDef => ({ name: "t", caps: [], functions: f, code: Int32Array.from(code) });
    const f = (name: string, entry: number, end: number, nparams = 0, nlocals = 0): FunctionDef => ({ name, nparams, nlocals, entry, end });
    expect(rejection(two([f("a", 0, 3), f("b", 4, 6)])).message).toMatch(/function b \(#1\): starts at 4, expected 3/);
    expect(rejection(two([f("a", 0, 3), f("b", 3, 5)])).message).toMatch(/code after the last function/);
    expect(rejection(two([f("a", 0, 3), f("b", 3, 9)])).message).toMatch(/function b \(#1\): bad end 9/);
    expect(rejection(two([f("a", 0, 0), f("b", 0, 6)])).message).toMatch(/function a \(#0\): bad end 0/);
    expect(rejection(two([f("a", 0, 3, 2, 1), f("b", 3, 6)])).message).toMatch(/function a \(#0\): nlocals < nparams/);
    expect(rejection(two([])).kind).toBe("no_functions");
  });

  it("function tables built through the API with counts out of range or non-integer bounds", () => {
    const f = (over: Partial<FunctionDef>): ModuleDef => raw([Op.PUSH, 0, Op.RET], over);
    expect(rejection(f({ nlocals: 1e9 })).message).toMatch(/function f \(#0\): nlocals 1000000000 out of range/);
    expect(rejection(f({ nparams: 256, nlocals: 256 })).message).toMatch(/nparams 256 out of range/);
    expect(rejection(f({ nparams: -1 })).message).toMatch(/nparams -1 out of range/);
    expect(rejection(f({ nlocals: 1.5 })).kind).toBe("layout");
    const split: ModuleDef = {
      ...raw([Op.PUSH, 0, Op.RET, Op.PUSH, 0, Op.RET]),
      functions: [
        { name: "a", nparams: 0, nlocals: 0, entry: 0, end: 2.5 },
        { name: "b", nparams: 0, nlocals: 0, entry: 2.5, end: 6 },
      ],
    };
    expect(rejection(split).message).toMatch(/function a \(#0\): bad end 2\.5/);
  });

  it("a manifest that names a capability twice", () => {
    expect(rejection(raw([Op.PUSH, 0, Op.RET], {}, { caps: ["io.print", "io.print"] })).kind).toBe("duplicate");
  });

  it("a source map out of order or pointing at missing files", () => {
    const sm = (entries: number[], files = ["a"]): ModuleDef => raw([Op.PUSH, 0, Op.RET], {}, { sourceMap: { files, entries: Int32Array.from(entries) } });
    expect(rejection(sm([2, 0, 1, 1, 0, 0, 1, 1])).kind).toBe("bad_source_map");
    expect(rejection(sm([0, 1, 1, 1])).kind).toBe("bad_source_map");
    expect(rejection(sm([3, 0, 1, 1])).kind).toBe("bad_source_map");
    expect(() => verify(sm([0, 0, 1, 1, 2, 0, 2, 1]))).not.toThrow();
  });

  it("a bundle whose link the bundle does not hold", () => {
    const def = { ...raw([Op.PUSH, 0, Op.RET]), links: ["ab".repeat(32)] };
    let err: unknown;
    try {
      verifyBundle([def]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RarError);
    expect((err as RarError).kind).toBe("unresolved_link");
  });
});

describe("the verifier accepts and measures", () => {
  it("derives each function's maximum stack height and frame cost", () => {
    const m = verify(
      assemble(`.func main 0 0
        PUSH 1
        PUSH 2
        PUSH 3
        CALL f
        ADD
        RET
      .func f 2 5
        LGET 0
        LGET 1
        OVER
        OVER
        ADD
        ADD
        ADD
        RET`),
    );
    expect(Array.from(m.maxStack)).toEqual([3, 4]);
    expect(Array.from(m.frameCost)).toEqual([0 + 3 + 3, 5 + 4 + 3]);
    expect(m.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it("checks the operands of unreachable code but not its stack heights", () => {
    expect(() => verify(assemble(".func g 0 0\n PUSH 0\n RET\n ADD\n ADD\n RET"))).not.toThrow();
    expect(rejects(".func g 0 0\n PUSH 0\n RET\n LGET 9\n RET").kind).toBe("bad_local");
  });

  it("accepts jumps in both directions and merges of equal height", () => {
    const m = verify(
      assemble(`.func g 0 1
        PUSH 3
        LSET 0
      top:
        LGET 0
        JZ out
        LINC 0 -1
        JMP top
      out:
        PUSH 0
        RET`),
    );
    expect(m.maxStack[0]).toBe(1);
  });

  it("is deterministic: the same definition gives the same digest", () => {
    const src = ".func g 0 0\n PUSH 0\n RET";
    expect(verify(assemble(src)).digest).toBe(verify(assemble(src)).digest);
    expect(verify(assemble(src)).digest).not.toBe(verify(assemble(src.replace("0\n", "1\n"))).digest);
  });
});
