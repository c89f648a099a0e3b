// The in-place reader of process records (src/image/wire.ts WireReader) and
// the decoder built on it: it reads what msgpackr reads, refuses what scan()
// refuses with the same errors, and a body that is structurally bad anywhere
// is reported as such whichever field the decoder was reading when it failed.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeImage } from "../src/image/decode.js";
import { encodeImage } from "../src/image/encode.js";
import { F, type WireValue } from "../src/image/format.js";
import { WireReader, WireWriter, join, sameRange, scan } from "../src/image/wire.js";
import { Children } from "../src/process/child-table.js";
import { Session } from "../src/session.js";
import { RarError } from "../src/vm/errors.js";
import { packr } from "../src/vm/module.js";
import { load } from "./helpers/asm.js";
import { bodyOf, sealValue, sealed, unpackBody, validImages } from "./image-fuzz.js";

/** Wire values of the types the format uses (float64 only for integers outside 32 bits, as the writer makes them). */
const wireValue: fc.Arbitrary<WireValue> = fc.letrec<{ v: WireValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.integer({ min: -0x80000000, max: 0xffffffff }),
    fc.maxSafeInteger(),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: "grapheme", maxLength: 8 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie("v"), { maxLength: 20 }),
  ),
})).v;

/** Reads one value with a WireReader, the way the decoder walks a layout. */
function readAll(c: WireReader): WireValue {
  if (c.nil()) return null;
  const n = c.number();
  if (!Number.isNaN(n)) return n;
  const len = c.array();
  if (len >= 0) {
    const out: WireValue[] = [];
    for (let i = 0; i < len; i++) out.push(readAll(c));
    return out;
  }
  const s = c.str();
  if (s !== null) return s;
  const b = c.bin();
  if (b !== null) return Uint8Array.from(b);
  throw new Error("unreachable: a value of no admitted type");
}

function encoded(v: WireValue): Uint8Array {
  const w = new WireWriter().value(v);
  return join(w.parts(), w.length());
}

function errorOf(f: () => unknown): RarError {
  try {
    f();
  } catch (e) {
    if (e instanceof RarError) return e;
    throw e;
  }
  throw new Error("no error");
}

