// The embedding API validates at its boundary (issue: the trust boundary):
// budgets are non-negative safe integers, args are i32, anything else is a
// RarError("usage") before anything happens; a Session is never stuck.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CapHandler } from "../src/caps/registry.js";
import { LIMIT_MAX, Session } from "../src/session.js";
import { load } from "./helpers/asm.js";
import { rarErrorOf } from "./helpers/errors.js";

const LOOP = load(`.func main 0 1
top:
  LGET 0
  ADDI 1
  LSET 0
  JMP top`);

const usageError = rarErrorOf;

const BAD_COUNTS = [NaN, -1, 1.5, Infinity, -Infinity, LIMIT_MAX + 1, 2 ** 60, "10" as unknown as number, null as unknown as number];

describe("Session.start validates its numbers", () => {
  it.each(BAD_COUNTS)("gas %s is a usage error", (gas) => {
    expect(usageError(() => Session.start(LOOP, { gas })).phase).toBe("usage");
  });
  it.each(BAD_COUNTS)("mem %s is a usage error", (mem) => {
    expect(usageError(() => Session.start(LOOP, { mem })).phase).toBe("usage");
  });
  it("args must be signed 32-bit integers or strings", () => {
    for (const a of [1.5, 2 ** 31, -(2 ** 31) - 1, NaN, 2 ** 40, null as unknown as number, [1] as unknown as number])
      expect(usageError(() => Session.start(LOOP, { args: [a] })).message).toMatch(/args\[0\]/);
    expect(Session.start(LOOP, { args: [-(2 ** 31), 2 ** 31 - 1] }).root.mem[1]).toBe(-(2 ** 31));
    // A string makes every argument a text: [n, offsets..., texts...] (spec/language.md).
    expect(Array.from(Session.start(LOOP, { args: ["1", 2] }).root.mem.subarray(0, 7))).toEqual([2, 3, 5, 1, 49, 1, 50]);
  });
  it("any safe integer budget is taken as given (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: LIMIT_MAX }), fc.integer({ min: 0, max: LIMIT_MAX }), (gas, mem) => {
        const s = Session.start(LOOP, { gas, mem });
        expect(s.root.gasLimit).toBe(gas);
        expect(s.root.memLimit).toBe(mem);
      }),
    );
  });
  it("refuel and answer check their numbers and change nothing when they refuse", () => {
    const s = Session.start(LOOP, { gas: 50 });
    s.run();
    const before = s.root.gasLimit;
    for (const bad of BAD_COUNTS) expect(usageError(() => s.refuel(bad)).phase).toBe("usage");
    expect(usageError(() => s.refuel(10, NaN)).phase).toBe("usage");
    expect(s.root.gasLimit).toBe(before);
    expect(usageError(() => s.answer(1)).message).toMatch(/not waiting/);
    expect(s.trace?.events().filter((e) => e.kind === "refuel").length).toBe(1);
  });
});

describe("a Session is never stuck", () => {
  it("after run() meets an async call, runAsync() finishes the run", async () => {
    const slow: CapHandler = { sig: { args: [], result: "int" }, call: () => Promise.resolve(41) };
    const m = load(`.cap host.slow
.func main 0 0
  CAP host.slow 0
  ADDI 1
  RET`);
    const s = Session.start(m, { caps: ["host.slow"], handlers: { "host.slow": slow } });
    expect(usageError(() => s.run()).message).toMatch(/runAsync/);
    expect(usageError(() => s.run()).message).toMatch(/runAsync/);
    expect(usageError(() => s.snapshot()).message).toMatch(/pending/);
    const r = await s.runAsync();
    expect(r).toMatchObject({ status: "done", value: 42 });
  });
});
