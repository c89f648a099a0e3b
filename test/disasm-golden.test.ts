// Golden disassembly: `rar disasm` of bundled examples must not drift. The
// disassembler doubles as the step tracer and the assembler's inverse, so a
// change here is a change in what users read. Regenerate deliberately with
// UPDATE_GOLDEN=1 npx vitest run test/disasm-golden.test.ts and review the diff.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { disassemble } from "../lang/disasm.js";
import { loadProgram } from "../src/cli/load.js";

const ROOT = join(__dirname, "..");
const CASES = ["examples/asm/fib.rasm", "examples/language.ent", "examples/policy-demo.ent"];

describe("golden disassembly", () => {
  it.each(CASES)("%s disassembles exactly as recorded", async (file) => {
    const { module, sources } = await loadProgram(file);
    const text = disassemble(module, { sources });
    const golden = join(ROOT, "test", "golden", "disasm", `${file.replace(/^examples\//, "").replace(/\//g, "_")}.txt`);
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(golden, text);
    expect(text).toBe(readFileSync(golden, "utf8"));
  });
});
