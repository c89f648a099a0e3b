// Hostile checks of the encoder's scratch buffer (src/image/encode.ts `spare`,
// lent to one encoding at a time): images returned never share memory with
// one another or with the scratch, a large image does not leave the next
// small one different or a buffer larger than SCRATCH held, and an image made
// inside a host capability call (while another session runs) or by a guest
// SNAPSHOT is the same as one made outside.

import { describe, expect, it } from "vitest";
import { decodeImage } from "../src/image/decode.js";
import { SCRATCH } from "../src/image/wire.js";
import { Session } from "../src/session.js";
import { load } from "./helpers/asm.js";

/** A session whose root grew `words` words of memory (filled with i * 7) and stopped at a yield. */
function holding(words: number): Session {
  const s = Session.start(
    load(`.func main 0 1
  PUSH ${words}
  MGROW
  POP
fill:
  LGET 0
  PUSH ${words}
  LT
  JZ done
  LGET 0
  LGET 0
  PUSH 7
  MUL
  STORE 0
  LINC 0 1
  JMP fill
done:
  PUSH 1
  YIELD
  PUSH 0
  RET`),
    { gas: 100_000_000, mem: 10_000_000, stdout: () => {} },
  );
  expect(s.run().status).toBe("yielded");
  return s;
}

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(a, b) === 0;

describe("the encoder's scratch buffer", () => {
  it("two snapshots never share memory: changing one leaves the other and the next snapshot as they were", () => {
    for (const words of [0, 10, 5000, SCRATCH, 3 * SCRATCH]) {
      const s = holding(words);
      const a = s.snapshot();
      const b = s.snapshot();
      expect(a.buffer).not.toBe(b.buffer);
      expect(same(a, b)).toBe(true);
      const keep = a.slice();
      b.fill(0xee);
      const c = s.snapshot();
      expect(same(a, keep)).toBe(true);
      expect(same(c, keep)).toBe(true);
      a.fill(0x11);
      expect(same(s.snapshot(), keep)).toBe(true);
    }
  });

  it("a small image after a large one (larger than the scratch) is byte for byte the small image made before it", () => {
    const small = holding(3);
    const before = small.snapshot();
    const big = holding(4 * SCRATCH).snapshot();
    expect(big.length).toBeGreaterThan(4 * SCRATCH);
    const after = small.snapshot();
    expect(same(after, before)).toBe(true);
    // And the large image reads back whole (its chunks were copied out before the scratch was lent again).
    const back = decodeImage(big);
    expect(back.root.mem[4 * SCRATCH - 1]).toBe((4 * SCRATCH - 1) * 7);
    expect(same(holding(3).snapshot(), before)).toBe(true);
  });

  it("an image made inside a host capability call, while another session is running, is the one made outside", () => {
    const other = holding(2000);
    const outside = other.snapshot();
    let inside: Uint8Array | null = null;
    const s = Session.start(
      load(`.cap clock.now
.func main 0 0
  CAP clock.now 0
  RET`),
      {
        caps: ["clock.now"],
        handlers: {
          "clock.now": {
            sig: { args: [], result: "int" },
            call: () => {
              inside = other.snapshot();
              return 5;
            },
          },
        },
        stdout: () => {},
      },
    );
    expect(s.run()).toMatchObject({ status: "done", value: 5 });
    expect(inside).not.toBeNull();
    expect(same(inside as unknown as Uint8Array, outside)).toBe(true);
    // The session that ran the handler snapshots as any other, and its image restores.
    const img = s.snapshot();
    expect(Session.fromImage(img, { caps: ["clock.now"], stdout: () => {} }).digest()).toBe(s.digest());
  });

  it("the bytes a guest SNAPSHOT put in its inbox do not change when the host encodes afterwards", () => {
    const s = Session.start(
      load(`.func main 0 2
  PUSH 0
  PUSH 0
  PUSH 100000
  PUSH 100000
  PUSH 0
  PUSH 0
  SPAWN child
  LTEE 0
  RESUME
  POP
  LGET 0
  SNAPSHOT
  POP
  PUSH 0
  YIELD
  PUSH 0
  RET
.func child 0 1
  PUSH 300
  MGROW
  POP
  PUSH 9
  YIELD
  PUSH 0
  RET`),
      { gas: 10_000_000, stdout: () => {} },
    );
    expect(s.run().status).toBe("yielded");
    const inbox = Uint8Array.from(s.root.inbox ?? []);
    expect(decodeImage(inbox).root.value).toBe(9);
    for (let i = 0; i < 3; i++) {
      s.snapshot();
      holding(SCRATCH).snapshot();
    }
    expect(same(Uint8Array.from(s.root.inbox ?? []), inbox)).toBe(true);
  });
});
