// The `.rasm` assembler and disassembler: disassembly assembles back to the
// same module (name, manifest, functions, code), and every assembler error
// names FILE:LINE:COLUMN.

import fc from "fast-check";
import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { assemble, parseIntLiteral } from "../lang/asm.js";
import { disassemble, formatInstruction } from "../lang/disasm.js";
import { RarError } from "../src/vm/errors.js";
import { Op } from "../src/vm/opcodes.js";
import type { ModuleDef } from "../src/vm/module.js";
import { verify } from "../src/vm/verify.js";
import { BODY_LOCALS, blockArb, renderBody } from "./helpers/asm.js";

const EXAMPLES = new URL("../examples/asm/", import.meta.url);

function sameModule(a: ModuleDef, b: ModuleDef): void {
  expect(b.name).toBe(a.name);
  expect(b.caps).toEqual(a.caps);
  expect(b.functions).toEqual(a.functions);
  expect(Array.from(b.code)).toEqual(Array.from(a.code));
}

function roundTrip(def: ModuleDef): ModuleDef {
  const text = disassemble(def);
  const back = assemble(text, "disasm.rasm");
  sameModule(def, back);
  // Disassembly is a fixed point: the same module prints the same text.
  expect(disassemble(back)).toBe(text);
  return back;
}

describe("disassembly round trip", () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith(".rasm"));

  it("covers at least the bundled examples", () => {
    expect(files).toEqual(expect.arrayContaining(["fib.rasm", "hello.rasm"]));
  });

  for (const f of files) {
    it(`assemble(disassemble(m)) is m for examples/asm/${f}`, () => {
      const text = readFileSync(new URL(f, EXAMPLES), "utf8");
      const def = assemble(text, f);
      verify(def);
      roundTrip(def);
      // With source lines interleaved and pcs noted as comments, it still assembles to the same code.
      const annotated = disassemble(def, { sources: new Map([[f, text]]), pcs: true });
      expect(annotated).toMatch(new RegExp(`; ${f.replace(".", "\\.")}:\\d+: `));
      sameModule(def, assemble(annotated));
    });
  }

  const program = fc.record({
    fns: fc.array(blockArb, { minLength: 1, maxLength: 4 }),
    caps: fc.subarray(["io.print", "clock.now", "kv.get", "fs.read:/data"]),
    extra: fc.array(fc.constantFrom("spawn", "call", "cap", "proc", "mem"), { maxLength: 5 }),
  });

  function build(p: { fns: Parameters<typeof renderBody>[0][]; caps: string[]; extra: string[] }): string {
    const lines: string[] = [".module random"];
    for (const c of p.caps) lines.push(`.cap ${c}`);
    p.fns.forEach((toks, i) => {
      lines.push(`.func f${i} 0 ${BODY_LOCALS}`);
      for (const x of p.extra) {
        if (x === "spawn") lines.push("  PUSH 0", "  PUSH 0", "  PUSH 10", "  PUSH 10", "  PUSH 0", "  PUSH 0", `  SPAWN f${p.fns.length - 1}`, "  DUP", "  RESUME", "  POP", "  KILL");
        if (x === "call") lines.push(`  CALL f${(i + 1) % p.fns.length}`, "  POP");
        if (x === "cap" && p.caps.length > 0) lines.push("  PUSH 0", "  PUSH 0", `  CAP ${p.caps[p.caps.length - 1]} 2`, "  POP");
        if (x === "proc") lines.push("  GASLEFT", "  MEMLEFT", "  ADD", "  YIELD", "  INLEN", "  POP");
        if (x === "mem") lines.push("  PUSH 3", "  MGROW", "  LOAD -1", "  PUSH 0", "  SWAP", "  STORE 0", "  PUSH 0", "  PUSH 1", "  PUSH 1", "  MCOPY");
      }
      lines.push(renderBody(toks, `f${i}_`));
    });
    return lines.join("\n");
  }

  it("assemble(disassemble(m)) is m for random valid programs", () => {
    fc.assert(
      fc.property(program, (p) => {
        const def = assemble(build(p), "random.rasm");
        verify(def);
        roundTrip(def);
      }),
      { seed: 314, numRuns: 300 },
    );
  });

  it("formats every operand kind the way the assembler reads it", () => {
    const def = assemble(".cap io.print\n.func main 0 2\n top: LINC 1 -5\n PUSH -2147483648\n CALL main\n CAP io.print 0\n JMP top");
    expect(formatInstruction(def, 0)).toBe("LINC 1 -5");
    expect(formatInstruction(def, 3)).toBe("PUSH -2147483648");
    expect(formatInstruction(def, 5)).toBe("CALL main");
    expect(formatInstruction(def, 7)).toBe("CAP io.print 0");
    expect(formatInstruction(def, 10)).toBe("JMP L0");
  });
});

describe("assembling", () => {
  it("records the line and column of every instruction in the source map", () => {
    const def = assemble(".func main 0 0\n\n   PUSH 1 ; one\nx: y: RET", "m.rasm");
    expect(def.sourceMap?.files).toEqual(["m.rasm"]);
    expect(Array.from(def.sourceMap!.entries)).toEqual([0, 0, 3, 4, 2, 0, 4, 7]);
  });

  it("scopes labels to their function, resolves forward references and accepts several labels per line", () => {
    const def = assemble(`.func a 0 0
      JMP end
    end: back:
      PUSH 1
      RET
    .func b 0 0
    end:
      JMP end`);
    expect(Array.from(def.code)).toEqual([Op.JMP, 2, Op.PUSH, 1, Op.RET, Op.JMP, 5]);
  });

  it("reads mnemonics in any case, # before integers, and function and capability indices", () => {
    const def = assemble(".cap io.print\n.func main 0 1\n push #7\n lget #0\n call #0\n CAP #0 1\n ret");
    const ref = assemble(".cap io.print\n.func main 0 1\n PUSH 7\n LGET 0\n CALL main\n CAP io.print 1\n RET");
    expect(Array.from(def.code)).toEqual(Array.from(ref.code));
  });

  it("names the module from .module (last wins), else from the file name", () => {
    expect(assemble(".func f 0\n RET", "dir/sub/prog.rasm").name).toBe("prog");
    expect(assemble(".module a\n.module b\n.func f 0\n RET").name).toBe("b");
    expect(assemble(".func f 0\n RET").name).toBe("<asm>");
  });

  it("defaults NLOCALS to NPARAMS", () => {
    expect(assemble(".func f 3\n RET").functions[0]).toMatchObject({ nparams: 3, nlocals: 3 });
  });
});

