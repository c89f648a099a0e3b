// Parked processes (Process.park): a stopped child holding only its bottom
// frame gives its stack and frame buffers to the machine's spare ones and
// keeps shared forms of them, once 16 other children stopped after it. Nothing
// a guest or an image can see changes: these tests pin that down, and what
// the host then holds per child.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NO_WORDS, Process, SpareBuffers } from "../src/process/process.js";
import { Session } from "../src/session.js";
import { StatusCode } from "../src/vm/opcodes.js";
import { load } from "./helpers/asm.js";

/** Children the machine keeps unparked after they stop (scheduler.ts UNPARKED). */
const UNPARKED = 16;

/**
 * A root that spawns `kinds.length` children (kind "mem": no locals, its
 * count in memory, so it parks with an empty stack; kind "local": its count
 * in a local, so only its frames park), resumes them in `order`, folds every
 * yielded value into acc = (acc ^ v) + 7, yields acc after `half` resumes,
 * then resumes the rest and returns acc. A child yields id * 1000 + count,
 * from its bottom frame when count is odd and from a call when it is even.
 */
function program(kinds: readonly ("mem" | "local")[], order: readonly number[], half: number): string {
  const k = kinds.length;
  const resumes = (hs: readonly number[]): string =>
    hs.map((h) => `  PUSH ${h}\n  RESUME\n  POP\n  LGET 0\n  PUSH ${h}\n  RESULT\n  XOR\n  ADDI 7\n  LSET 0`).join("\n");
  const value = (count: string): string => `  PUSH 0\n  LOAD 0\n  PUSH 1000\n  MUL\n${count}\n  ADD`;
  return `.func main 0 1
  PUSH ${k + 1}
  MGROW
  POP
${kinds.map((_, i) => `  PUSH ${i + 1}\n  PUSH ${i + 1}\n  STORE 0`).join("\n")}
${kinds.map((kind, i) => `  PUSH ${i + 1}\n  PUSH 1\n  PUSH 1000000000\n  PUSH 100000\n  PUSH 0\n  PUSH 0\n  SPAWN ${kind === "mem" ? "cmem" : "clocal"}\n  POP`).join("\n")}
${resumes(order.slice(0, half))}
  LGET 0
  YIELD
${resumes(order.slice(half))}
  LGET 0
  RET

.func cmem 0 0
  PUSH 1
  MGROW
  POP
top:
  PUSH 1
  PUSH 1
  LOAD 0
  ADDI 1
  STORE 0
  PUSH 1
  LOAD 0
  PUSH 1
  AND
  JZ deep
${value("  PUSH 1\n  LOAD 0")}
  YIELD
  JMP top
deep:
${value("  PUSH 1\n  LOAD 0")}
  CALL y
  POP
  JMP top

.func clocal 0 1
top:
  LINC 0 1
  LGET 0
  PUSH 1
  AND
  JZ deep
${value("  LGET 0")}
  YIELD
  JMP top
deep:
${value("  LGET 0")}
  CALL y
  POP
  JMP top

.func y 1 1
  LGET 0
  YIELD
  PUSH 0
  RET
`;
}

/** acc after the first `n` resumes of `order` (the model the program must agree with). */
function model(order: readonly number[], n: number): number {
  const counts = new Map<number, number>();
  let acc = 0;
  for (const h of order.slice(0, n)) {
    const c = (counts.get(h) ?? 0) + 1;
    counts.set(h, c);
    acc = ((acc ^ (h * 1000 + c)) + 7) | 0;
  }
  return acc;
}

const OPTS = { gas: 1e12, mem: 1 << 24 };

const caseArb = fc
  .integer({ min: 1, max: 40 })
  .chain((k) =>
    fc.record({
      kinds: fc.array(fc.constantFrom<"mem" | "local">("mem", "local"), { minLength: k, maxLength: k }),
      // Several resumes per child, so children parked by 16 others stopping are resumed again.
      order: fc.array(fc.integer({ min: 1, max: k }), { minLength: 3 * k, maxLength: 5 * k }),
    }),
  )
  .chain(({ kinds, order }) => fc.record({ kinds: fc.constant(kinds), order: fc.constant(order), half: fc.integer({ min: 0, max: order.length }) }));