describe("WireReader", () => {
  it("reads every value of the format as msgpackr does, and ends where the value ends", () => {
    fc.assert(
      fc.property(wireValue, (v) => {
        const bytes = encoded(v);
        const c = new WireReader(bytes, 0, bytes.length, "test");
        expect(readAll(c)).toEqual(packr.unpack(bytes));
        expect(c.pos).toBe(bytes.length);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses every truncation with the error kind scan() gives, never reading past the end", () => {
    fc.assert(
      fc.property(wireValue, fc.nat(), (v, cut) => {
        const bytes = encoded(v);
        const at = cut % bytes.length;
        const prefix = bytes.slice(0, at);
        const scanned = errorOf(() => scan(prefix, 64, "test"));
        const read = errorOf(() => readAll(new WireReader(prefix, 0, prefix.length, "test")));
        expect(read.key).toBe("image.truncated");
        expect(scanned.key).toBe("image.truncated");
      }),
      { numRuns: 300 },
    );
  });

  it("does not consume a value of another type than asked, and describes it", () => {
    const bytes = encoded(["ab", 5, null, new Uint8Array(3), [1, 2]]);
    const c = new WireReader(bytes, 0, bytes.length, "test");
    expect(c.array()).toBe(5);
    const at = c.pos;
    expect(Number.isNaN(c.number())).toBe(true);
    expect(c.bin()).toBeNull();
    expect(c.array()).toBe(-1);
    expect(c.nil()).toBe(false);
    expect(c.pos).toBe(at);
    expect(c.describe()).toBe("a string of 2");
    expect(c.str()).toBe("ab");
    expect(c.describe()).toBe("5");
    c.number();
    expect(c.describe()).toBe("nil");
    c.nil();
    expect(c.describe()).toBe("3 bytes of binary");
    const start = c.binStart();
    expect(c.pos - start).toBe(3);
    expect(c.describe()).toBe("an array of 2");
  });

  it("refuses the types the format does not use, as scan() does", () => {
    // A map, a boolean, a float32 and an ext in place of a number.
    for (const t of [0x80, 0xc2, 0xca, 0xd4]) {
      const bytes = Uint8Array.of(0x91, t, 0, 0, 0, 0);
      const c = new WireReader(bytes, 0, bytes.length, "test");
      c.array();
      expect(Number.isNaN(c.number())).toBe(true);
      expect(c.describe()).toBe(`msgpack type 0x${t.toString(16)}`);
      expect(errorOf(() => c.skip(32)).key).toBe("image.msgpack");
    }
  });
});

describe("decoding with records read in place", () => {
  const nestedBody = (): WireValue[] => unpackBody(validImages()[2]);

  it("re-encodes every valid image to the same bytes", () => {
    for (const img of validImages()) {
      const d = decodeImage(img);
      const again = encodeImage(d.root, d.meta, (x) => d.modules.find((m) => m.digest === x));
      expect(Buffer.compare(again, img)).toBe(0);
    }
  });

  it("names a record of the wrong shape by its place, as before", () => {
    const body = nestedBody();
    (body[4] as WireValue[])[1] = [1, 2, 3];
    const e = errorOf(() => decodeImage(sealValue(body)));
    expect(e.key).toBe("image.shape");
    expect(e.message).toMatch(/expected an array of 25, got an array of 3/);
    expect(e.where).toMatch(/tree record 1/);
  });

  it("names a field of the wrong type by process and field", () => {
    const body = nestedBody();
    ((body[4] as WireValue[])[1] as WireValue[])[F.pc] = "x";
    const e = errorOf(() => decodeImage(sealValue(body)));
    expect(e.key).toBe("image.shape");
    expect(e.message).toMatch(/got a string of 1/);
    expect(e.where).toMatch(/process 0\.1 pc/);
  });

  it("reports a structural fault after the tree as such, even when a tree record is also wrong", () => {
    const body = nestedBody();
    ((body[4] as WireValue[])[1] as WireValue[])[F.pc] = "x";
    const bytes = bodyOf(sealValue(body)).slice();
    // The last byte of the body is in the trace (a link): make the body one byte short of it.
    const e = errorOf(() => decodeImage(sealed(bytes.subarray(0, bytes.length - 1))));
    expect(e.key).toBe("image.truncated");
    // And a type the format does not use in the trace: a float32 where the last link's header is.
    const f = bytes.slice();
    f[f.length - 34] = 0xca;
    expect(errorOf(() => decodeImage(sealed(f))).key).toMatch(/^image\.(msgpack|truncated|trailing)$/);
  });

  it("restores a tree of many processes with every record as it was", () => {
    const mod = load(`.func main 0 2
loop:   PUSH 0
        PUSH 0
        PUSH 1000
        PUSH 1000
        PUSH 0
        PUSH 0
        SPAWN child
        RESUME
        POP
        LINC 1 1
        LGET 1
        PUSH 300
        LT
        JNZ loop
spin:   LINC 0 1
        JMP spin
.func child 0
        PUSH 7
        YIELD
        PUSH 0
        RET
`);
    const s = Session.start(mod, { gas: 200_000, stdout: () => {} });
    expect(s.run().status).toBe("out_of_gas");
    const img = s.snapshot();
    const back = Session.fromImage(img, { stdout: () => {} });
    expect(back.root.children.size).toBe(300);
    for (const [h, c] of back.root.children) {
      const o = s.root.children.get(h);
      expect(o).toBeDefined();
      expect([c.status, c.value, c.pc, c.sp, c.fp, c.memUsed, c.gasUsed]).toEqual([o?.status, o?.value, o?.pc, o?.sp, o?.fp, o?.memUsed, o?.gasUsed]);
      expect(c.stack.subarray(0, c.sp)).toEqual(o?.stack.subarray(0, o.sp));
    }
    expect(Buffer.compare(back.snapshot(), img)).toBe(0);
  });
});

describe("records that repeat their previous sibling", () => {
  const SIBLINGS = `.func main 0 2
loop:   PUSH 0
        PUSH 0
        PUSH 1000
        PUSH 1000
        PUSH 0
        PUSH 0
        SPAWN child
        RESUME
        POP
        LINC 1 1
        LGET 1
        PUSH 5
        LT
        JNZ loop
spin:   LINC 0 1
        JMP spin
.func child 0
        PUSH 7
        YIELD
        PUSH 0
        RET
`;
  const suspended = (): Session => {
    const s = Session.start(load(SIBLINGS), { gas: 20_000, stdout: () => {} });
    expect(s.run().status).toBe("out_of_gas");
    return s;
  };

  it("share the stack and frames of the sibling they repeat until one of them is written", () => {
    const d = decodeImage(suspended().snapshot());
    const kids = d.root.children.list();
    expect(kids.map((k) => k.handle)).toEqual([1, 2, 3, 4, 5]);
    for (let i = 1; i < kids.length; i++) {
      const [a, b] = [kids[i - 1], kids[i]];
      expect([b.status, b.value, b.pc, b.sp, b.fp, b.bp, b.memUsed, b.gasUsed]).toEqual([a.status, a.value, a.pc, a.sp, a.fp, a.bp, a.memUsed, a.gasUsed]);
      expect(b.borrowed && b.stack === a.stack && b.frames === a.frames).toBe(true);
      expect(b.path).toBe(`0.${i + 1}`);
    }
    const [stack0, frame0] = [kids[1].stack[0], kids[1].frames[0]];
    kids[0].own();
    expect(kids[0].stack).not.toBe(kids[1].stack);
    kids[0].stack[0] = 99;
    kids[0].frames[0] = 99;
    expect([kids[1].stack[0], kids[1].frames[0]]).toEqual([stack0, frame0]);
    expect(frame0).toBe(-1);
  });

  it("run as processes of their own once restored: what one writes, its siblings never see", () => {
    const mod = load(`.func main 0 2
spawn:  PUSH 0
        PUSH 1
        PUSH 1000
        PUSH 1000
        PUSH 0
        PUSH 0
        SPAWN child
        RESUME
        POP
        LINC 0 1
        LGET 0
        PUSH 5
        LT
        JNZ spawn
        PUSH 0
        YIELD
        PUSH 0
        LSET 0
run:    LINC 0 1
        PUSH 0
        LGET 0
        PUSH 10
        MUL
        STORE 0
        LGET 0
        PUSH 0
        PUSH 0
        PUSH 1
        CSTORE
        LGET 0
        RESUME
        POP
        LGET 0
        RESULT
        LGET 1
        ADD
        LSET 1
        LGET 0
        PUSH 5
        LT
        JNZ run
        LGET 1
        RET
.func child 0 1
        PUSH 1
        YIELD
        LGET 0
        PUSH 0
        LOAD 0
        ADD
        LSET 0
        LGET 0
        YIELD
        LGET 0
        RET
`);
    const s = Session.start(mod, { gas: 100_000, stdout: () => {} });
    expect(s.run().status).toBe("yielded");
    const img = s.snapshot();
    const back = Session.fromImage(img, { stdout: () => {} });
    expect(back.root.children.list().every((k) => k.borrowed)).toBe(true);
    // Each child adds what the root stored in its memory (10 i) to a local that starts at 0.
    const [a, b] = [s.run(), back.run()];
    expect(b.status).toBe("done");
    expect(b.value).toBe(150);
    expect([b.value, b.gasUsed]).toEqual([a.value, a.gasUsed]);
    expect(back.digest()).toBe(s.digest());
  });

  it("are checked as every record is: a repeated sibling that differs in one field is refused by its own place", () => {
    const s = suspended();
    const body = unpackBody(s.snapshot());
    const tree = body[4] as WireValue[][];
    // Record 3 is child 3; its gasUsed beyond its limit (the others repeat one another around it).
    tree[3][F.gasUsed] = 5000;
    const e = errorOf(() => decodeImage(sealValue(body)));
    expect(e.key).toBe("image.budget");
    expect(e.where).toMatch(/process 0\.3 gasUsed/);
    // A handle out of order after a repeated record is refused as before.
    const body2 = unpackBody(s.snapshot());
    (body2[4] as WireValue[][])[4][F.handle] = 2;
    expect(errorOf(() => decodeImage(sealValue(body2))).key).toBe("image.handle");
  });
});

describe("Children.sum", () => {
  it("is the sum over the living children, holes left out", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1000), fc.boolean()), { maxLength: 40 }), (spec) => {
        const t = new Children<{ handle: number; w: number }>();
        let want = 0;
        spec.forEach(([w, kill], i) => {
          t.set(i + 1, { handle: i + 1, w });
          if (!kill) want += w;
        });
        spec.forEach(([, kill], i) => void (kill && t.delete(i + 1)));
        expect(t.sum((p) => p.w)).toBe(want);
      }),
    );
  });
});

