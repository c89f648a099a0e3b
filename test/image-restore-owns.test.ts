// What a restore may share, and with whom: a restored session shares no byte
// with the caller's input (the trace slot is a view of it only while
// Session.fromImage reads it), a child decoded as a copy of its previous
// sibling (Process.twin) has every value the sibling has but its own memory,
// inbox and request, and an image whose origin and modules fields repeat the
// last checked image's is still checked everywhere else.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeImage } from "../src/image/decode.js";
import { hex } from "../src/vm/sha256.js";
import { Session } from "../src/session.js";
import { RarError } from "../src/vm/errors.js";
import type { Process } from "../src/process/process.js";
import { load } from "./helpers/asm.js";
import { bodyOf, sealed } from "./image-fuzz.js";

const quiet = (): void => {};

/** A root that stores 7 at address 0, spawns `n` like children that each yield once, then spins out of gas. */
function tree(n: number): Session {
  const spawn = `  PUSH 0
  PUSH 0
  PUSH 1000
  PUSH 1000
  PUSH 0
  PUSH 0
  SPAWN child
  RESUME
  POP
`;
  const src = `.module owns
.func main 0 1
  PUSH 3
  MGROW
  POP
  PUSH 0
  PUSH 7
  STORE 0
${spawn.repeat(n)}spin:
  LINC 0 1
  JMP spin
.func child 0
  PUSH 1
  YIELD
  PUSH 0
  RET
`;
  const s = Session.start(load(src), { gas: 400 * n + 2000, stdout: quiet });
  expect(s.run().status).toBe("out_of_gas");
  return s;
}

describe("a restore owns what it restored", () => {
  it("overwriting the input after Session.fromImage changes nothing the session holds (recorded or not)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.boolean(), fc.integer({ min: 0, max: 255 }), (n, record, fill) => {
        const image = tree(n).snapshot();
        const input = image.slice();
        const back = Session.fromImage(input, { stdout: quiet, record });
        input.fill(fill);
        const again = back.snapshot();
        if (record) expect(Buffer.compare(again, image)).toBe(0);
        // Unrecorded, the image keeps the trace it was read with, as it was read.
        else expect(Buffer.compare(Session.fromImage(again, { stdout: quiet }).snapshot(), image)).toBe(0);
        expect(back.root.mem[0]).toBe(7);
      }),
      { numRuns: 30 },
    );
  });

  it("a copy of its previous sibling has the sibling's values, its own memory, and shares its stack and frames until written", () => {
    const s = tree(3);
    const { root } = decodeImage(s.snapshot());
    const kids = [...root.children.values()];
    expect(kids.length).toBe(3);
    const fields = (p: Process): Record<string, unknown> => {
      const r: Record<string, unknown> = {};
      for (const k of ["status", "value", "faultKind", "faultDetail", "need", "request", "answer", "waiting", "inbox", "pc", "sp", "bp", "fp", "gasUsed", "gasLimit", "memUsed", "memLimit", "memSize", "caps", "traps", "nextHandle", "depth", "module", "entryFn", "borrowed"] as const)
        r[k] = (p as unknown as Record<string, unknown>)[k];
      return r;
    };
    for (const k of kids.slice(1)) {
      expect(fields(k)).toEqual(fields(kids[0]));
      expect(k.parent).toBe(root);
      expect(k.stack).toBe(kids[0].stack);
      expect(k.frames).toBe(kids[0].frames);
      expect(k.borrowed && kids[0].borrowed).toBe(true);
    }
    expect(kids.map((k) => k.handle)).toEqual([1, 2, 3]);
  });

  it("the image digest is the hex of the digest the header holds", () => {
    const image = tree(1).snapshot();
    expect(decodeImage(image).imageDigest).toBe(hex(image.subarray(9, 41)));
  });

  it("an image repeating the last checked origin and modules is still refused for what follows them", () => {
    const image = tree(2).snapshot();
    // The last checked origin is now this image's.
    Session.fromImage(image, { stdout: quiet });
    const body = bodyOf(image);
    // Every byte past the origin and modules fields (the tree, the trace), flipped: still checked.
    let refused = 0;
    for (let at = body.length - 1; at > body.length - 200; at--) {
      const b = body.slice();
      b[at] ^= 0x01;
      try {
        Session.fromImage(sealed(b), { stdout: quiet });
      } catch (e) {
        expect(e).toBeInstanceOf(RarError);
        expect((e as RarError).key).toMatch(/^(image|trace|policy)\./);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(150);
  });
});
