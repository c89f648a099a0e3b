// Machine.spawnChild / respawnChild / killChild: the host spawns, runs,
// starts over and kills children of a process that is not running (the GP
// evaluator runs every evaluation this way). A child so run must stop, and be
// charged, exactly as the same program run alone under the same limits, and
// leave its parent as it found it once killed, recycled or not; a child
// started over runs as a fresh spawn of it would.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RarError } from "../src/vm/errors.js";
import { PROCESS_WORDS } from "../src/process/process.js";
import { Machine } from "../src/process/scheduler.js";
import { StatusCode } from "../src/vm/opcodes.js";
import { load } from "./helpers/asm.js";

const PROGRAMS = {
  // Sum of the memory block's words: done.
  sum: load(`.func main 0 2
  PUSH 0
  MSIZE
  LSET 0
top:
  LGET 0
  JZ end
  LINC 0 -1
  LGET 0
  LOAD 0
  LGET 1
  ADD
  LSET 1
  JMP top
end:
  LGET 1
  RET`),
  // Grows its memory, writes past the block, recurses once: done.
  grow: load(`.func main 0 1
  PUSH 40
  MGROW
  POP
  PUSH 5
  PUSH 33
  STORE 0
  CALL 1
  RET
.func f 0 1
  PUSH 0
  LOAD 5
  RET`),
  loop: load(`.func main 0 1
top:
  LINC 0 1
  JMP top`),
  alloc: load(`.func main 0 1
top:
  PUSH 64
  MGROW
  POP
  JMP top`),
  recurse: load(`.func main 0 4
  CALL 0
  RET`),
  fault: load(`.func main 0 1
  PUSH 1
  PUSH 0
  DIV
  RET`),
};

type Name = keyof typeof PROGRAMS;

/** The program run alone as a root on a copy of `words`. */
function alone(name: Name, words: Int32Array, limits: { gas: number; mem: number }) {
  const machine = new Machine();
  const root = machine.createRoot(PROGRAMS[name], 0, [], limits, [], words.slice());
  machine.run(root);
  return { status: root.status, value: root.value, gas: root.gasUsed, mem: root.memUsed, memory: Array.from(root.mem.subarray(0, root.memSize)) };
}

const refused = (f: () => unknown, kind: string): void => {
  let e: unknown;
  try {
    f();
  } catch (x) {
    e = x;
  }
  expect(e).toBeInstanceOf(RarError);
  expect((e as RarError).key).toBe(kind);
};

