// The scheduler runs the instructions the hot loop hands over from a table
// keyed by opcode (src/process/instructions.ts). Its keys are the opcode
// table's "scheduler" rows, no more and no fewer, and building it refuses
// anything else.

import { describe, expect, it } from "vitest";
import { SLOW, slowTable, type Room } from "../src/process/instructions.js";
import { OPS, Op } from "../src/vm/opcodes.js";

const scheduled = OPS.flatMap((o, op) => (o.runs === "scheduler" ? [op] : []));
const loopOnly = OPS.findIndex((o) => o.runs !== "scheduler");
/** One room holding every handler of the real table. */
const everything: Room = Object.fromEntries(scheduled.map((op) => [op, SLOW[op]]));
const without = (op: number): Room => Object.fromEntries(Object.entries(everything).filter(([k]) => Number(k) !== op));

describe("the slow instruction table", () => {
  it("has a handler of its own for each opcode the opcode table says the scheduler runs", () => {
    expect(scheduled.length).toBeGreaterThan(0);
    expect(SLOW.length).toBe(OPS.length);
    const handlers = scheduled.map((op) => SLOW[op]);
    expect(handlers).not.toContain(SLOW[loopOnly]);
  });

  it("answers an opcode the loop runs itself with an internal error", () => {
    const run = SLOW[loopOnly] as (...args: unknown[]) => unknown;
    expect(() => run(null, null, loopOnly)).toThrow(/internal: opcode \d+ reached the slow path/);
  });

  it("is refused when a scheduler opcode has no handler", () => {
    expect(() => slowTable([without(Op.KILL)])).toThrow(/no slow instruction handler for KILL/);
  });

  it("is refused when two rooms handle the same opcode", () => {
    expect(() => slowTable([everything, { [Op.CAP]: SLOW[Op.CAP] }])).toThrow(/two slow instruction handlers for CAP/);
  });

  it("is refused when a handler names an opcode the loop runs itself", () => {
    expect(() => slowTable([everything, { [Op.ADD]: SLOW[Op.CAP] }])).toThrow(/handler for ADD, which the scheduler does not run/);
  });
});
