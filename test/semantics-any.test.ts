// A row's `any` (src/vm/semantics.ts) is the one condition the compiled tier
// tests instead of the row's checks: it must hold exactly when some check
// does, for every value the row's names can take (i32 words, memories of any
// size holding any words, negative array lengths included).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OPS } from "../src/vm/opcodes.js";
import { SEMANTICS } from "../src/vm/semantics.js";

const WORD = fc.oneof(
  fc.integer({ min: -3, max: 40 }),
  fc.constantFrom(-0x80000000, -0x7fffffff, -1, 0x7fffffff, 0x7ffffffe, 0x40000000),
  fc.integer({ min: -0x80000000, max: 0x7fffffff }),
);

const rows = SEMANTICS.flatMap((s, op) => (s?.any === undefined ? [] : [{ name: OPS[op].name, s }]));

describe("a row's `any` holds exactly when one of its checks does", () => {
  it("some rows have one (the array instructions)", () => {
    expect(rows.map((r) => r.name)).toEqual(expect.arrayContaining(["ALOAD", "ASTORE"]));
  });

  for (const { name, s } of rows) {
    it(`${name}: for any popped words and any memory`, () => {
      const names = [...(s.pop ?? []), ...(s.args ?? [])];
      const checks = (s.checks ?? []).map((c) => `(${c.if})`).join(" || ");
      const some = new Function(...names, "mem", "memSize", `return !!(${checks});`) as (...x: unknown[]) => boolean;
      const any = new Function(...names, "mem", "memSize", `return !!(${s.any});`) as (...x: unknown[]) => boolean;
      fc.assert(
        fc.property(
          fc.array(WORD, { minLength: names.length, maxLength: names.length }),
          fc.array(WORD, { maxLength: 40 }),
          fc.nat(),
          (words, memWords, cut) => {
            const mem = Int32Array.from(memWords);
            const memSize = mem.length === 0 ? 0 : cut % (mem.length + 1);
            // Addresses near the memory often, so every check is reached.
            const near = words.map((w, k) => (k === 0 && w >= 0 && w < 1000 && memSize > 0 ? w % memSize : w));
            expect(any(...near, mem, memSize)).toBe(some(...near, mem, memSize));
          },
        ),
        { numRuns: 20_000 },
      );
    });
  }
});
