// Host-side economies of the process layer must be invisible: the children
// table behaves as a Map in handle order, a recycled process starts exactly
// like a new one, and a machine that recycles killed children runs every
// program exactly like one that does not.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Children, Process, PROCESS_WORDS, RecycleBin, REUSE_KEEP } from "../src/process/process.js";
import { Machine } from "../src/process/scheduler.js";
import type { Module } from "../src/vm/module.js";
import { StatusCode } from "../src/vm/opcodes.js";
import { load } from "./helpers/asm.js";

describe("the children table", () => {
  it("answers like a Map filled in handle order, whatever is added and removed", () => {
    // Ops: true = add the next handle, a number = delete (or look up) that handle.
    const op = fc.oneof(fc.constant<true>(true), fc.integer({ min: 0, max: 40 }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const table = new Children();
        const model = new Map<number, Process>();
        const parent = new Process(FRESH, 0, [], new Int32Array(0), 1, 1, [], [], null, 0);
        let next = 1;
        for (const o of ops) {
          if (o === true) {
            const p = new Process(FRESH, 0, [], new Int32Array(0), 1, 1, [], [], parent, next);
            table.set(next, p);
            model.set(next, p);
            next++;
          } else {
            expect(table.get(o)).toBe(model.get(o));
            expect(table.has(o)).toBe(model.has(o));
            expect(table.delete(o)).toBe(model.delete(o));
          }
          expect(table.size).toBe(model.size);
        }
        expect([...table.keys()]).toEqual([...model.keys()]);
        expect([...table.values()]).toEqual([...model.values()]);
        expect([...table]).toEqual([...model]);
      }),
    );
  });

  it("keeps handle order when a handle arrives out of order", () => {
    const t = new Children();
    const p = (h: number): Process => new Process(FRESH, 0, [], new Int32Array(0), 1, 1, [], [], null, h);
    t.set(5, p(5)).set(2, p(2)).set(9, p(9)).set(7, p(7));
    expect([...t.keys()]).toEqual([2, 5, 7, 9]);
    expect(t.get(7)?.handle).toBe(7);
  });
});

const FRESH: Module = load(`.func main 0 2
  PUSH 7
  RET`);

describe("a reused process", () => {
  it("starts exactly as a new one would", () => {
    const m = load(`.func main 0 3
  PUSH 100
  MGROW
  POP
  LGET 0
  RET
.func f 2 5
  LGET 0
  LGET 1
  ADD
  RET`);
    const parent = new Process(m, 0, [], Int32Array.from([9, 8, 7, 6, 5, 4, 3, 2]), 1000, 1000, [], [], null, 0);
    // A used process: run main to the end (memory grown, frames pushed and popped), with odd state left over.
    const used = new Process(m, 0, [], Int32Array.from([1, 2, 3]), 50, 400, ["x"], ["y"], parent, 1);
    const machine = new Machine();
    const root = machine.createRoot(m, 0, [], { gas: 1000, mem: 1000 });
    machine.run(root);
    used.mem = root.mem;
    used.memSize = root.memSize;
    used.stack = root.stack;
    used.frames = root.frames;
    Object.assign(used, { status: StatusCode.FAULT, value: 3, faultKind: "trap", faultDetail: "x", need: 4, answer: 5, waiting: 6, pc: 7, sp: 2, bp: 1, fp: 3, gasUsed: 9, memUsed: 10, nextHandle: 4 });
    used.inbox = Int32Array.of(1);
    used.request = { cap: "c", args: [] };
    used.reuse(m, 1, Int32Array.from([0, 0, 20, 22]), 2, 2, parent.mem, 3, 4, 77, 88, [], [], parent, 2, 64);
    const fresh = new Process(m, 1, [20, 22], parent.mem.slice(3, 7), 77, 88, [], [], parent, 2);
    const { stack, frames, mem, children, ...rest } = used as unknown as Record<string, unknown> & Process;
    const { stack: fs, frames: ff, mem: fm, children: fc2, ...freshRest } = fresh as unknown as Record<string, unknown> & Process;
    expect(rest).toEqual(freshRest);
    expect(Array.from(stack.subarray(0, used.sp))).toEqual(Array.from(fs.subarray(0, fresh.sp)));
    expect(Array.from(mem.subarray(0, used.memSize))).toEqual(Array.from(fm));
    // Memory past its size reads as zeros (MGROW relies on it).
    expect(mem.subarray(used.memSize).every((w) => w === 0)).toBe(true);
    expect(children.size).toBe(0);
    expect(fc2.size).toBe(0);
    expect(frames.length).toBeGreaterThanOrEqual(ff.length > 0 ? 3 : 0);
  });
});

