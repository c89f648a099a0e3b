// The interpreter's switch cases are generated from the instruction rows of
// src/vm/semantics.ts (scripts/gen-interpreter.ts), through the translator the
// compiled tier uses at run time: the checked-in code must be what the
// generator writes now, or the two tiers would no longer share one definition.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BEGIN, END, generatedInterpreter } from "../scripts/gen-interpreter.js";
import { OPS } from "../src/vm/opcodes.js";
import { FUSED, FUSED_BASE } from "../src/vm/quicken.js";
import { SEMANTICS } from "../src/vm/semantics.js";

const source = readFileSync(new URL("../src/vm/interpreter.ts", import.meta.url), "utf8");
const region = source.slice(source.indexOf(BEGIN), source.indexOf(END));

describe("the generated interpreter", () => {
  it("src/vm/interpreter.ts holds exactly the cases scripts/gen-interpreter.ts generates from semantics.ts (run `npm run gen:interpreter`)", () => {
    expect(source).toBe(generatedInterpreter(source));
  });

  it("has a case for every instruction with a row and for every fused opcode, and none for the scheduler's instructions", () => {
    OPS.forEach((o, op) => expect(region.includes(`case Op.${o.name}: {`), o.name).toBe(SEMANTICS[op] !== undefined));
    FUSED.forEach((_, i) => expect(region).toContain(`case ${FUSED_BASE + i}: {`));
  });
});
