import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { assemble } from "../lang/asm.js";
import { isaMarkdown } from "../scripts/gen-isa.js";
import { STATUS_NAMES } from "../src/process/process.js";
import { FAULTS } from "../src/vm/errors.js";
import { OPS } from "../src/vm/opcodes.js";
import { verify } from "../src/vm/verify.js";

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");

describe("the written specification", () => {
  it("spec/isa.md is exactly what scripts/gen-isa.ts generates from the opcode table (run `npm run gen:spec`)", () => {
    expect(read("spec/isa.md")).toBe(isaMarkdown());
  });

  it("spec/isa.md lists every opcode of the table", () => {
    const isa = isaMarkdown();
    for (let i = 0; i < OPS.length; i++) expect(isa).toMatch(new RegExp(`^\\| ${i} \\| \`${OPS[i].name}[ \`]`, "m"));
  });

  it("spec/semantics.md names every fault kind and every status", () => {
    const text = read("spec/semantics.md");
    for (const kind of Object.keys(FAULTS)) expect(text).toContain(`\`${kind}\``);
    for (const status of STATUS_NAMES) expect(text).toContain(`\`${status}\``);
  });

  it("every rasm example in spec/assembly.md assembles and verifies", () => {
    const blocks = [...read("spec/assembly.md").matchAll(/```rasm\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) expect(() => verify(assemble(block, "spec.rasm"))).not.toThrow();
  });
});
