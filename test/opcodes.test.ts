import { describe, expect, it } from "vitest";
import { GAS, OPS, Op, WIDTH } from "../src/vm/opcodes.js";

describe("the opcode table", () => {
  it("numbers every opcode exactly as the Op enum does", () => {
    const entries = Object.entries(Op).filter(([, v]) => typeof v === "number") as [string, number][];
    expect(entries.length).toBe(OPS.length);
    for (const [name, num] of entries) expect(OPS[num].name).toBe(name);
  });

  it("derives widths and base gas from the table", () => {
    for (let i = 0; i < OPS.length; i++) {
      expect(WIDTH[i]).toBe(1 + OPS[i].operands.length);
      expect(GAS[i]).toBe(OPS[i].gas);
      expect(OPS[i].gas).toBeGreaterThan(0);
    }
  });
});