// A parent that spawns children of every kind (finish, grow memory, recurse
// until out of memory, loop until out of gas, fault, nested spawn), reads what
// they did and kills them, many times; it returns a checksum of everything it
// saw. Recycling must not change one word of it.
const PARENT = `.func main 0 4
  PUSH 64
  MGROW
  POP
  PUSH 60
  LSET 0
top:
  LGET 0
  JZ done
  LGET 0
  PUSH 6
  REM
  LSET 1
  LGET 1
  PUSH 0
  PUSH 8
  PUSH 300
  PUSH 600
  PUSH 0
  PUSH 0
  SPAWN kid
  LTEE 2
  RESUME
  LGET 3
  ADD
  GASLEFT
  ADD
  MEMLEFT
  ADD
  LSET 3
  LGET 2
  STATUS
  PUSH 1
  EQ
  JZ kill
  LGET 3
  LGET 2
  RESULT
  ADD
  LGET 2
  CSIZE
  ADD
  LSET 3
kill:
  LGET 2
  KILL
  LINC 0 -1
  JMP top
done:
  LGET 3
  RET
.func kid 1 2
  LGET 0
  JZ plain
  LGET 0
  PUSH 1
  EQ
  JNZ grow
  LGET 0
  PUSH 2
  EQ
  JNZ deep
  LGET 0
  PUSH 3
  EQ
  JNZ spin
  LGET 0
  PUSH 4
  EQ
  JNZ fault
  PUSH 0
  PUSH 0
  PUSH 50
  PUSH 50
  PUSH 0
  PUSH 0
  SPAWN leaf
  RESUME
  RET
plain:
  PUSH 0
  LOAD 3
  RET
grow:
  PUSH 40
  MGROW
  RET
deep:
  CALL rec
  RET
spin:
  JMP spin
fault:
  PUSH 1
  PUSH 0
  DIV
  RET
.func rec 0 0
  CALL rec
  RET
.func leaf 0 0
  PUSH 5
  RET`;

describe("a machine that recycles killed children", () => {
  it("runs a parent of every kind of child exactly as a machine that does not", () => {
    const m = load(PARENT);
    const run = (recycle: boolean): Process => {
      const machine = new Machine({ recycle });
      const root = machine.createRoot(m, 0, [], { gas: 1_000_000, mem: 100_000 }, [], Int32Array.from({ length: 12 }, (_, i) => i * 3));
      machine.run(root);
      return root;
    };
    const plain = run(false);
    const recycled = run(true);
    expect(plain.status).toBe(StatusCode.DONE);
    expect(recycled.status).toBe(plain.status);
    expect(recycled.value).toBe(plain.value);
    expect(recycled.gasUsed).toBe(plain.gasUsed);
    expect(recycled.memUsed).toBe(plain.memUsed);
    expect(recycled.memUsed).toBe(PROCESS_WORDS + 12 + 64);
    expect(Array.from(recycled.mem.subarray(0, recycled.memSize))).toEqual(Array.from(plain.mem.subarray(0, plain.memSize)));
  });

  // The same parent with the children's gas and memory limits drawn at random: a recycled
  // child keeps buffers up to its memory limit, so every limit must still run the same.
  it("runs the same parent exactly alike for children of any gas and memory limit", () => {
    expect(PARENT).toContain("PUSH 300\n  PUSH 600");
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 20_000 }), (gas, mem) => {
        const m = load(PARENT.replace("PUSH 300\n  PUSH 600", `PUSH ${gas}\n  PUSH ${mem}`));
        const run = (recycle: boolean): Machine & { root: Process } => {
          const machine = new Machine({ recycle });
          const root = machine.createRoot(m, 0, [], { gas: 10_000_000, mem: 1_000_000 }, [], Int32Array.from({ length: 12 }, (_, i) => i * 3));
          machine.run(root);
          return Object.assign(machine, { root });
        };
        const plain = run(false).root;
        const machine = run(true);
        const recycled = machine.root;
        expect(recycled.status).toBe(plain.status);
        expect(recycled.value).toBe(plain.value);
        expect(recycled.gasUsed).toBe(plain.gasUsed);
        expect(recycled.memUsed).toBe(plain.memUsed);
        // What the bin keeps for later spawns is bounded, whatever the children grew to.
        for (const p of machine.recycled?.kept ?? []) for (const b of [p.stack, p.frames, p.mem]) expect(b.length).toBeLessThanOrEqual(REUSE_KEEP);
      }),
      { numRuns: 40 },
    );
  });

  it("lets one live reused child at a time keep roomy buffers, up to its memory limit", () => {
    const m = load(PARENT);
    const parent = new Process(m, 0, [], new Int32Array(8), 1000, 1000, [], [], null, 0);
    const bin = new RecycleBin();
    const a = new Process(m, 0, [], new Int32Array(0), 1, 1, [], [], parent, 1);
    const b = new Process(m, 0, [], new Int32Array(0), 1, 1, [], [], parent, 2);
    expect(bin.room(a, 100)).toBe(100);
    // a is live (its parent holds it): b gets the plain slack, whatever its limit.
    expect(bin.room(b, 5000)).toBe(64);
    a.parent = null; // killed
    expect(bin.room(b, 5000)).toBe(REUSE_KEEP);
    expect(bin.room(a, 10)).toBe(64);
    // reuse drops buffers with more room than it is given, keeps those within it.
    const used = new Process(m, 0, [], new Int32Array(0), 1, 1, [], [], null, 1);
    used.stack = new Int32Array(2000);
    used.frames = new Int32Array(2000);
    used.mem = new Int32Array(2000);
    used.memSize = 2000;
    used.reuse(m, 1, Int32Array.of(1), 0, 1, parent.mem, 0, 4, 100, 100, [], [], parent, 1, 100);
    expect(used.stack.length).toBeLessThanOrEqual(1 + 100);
    expect(used.frames.length).toBeLessThanOrEqual(100);
    expect(used.mem.length).toBeLessThanOrEqual(4 + 100);
    const roomy = new Process(m, 0, [], new Int32Array(0), 1, 1, [], [], null, 1);
    const big = new Int32Array(2000);
    roomy.stack = big;
    roomy.reuse(m, 1, Int32Array.of(1), 0, 1, parent.mem, 0, 4, 100, 5000, [], [], parent, 1, REUSE_KEEP);
    expect(roomy.stack).toBe(big);
  });
});