describe("a child the host spawns", () => {
  it("stops and is charged exactly as the same program alone, and its parent is left as it was", () => {
    const names = Object.keys(PROGRAMS) as Name[];
    fc.assert(
      fc.property(
        fc.array(fc.record({ name: fc.constantFrom(...names), words: fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 12 }), gas: fc.integer({ min: 0, max: 3000 }), mem: fc.integer({ min: 90, max: 2000 }) }), { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        (runs, recycle) => {
          const machine = new Machine({ recycle });
          const parent = machine.createRoot(PROGRAMS.sum, 0, [], { gas: 10_000_000, mem: 1_000_000 });
          const base = parent.memUsed;
          let gas = parent.gasUsed;
          let handle = 1;
          for (const r of runs) {
            const words = Int32Array.from([0, 0, ...r.words]);
            const child = machine.spawnChild(parent, PROGRAMS[r.name], 0, words, 2, r.words.length, r);
            expect(child.handle).toBe(handle++);
            expect(child.parent).toBe(parent);
            expect(machine.run(child)).toBe("stopped");
            const a = alone(r.name, words.subarray(2), r);
            expect({ status: child.status, value: child.value, gas: child.gasUsed, mem: child.memUsed, memory: Array.from(child.mem.subarray(0, child.memSize)) }).toEqual(a);
            // The child's gas and footprint are its parent's too while it lives.
            gas += child.gasUsed;
            expect(parent.gasUsed).toBe(gas);
            expect(parent.memUsed).toBe(base + child.memUsed);
            machine.killChild(child);
            expect(parent.memUsed).toBe(base);
            expect(parent.children.size).toBe(0);
          }
          // The parent never ran and can still run its own program.
          expect(parent.status).toBe(StatusCode.READY);
          machine.run(parent);
          expect(parent.status).toBe(StatusCode.DONE);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("is charged its footprint on spawn, as SPAWNX charges it", () => {
    const machine = new Machine();
    const parent = machine.createRoot(PROGRAMS.sum, 0, [], { gas: 1000, mem: 10_000 });
    const base = parent.memUsed;
    const child = machine.spawnChild(parent, PROGRAMS.fault, 0, Int32Array.from([1, 2, 3]), 0, 3, { gas: 100, mem: 500 });
    expect(child.memUsed).toBe(PROCESS_WORDS + 3);
    expect(parent.memUsed).toBe(base + PROCESS_WORDS + 3);
    expect(Array.from(child.mem.subarray(0, child.memSize))).toEqual([1, 2, 3]);
  });

  it("is refused with a one-line usage error: an entry with parameters, a block outside the words, no room in the parent", () => {
    const machine = new Machine();
    const parent = machine.createRoot(PROGRAMS.sum, 0, [], { gas: 1000, mem: PROCESS_WORDS + 200 });
    const takes = load(`.func main 0 1
  PUSH 0
  RET
.func f 1 1
  LGET 0
  RET`);
    refused(() => machine.spawnChild(parent, takes, 1, new Int32Array(4), 0, 4, { gas: 10, mem: 200 }), "usage.arity");
    refused(() => machine.spawnChild(parent, takes, 2, new Int32Array(4), 0, 4, { gas: 10, mem: 200 }), "usage.arity");
    refused(() => machine.spawnChild(parent, takes, 0, new Int32Array(4), 2, 3, { gas: 10, mem: 200 }), "usage.bad_address");
    refused(() => machine.spawnChild(parent, takes, 0, new Int32Array(400), 0, 400, { gas: 10, mem: 2000 }), "usage.bad_number");
    expect(parent.children.size).toBe(0);
    const child = machine.spawnChild(parent, takes, 0, new Int32Array(4), 0, 4, { gas: 10, mem: 200 });
    machine.killChild(child);
    refused(() => machine.killChild(child), "usage.no_process");
  });
});

describe("a child the host starts over", () => {
  it("runs each block as a fresh spawn would: same stop, charges and memory, its parent charged for the current run only", () => {
    const names = Object.keys(PROGRAMS) as Name[];
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.array(fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 12 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 90, max: 2000 }),
        fc.boolean(),
        (name, blocks, gas, mem, recycle) => {
          const machine = new Machine({ recycle });
          const parent = machine.createRoot(PROGRAMS.sum, 0, [], { gas: 10_000_000, mem: 1_000_000 });
          const base = parent.memUsed;
          let used = parent.gasUsed;
          let child = null as ReturnType<Machine["spawnChild"]> | null;
          for (const b of blocks) {
            const words = Int32Array.from([7, ...b, 7]);
            if (child === null) child = machine.spawnChild(parent, PROGRAMS[name], 0, words, 1, b.length, { gas, mem });
            else machine.respawnChild(child, words, 1, b.length);
            expect(child.handle).toBe(1);
            expect(machine.run(child)).toBe("stopped");
            const a = alone(name, words.subarray(1, 1 + b.length), { gas, mem });
            expect({ status: child.status, value: child.value, gas: child.gasUsed, mem: child.memUsed, memory: Array.from(child.mem.subarray(0, child.memSize)) }).toEqual(a);
            used += child.gasUsed;
            expect(parent.gasUsed).toBe(used);
            expect(parent.memUsed).toBe(base + child.memUsed);
            expect(parent.children.size).toBe(1);
          }
          machine.killChild(child as NonNullable<typeof child>);
          expect(parent.memUsed).toBe(base);
          machine.run(parent);
          expect(parent.status).toBe(StatusCode.DONE);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("is refused with a one-line usage error: not stopped, not a child, a block outside the words, no room in the parent", () => {
    const machine = new Machine();
    const parent = machine.createRoot(PROGRAMS.sum, 0, [], { gas: 10_000, mem: PROCESS_WORDS * 2 + 100 });
    const child = machine.spawnChild(parent, PROGRAMS.fault, 0, new Int32Array(4), 0, 4, { gas: 100, mem: 500 });
    refused(() => machine.respawnChild(child, new Int32Array(4), 0, 4), "usage.not_ready");
    machine.run(child);
    const before = parent.memUsed;
    refused(() => machine.respawnChild(child, new Int32Array(4), 2, 3), "usage.bad_address");
    refused(() => machine.respawnChild(child, new Int32Array(400), 0, 400), "usage.bad_number");
    refused(() => machine.respawnChild(parent, new Int32Array(4), 0, 4), "usage.no_process");
    // A refusal changed nothing: the child is still the stopped one, charged as before.
    expect(child.status).toBe(StatusCode.FAULT);
    expect(parent.memUsed).toBe(before);
    machine.respawnChild(child, Int32Array.from([1, 2]), 0, 2);
    expect(child.status).toBe(StatusCode.READY);
    expect(child.memUsed).toBe(PROCESS_WORDS + 2);
    machine.killChild(child);
    refused(() => machine.respawnChild(child, new Int32Array(4), 0, 4), "usage.no_process");
  });
});