describe("integer literals", () => {
  const ok: [string, number][] = [
    ["0", 0],
    ["-0", 0],
    ["+17", 17],
    ["1_000_000", 1000000],
    ["0xFF_FF", 0xffff],
    ["0X10", 16],
    ["-2147483648", -2147483648],
    ["2147483647", 2147483647],
    ["0xFFFFFFFF", -1],
    ["4294967295", -1],
    ["2147483648", -2147483648],
    ["-0x80000000", -2147483648],
  ];
  for (const [text, v] of ok) it(`reads ${text} as ${v}`, () => expect(parseIntLiteral(text)).toBe(v));

  for (const text of ["", "1e3", "0x", "_1", "0b101", "4294967296", "-2147483649", "-0xFFFFFFFF", "12a", "--1", "0o7", "1.0", "0x1_0000_0000"])
    it(`rejects '${text}'`, () => expect(parseIntLiteral(text)).toBeUndefined());
});

describe("assembler errors name FILE:LINE:COLUMN", () => {
  const cases: [string, string, string, RegExp][] = [
    ["an unknown instruction", ".func f 0\n  FROB 1", "e.rasm:2:3", /unknown instruction 'FROB'/],
    ["a missing operand", ".func f 0\n PUSH", "e.rasm:2:2", /PUSH takes 1 operand/],
    ["an extra operand", ".func f 0\n RET 1", "e.rasm:2:2", /RET takes 0 operand/],
    ["a bad integer", ".func f 0\n PUSH 1e3", "e.rasm:2:7", /expected an integer i32 operand, got '1e3'/],
    ["a local that is not an integer", ".func f 0 1\n LGET x", "e.rasm:2:7", /expected an integer local operand/],
    ["an unknown label", ".func f 0\n JMP nowhere", "e.rasm:2:6", /unknown label 'nowhere'/],
    ["a label of another function", ".func f 0\n x: RET\n.func g 0\n JMP x", "e.rasm:4:6", /unknown label 'x'/],
    ["an unknown function", ".func f 0\n\n CALL nope\n RET", "e.rasm:3:7", /unknown function 'nope'/],
    ["an undeclared capability", ".func f 0\n  CAP io.print 2", "e.rasm:2:7", /capability 'io.print' not declared/],
    ["a capability declared after its use", ".func f 0\n CAP io.print 0\n.cap io.print", "e.rasm:2:6", /not declared/],
    ["a capability declared twice", ".cap a\n.cap   a", "e.rasm:2:8", /declared twice/],
    ["a label outside a function", "x:\n.func f 0\n RET", "e.rasm:1:1", /label outside a function/],
    ["a label defined twice", ".func f 0\nx: NOP\n  x: RET", "e.rasm:3:3", /label 'x' defined twice/],
    ["a malformed label", ".func f 0\n 1x: RET", "e.rasm:2:2", /bad label '1x'/],
    ["an unknown directive", "  .data 1", "e.rasm:1:3", /unknown directive '.data'/],
    [".module without a name", ".module", "e.rasm:1:1", /\.module takes one name/],
    [".func without NPARAMS", ".func f", "e.rasm:1:1", /\.func takes NAME NPARAMS/],
    [".func with bad NPARAMS", ".func f 256", "e.rasm:1:9", /NPARAMS must be 0\.\.255/],
    [".func with NLOCALS < NPARAMS", ".func f 2 1", "e.rasm:1:11", /NLOCALS must be at least NPARAMS/],
    ["a function defined twice", ".func f 0\n RET\n.func  f 0\n RET", "e.rasm:3:8", /function 'f' defined twice/],
    // Found by `npm run fuzz`: CALL 1 means function #1, so a function named 1 disassembled to text that assembled to other code.
    ["a function named like an index", ".func main 0\n RET\n.func 0x1 0\n RET", "e.rasm:3:7", /function name '0x1' would read as an index/],
    ["a function named like a # index", ".func #2 0\n RET", "e.rasm:1:7", /function name '#2' would read as an index/],
    ["a capability named like an index", ".cap io.print\n.cap 0", "e.rasm:2:6", /capability name '0' would read as an index/],
    ["an instruction outside a function", "\n  RET", "e.rasm:2:3", /instruction outside a function/],
    ["an empty function", ".func f 0\n.func g 0\n RET", "e.rasm:1:1", /function 'f' has no instructions/],
    ["a file without functions", "; nothing\n", "e.rasm:1:1", /no functions/],
  ];
  for (const [what, src, where, msg] of cases) {
    it(`${what}: ${where}`, () => {
      let err: unknown;
      try {
        assemble(src, "e.rasm");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RarError);
      const e = err as RarError;
      expect(e.phase).toBe("compile");
      expect(e.where).toBe(where);
      expect(e.message.startsWith(`${where}: `)).toBe(true);
      expect(e.message).toMatch(msg);
    });
  }
});
