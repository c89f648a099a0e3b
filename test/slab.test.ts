// Arrays carved from shared buffers (src/vm/slab.ts): each starts as zeros,
// is exactly as long as asked, and never shares an entry with another,
// whatever sizes are asked for in whatever order; copies hold what they copy.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { copyWords, newFloats, newWords } from "../src/vm/slab.js";

describe("carved arrays", () => {
  for (const [kind, make, mark] of [
    ["words", newWords, (k: number) => k + 1],
    ["doubles", newFloats, (k: number) => k + 0.5],
  ] as const) {
    it(`of ${kind} are zeroed, of the length asked, and disjoint from every other`, () => {
      fc.assert(
        fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 5000 })), { minLength: 1, maxLength: 200 }), (sizes) => {
          const arrays = sizes.map((n) => make(n));
          arrays.forEach((a, k) => {
            expect(a.length).toBe(sizes[k]);
            expect(a.every((x) => x === 0)).toBe(true);
            a.fill(mark(k));
          });
          arrays.forEach((a, k) => expect(a.every((x) => x === mark(k))).toBe(true));
        }),
        { numRuns: 50 },
      );
    });
  }

  it("copies of words hold the words of what they copy, and writing one changes nothing else", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 3000 }), fc.boolean(), (words, typed) => {
        const source = typed ? Int32Array.from(words) : words;
        const a = copyWords(source);
        const b = copyWords(source);
        expect(Array.from(a)).toEqual(words);
        if (a.length > 0) {
          a[0] ^= 1;
          expect(b[0]).toBe(words[0]);
          expect(source[0]).toBe(words[0]);
        }
      }),
      { numRuns: 50 },
    );
  });
});