describe("sameRange", () => {
  it("says whether two ranges hold the same bytes, short (a loop) or long (memcmp), and false for a range out of its array", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), fc.nat(300), fc.nat(300), fc.option(fc.nat(299)), (a, aFrom, bFrom, n, flip) => {
        // b holds a's bytes at bFrom (one of them changed, perhaps), so equal ranges are common.
        const b = new Uint8Array(bFrom + a.length);
        b.set(a, bFrom);
        if (flip !== null && flip < a.length) b[bFrom + flip] ^= 1;
        let expected = aFrom + n <= a.length && bFrom + aFrom + n <= b.length;
        for (let i = 0; expected && i < n; i++) expected = a[aFrom + i] === b[bFrom + aFrom + i];
        expect(sameRange(a, aFrom, b, bFrom + aFrom, n)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});

describe("short strings read again (wire.ts shortStrings: kept by length and end bytes)", () => {
  const read = (s: string): string | null => {
    const w = new WireWriter().value(s);
    const b = join(w.parts(), w.length());
    return new WireReader(b, 0, b.length, "t").str();
  };
  // Few letters, so that strings sharing a length and end bytes (one slot) come often; and non-ASCII ones.
  const short = fc.oneof(
    fc.string({ unit: fc.constantFrom("a", "b", "c", "."), maxLength: 34 }),
    fc.string({ unit: fc.constantFrom("a", "é", "\u{1F600}", "z"), maxLength: 12 }),
    fc.string({ maxLength: 33 }),
  );

  it("strings read in any order, each twice, read as themselves", () => {
    fc.assert(
      fc.property(fc.array(short, { minLength: 1, maxLength: 60 }), (list) => {
        for (const s of [...list, ...list.reverse()]) expect(read(s)).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  it("strings of one slot (same length, first and last byte) alternately", () => {
    const same = ["abca", "acba", "aaaa", "abba", "a\u00e9a".normalize("NFD").slice(0, 4)];
    for (let round = 0; round < 3; round++) for (const s of same) expect(read(s)).toBe(s);
  });
});