describe("parked children", () => {
  it("resume in any order as if they had kept their buffers (results agree with the model, before and after a snapshot)", () => {
    fc.assert(
      fc.property(caseArb, ({ kinds, order, half }) => {
        const s = Session.start(load(program(kinds, order, half)), OPTS);
        const first = s.run();
        expect(first.status).toBe("yielded");
        expect(first.value).toBe(model(order, half));
        // Restored from an image taken with parked children, and the original: both end alike.
        const restored = Session.fromImage(s.snapshot(), OPTS);
        const end = s.run();
        const end2 = restored.run();
        expect(end.status).toBe("done");
        expect(end.value).toBe(model(order, order.length));
        expect([end2.status, end2.value, end2.gasUsed, end2.memUsed]).toEqual([end.status, end.value, end.gasUsed, end.memUsed]);
      }),
      { numRuns: 60 },
    );
  });

  it("change no byte of an image: the snapshot is the same once every child owns its buffers again", () => {
    fc.assert(
      fc.property(caseArb, ({ kinds, order, half }) => {
        const s = Session.start(load(program(kinds, order, half)), OPTS);
        expect(s.run().status).toBe("yielded");
        const parked = s.snapshot();
        for (const c of s.root.children.values()) c.own();
        expect(s.root.children.list().some((c) => c.borrowed)).toBe(false);
        expect(Buffer.from(s.snapshot()).equals(Buffer.from(parked))).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it("hold no buffer of their own: all but the last 16 stopped share one bottom frame and the empty stack", () => {
    const k = 100;
    const order = Array.from({ length: k }, (_, i) => i + 1);
    const s = Session.start(load(program(new Array<"mem">(k).fill("mem"), order, k)), OPTS);
    expect(s.run().status).toBe("yielded");
    const kids = s.root.children.list();
    const parked = kids.filter((c) => c.borrowed);
    expect(parked.length).toBe(k - UNPARKED);
    // The last UNPARKED to stop are the ones not parked.
    expect(kids.slice(k - UNPARKED).every((c) => !c.borrowed)).toBe(true);
    for (const c of parked) {
      expect(c.status).toBe(StatusCode.YIELDED);
      expect(c.stack).toBe(NO_WORDS);
      expect(c.frames).toBe(parked[0].frames);
      expect([...c.frames]).toEqual([-1, 0, c.entryFn]);
    }
  });
});

describe("a killed subtree", () => {
  it("is let go by the machine: none of its stopped processes stays among the unparked ones", () => {
    const s = Session.start(
      load(`.func main 0 0
  PUSH 0
  PUSH 0
  PUSH 100000
  PUSH 100000
  PUSH 0
  PUSH 0
  SPAWN c
  RESUME
  POP
  PUSH 0
  YIELD
  PUSH 1
  KILL
  PUSH 0
  YIELD
  PUSH 0
  RET
.func c 0 0
  PUSH 0
  PUSH 0
  PUSH 1000
  PUSH 1000
  PUSH 0
  PUSH 0
  SPAWN g
  RESUME
  POP
  PUSH 0
  YIELD
  PUSH 0
  RET
.func g 0 0
  PUSH 0
  YIELD
  PUSH 0
  RET`),
      OPTS,
    );
    expect(s.run().status).toBe("yielded");
    const c = s.root.children.get(1) as Process;
    const g = c.children.get(1) as Process;
    expect([c.unparked, g.unparked]).toEqual([true, true]);
    expect(s.run().status).toBe("yielded");
    expect(s.root.children.size).toBe(0);
    expect([c.unparked, g.unparked]).toEqual([false, false]);
    // Let go parked: what they held went to the spare buffers.
    expect([c.borrowed, g.borrowed]).toEqual([true, true]);
  });
});

describe("the spare buffers", () => {
  it("keep at most 8 buffers of at most 256 words, and give one that fits or a new one", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 600 }), { maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 20 }), (given, wanted) => {
        const spare = new SpareBuffers();
        const arrays = given.map((n) => new Int32Array(n));
        for (const a of arrays) spare.give(a);
        expect(spare.size).toBe(Math.min(8, given.filter((n) => n > 0 && n <= 256).length));
        const taken = new Set<Int32Array>();
        for (const min of wanted) {
          const a = spare.take(min);
          // Room enough, not much more (REUSE_SLACK), and never handed out twice.
          expect(a.length).toBeGreaterThanOrEqual(min);
          expect(a.length).toBeLessThanOrEqual(min + 64);
          expect(taken.has(a)).toBe(false);
          taken.add(a);
        }
      }),
    );
  });
});

describe("Process.bits", () => {
  it("keeps status, depth, borrowed and unparked apart, whatever is set in whatever order", () => {
    const m = load(".func main 0 0\n  PUSH 0\n  RET");
    const field = fc.oneof(
      fc.record({ status: fc.integer({ min: 0, max: 6 }) }),
      fc.record({ depth: fc.integer({ min: 0, max: 1 << 20 }) }),
      fc.record({ borrowed: fc.boolean() }),
      fc.record({ unparked: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(field, { maxLength: 30 }), (sets) => {
        const p = new Process(m, 0, [], new Int32Array(0), 1, 1, [], [], null, 0);
        const want = { status: StatusCode.READY as number, depth: 0, borrowed: false, unparked: false };
        for (const x of sets) {
          Object.assign(p, x);
          Object.assign(want, x);
        }
        expect({ status: p.status, depth: p.depth, borrowed: p.borrowed, unparked: p.unparked }).toEqual(want);
      }),
    );
  });
});
