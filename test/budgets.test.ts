// The intentional resource model (DESIGN §2) as scenarios: limits are intents
// enforced up the whole chain; an instruction that does not fit does not
// happen; the shallowest exhausted process stops and its parent gets control;
// a refuel + resume continues straight in the deepest process.

import { describe, expect, it } from "vitest";
import { PROCESS_WORDS } from "../src/process/process.js";
import { describeFault } from "../src/process/report.js";
import { GAS, Op, StatusCode, WIDTH, wordGas } from "../src/vm/opcodes.js";
import { child, gasOf, load, run, runRefueling, start, straightGas } from "./helpers/asm.js";

const ROOT_IDLE = PROCESS_WORDS + 1;
const SPAWN_ARGS = (ptr: number, len: number, gas: number, mem: number, grant = 0, trap = 0): string =>
  `PUSH ${ptr}\n PUSH ${len}\n PUSH ${gas}\n PUSH ${mem}\n PUSH ${grant}\n PUSH ${trap}`;

/** A child that counts to n in a loop and returns n. Costs 2 + 3n + 2 gas... plus its own entry. */
const COUNTER = (name: string, n: number): string => `.func ${name} 0 1
      PUSH ${n}
      LSET 0
    ${name}_top:
      LINC 0 -1
      LGET 0
      JNZ ${name}_top
      PUSH ${n}
      RET`;
const counterGas = (n: number): number => gasOf("PUSH", "LSET") + n * gasOf("LINC", "LGET", "JNZ") + gasOf("PUSH", "RET");

/** A parent that spawns `fn` with the given limits, resumes it once and returns its status * 1000 + (result if done). */
const RELAY = (name: string, fn: string, gas: number, mem: number): string => `.func ${name} 0 1
      ${SPAWN_ARGS(0, 0, gas, mem)}
      SPAWN ${fn}
      LTEE 0
      RESUME
      DUP
      PUSH 1
      EQ
      JZ ${name}_out
      POP
      LGET 0
      RESULT
      RET
    ${name}_out:
      PUSH 1000
      MUL
      RET`;

describe("a parent given less than its child", () => {
  it("the parent is the one that runs out; its frozen child stays ready at the refused instruction", () => {
    const s = start(`${RELAY("main", "mid", 300, 100000)}\n${RELAY("mid", "leaf", 1000000, 100000)}\n${COUNTER("leaf", 1000)}`);
    const r = s.run();
    expect(r.status).toBe("done");
    expect(r.value).toBe(StatusCode.OUT_OF_GAS * 1000);
    const mid = child(s.root, 1);
    const leaf = child(mid, 1);
    expect(mid.status).toBe(StatusCode.OUT_OF_GAS);
    expect(mid.gasUsed).toBeLessThanOrEqual(300);
    expect(mid.gasUsed + mid.need).toBeGreaterThan(300);
    expect(leaf.status).toBe(StatusCode.READY);
    expect(leaf.gasUsed).toBeLessThan(300);
    expect(leaf.gasLimit).toBe(1000000);
    // The parent's total includes everything its child did.
    expect(mid.gasUsed).toBe(straightGas(s.module, "mid") - gasOf("POP", "LGET", "RESULT", "RET", "PUSH", "MUL", "RET", "DUP", "PUSH", "EQ", "JZ") + leaf.gasUsed);
    expect(s.root.gasUsed).toBe(straightGas(s.module, "main") - gasOf("POP", "LGET", "RESULT", "RET") + mid.gasUsed);
  });

  it("the host refuels the root by exactly the need: one instruction runs, in the grandchild", () => {
    // The host is the grandparent: root -> leaf, the root was given less than the leaf.
    const s = start(`${RELAY("main", "leaf", 1000000, 100000)}\n${COUNTER("leaf", 1000)}`, { gas: 200 });
    let r = s.run();
    expect(r.status).toBe("out_of_gas");
    const leaf = child(s.root, 1);
    const rootPc = s.root.pc;
    for (let i = 0; i < 20; i++) {
      const pc = leaf.pc;
      const op = s.module.code[pc];
      expect(s.root.need).toBe(GAS[op]);
      const before = s.root.gasUsed;
      s.session.refuel(s.root.need);
      r = s.session.run();
      expect(r.status).toBe("out_of_gas");
      expect(r.gasUsed).toBe(before + GAS[op]);
      // The leaf made exactly one step; the root did not move from its RESUME.
      const next = op === Op.JNZ ? [pc + WIDTH[op], s.module.code[pc + 1]] : [pc + WIDTH[op]];
      expect(next).toContain(leaf.pc);
      expect(s.root.pc).toBe(rootPc);
      expect(leaf.status).toBe(StatusCode.READY);
    }
    s.session.refuel(1000000);
    r = s.session.run();
    expect(r.status).toBe("done");
    expect(r.value).toBe(1000);
  });

  it("the grandparent refuels the parent in a loop and the grandchild finishes as if never stopped", () => {
    const src = `.func main 0 2
      ${SPAWN_ARGS(0, 0, 100, 100000)}
      SPAWN mid
      LSET 0
    again:
      LGET 0
      RESUME
      PUSH 3
      EQ
      JZ finished
      LINC 1 1
      LGET 0
      PUSH 100
      PUSH 0
      REFUEL
      JMP again
    finished:
      LGET 0
      RESULT
      PUSH 1000
      MUL
      LGET 1
      ADD
      RET
    ${RELAY("mid", "leaf", 1000000, 100000)}
    ${COUNTER("leaf", 500)}`;
    const s = start(src);
    const r = s.run();
    expect(r.status).toBe("done");
    const refuels = r.value! % 1000;
    expect(Math.floor(r.value! / 1000)).toBe(500);
    const mid = child(s.root, 1);
    const leaf = child(mid, 1);
    expect(leaf.gasUsed).toBe(counterGas(500));
    const midGas = straightGas(s.module, "mid") - gasOf("PUSH", "MUL", "RET") + leaf.gasUsed;
    expect(mid.gasUsed).toBe(midGas);
    expect(refuels).toBe(Math.ceil(midGas / 100) - 1);
    expect(mid.gasLimit).toBe(100 * (refuels + 1));
  });

  it("resuming an exhausted child without refueling reports out_of_gas again and moves nothing", () => {
    const s = start(`.func main 0 1
      ${SPAWN_ARGS(0, 0, 50, 100000)}
      SPAWN mid
      LTEE 0
      RESUME
      LGET 0
      RESUME
      LGET 0
      RESUME
      ADD
      ADD
      RET
    ${RELAY("mid", "leaf", 1000000, 100000)}
    ${COUNTER("leaf", 1000)}`);
    const r = s.run();
    expect(r.value).toBe(3 * StatusCode.OUT_OF_GAS);
    const mid = child(s.root, 1);
    expect(mid.gasUsed).toBeLessThanOrEqual(50);
  });
});

describe("exhaustion of several ancestors at once", () => {
  // main -> a (5000) -> b (5000) -> c (1e6); c's MGROW of 160000 words needs 2 + 10000 gas:
  // it fits in neither a nor b. The shallowest (a) stops; main gets control.
  const TREE = (aRefuels: boolean): string => `.func main 0 2
      ${SPAWN_ARGS(0, 0, 5000, 1000000)}
      SPAWN a
      LSET 0
    again:
      LGET 0
      RESUME
      DUP
      YIELD             ; show the host each status main sees
      PUSH 3
      EQ
      JZ finished
      LINC 1 1
      LGET 0
      PUSH 20000
      PUSH 0
      REFUEL
      JMP again
    finished:
      LGET 0
      RESULT
      LGET 1
      PUSH 1000000
      MUL
      ADD
      RET
    .func a 0 2
      ${SPAWN_ARGS(0, 0, 5000, 1000000)}
      SPAWN b
      LSET 0
    a_again:
      LGET 0
      RESUME
      PUSH 3
      EQ
      JZ a_finished
      ${aRefuels ? "" : "TRAP 9"}
      LINC 1 1
      LGET 0
      PUSH 20000
      PUSH 0
      REFUEL
      JMP a_again
    a_finished:
      LGET 0
      RESULT
      LGET 1
      PUSH 1000
      MUL
      ADD
      RET
    ${RELAY("b", "c", 1000000, 1000000)}
    .func c 0 0
      PUSH 160000
      MGROW
      POP
      MSIZE
      RET`;

  it("goes to the parent of the shallowest; everything below it stays frozen and ready", () => {
    const s = start(TREE(true));
    let r = s.run();
    expect(r.status).toBe("yielded");
    expect(r.value).toBe(StatusCode.OUT_OF_GAS);
    const a = child(s.root, 1);
    const b = child(a, 1);
    const c = child(b, 1);
    expect(a.status).toBe(StatusCode.OUT_OF_GAS);
    expect(b.status).toBe(StatusCode.READY);
    expect(c.status).toBe(StatusCode.READY);
    // Both a and b lacked the gas; nothing of the MGROW happened.
    expect(a.gasLimit - a.gasUsed).toBeLessThan(2 + wordGas(160000));
    expect(b.gasLimit - b.gasUsed).toBeLessThan(2 + wordGas(160000));
    expect(a.need).toBe(2 + wordGas(160000));
    expect(c.memSize).toBe(0);
    expect(s.module.code[c.pc]).toBe(Op.MGROW);
    // main refuels a; now only b lacks: b stops and a (its parent) refuels it; c finishes.
    r = s.session.run();
    expect(r.status).toBe("yielded");
    expect(r.value).toBe(StatusCode.DONE);
    expect(b.status).toBe(StatusCode.DONE);
    r = s.session.run();
    expect(r.status).toBe("done");
    expect(r.value).toBe(1 * 1000000 + 1 * 1000 + 160000);
    expect(c.memSize).toBe(160000);
  });

  it("when the root is among the exhausted, the host gets control and the children stay ready", () => {
    const s = start(TREE(false), { gas: 4000 });
    const r = s.run();
    expect(r.status).toBe("out_of_gas");
    const a = child(s.root, 1);
    expect(a.status).toBe(StatusCode.READY);
    expect(child(a, 1).status).toBe(StatusCode.READY);
    expect(child(a, 1, 1).memSize).toBe(0);
  });
});

describe("memory exhaustion", () => {
  const RECURSE = `.func rec 1 1
      LGET 0
      JZ rec_base
      LGET 0
      ADDI -1
      CALL rec
      ADDI 1
      RET
    rec_base:
      PUSH 0
      RET
    .func deep 0 0
      PUSH 60
      CALL rec
      RET`;

  it("a call frame that does not fit in an ancestor stops the shallowest such ancestor; its parent refuels memory and the call is retried", () => {
    const src = `.func main 0 2
      ${SPAWN_ARGS(0, 0, 1000000, 300)}
      SPAWN mid
      LSET 0
    again:
      LGET 0
      RESUME
      PUSH 4
      EQ
      JZ finished
      LINC 1 1
      LGET 0
      PUSH 0
      PUSH 100
      REFUEL
      JMP again
    finished:
      LGET 0
      RESULT
      PUSH 1000
      MUL
      LGET 1
      ADD
      RET
    ${RELAY("mid", "deep", 1000000, 1000000)}
    ${RECURSE}`;
    const s = start(src);
    const r = s.run();
    expect(r.status).toBe("done");
    expect(Math.floor(r.value! / 1000)).toBe(60);
    const refuels = r.value! % 1000;
    const m = s.module;
    const rec = m.functions.findIndex((f) => f.name === "rec");
    const deepI = m.functions.findIndex((f) => f.name === "deep");
    const midI = m.functions.findIndex((f) => f.name === "mid");
    // Peak footprint of mid's subtree: mid (frame) + deep (frame + 61 rec frames).
    const peak = 2 * PROCESS_WORDS + m.frameCost[midI] + m.frameCost[deepI] + 61 * m.frameCost[rec];
    expect(refuels).toBe(Math.ceil((peak - 300) / 100));
    // The recursion's memory was given back; only the two finished processes remain.
    expect(r.memUsed).toBe(ROOT_IDLE + 2 * PROCESS_WORDS);
  });

  it("the refused call leaves the frozen process exactly as it was", () => {
    const s = start(`${RELAY("main", "deep", 1000000, 1000000)}\n${RECURSE}`, { mem: 300 });
    const r = s.run();
    expect(r.status).toBe("out_of_mem");
    const d = child(s.root, 1);
    expect(d.status).toBe(StatusCode.READY);
    expect(s.module.code[d.pc]).toBe(Op.CALL);
    const frames = d.fp;
    const used = r.memUsed;
    expect(used).toBeLessThanOrEqual(300);
    expect(used + s.root.need).toBeGreaterThan(300);
    s.session.refuel(0, s.root.need);
    expect(s.session.run().status).toBe("out_of_mem");
    expect(d.fp).toBe(frames + 3);
  });

  it("MGROW that fits in neither a nor b stops a; b stays ready and memory is unchanged", () => {
    const s = start(`${RELAY("main", "a", 1000000, 1000)}\n${RELAY("a", "b", 1000000, 1000)}\n${RELAY("b", "c", 1000000, 1000000)}
    .func c 0 0
      PUSH 5000
      MGROW
      RET`);
    const r = s.run();
    expect(r.value).toBe(StatusCode.OUT_OF_MEM * 1000);
    const a = child(s.root, 1);
    expect(a.status).toBe(StatusCode.OUT_OF_MEM);
    expect(a.need).toBe(5000);
    expect(child(a, 1).status).toBe(StatusCode.READY);
    expect(child(a, 1, 1).memSize).toBe(0);
  });

  it("a root whose entry frame does not fit stops out_of_mem before running anything", () => {
    const s = start(`.func main 0 0\n PUSH 7\n RET`, { mem: 10 });
    const r = s.run();
    expect(r.status).toBe("out_of_mem");
    expect(r.gasUsed).toBe(0);
    s.session.refuel(0, 100);
    expect(s.session.run().value).toBe(7);
  });

  it("a child whose entry frame does not fit stops out_of_mem; a memory refuel lets it start", () => {
    const r = run(`.func main 0 1
      ${SPAWN_ARGS(0, 0, 1000, PROCESS_WORDS)}
      SPAWN seven
      LTEE 0
      RESUME
      LGET 0
      PUSH 0
      PUSH 10
      REFUEL
      LGET 0
      RESUME
      PUSH 10
      MUL
      ADD
      LGET 0
      RESULT
      PUSH 100
      MUL
      ADD
      RET
    .func seven 0 0
      PUSH 7
      RET`);
    expect(r.value).toBe(StatusCode.OUT_OF_MEM + 10 * StatusCode.DONE + 700);
  });
});

describe("a refused instruction is retried after a refuel with no double effect", () => {
  // Prints, grows memory, spawns (handles count), increments a local and stores: all non-idempotent
  // if repeated. Run with every gas budget k, the host refueling by k each time it stops.
  const src = `.cap io.print
    .func main 0 2
      PUSH 3
      MGROW
      POP
      PUSH 1
      PUSH 104
      STORE 0
      PUSH 2
      PUSH 105
      STORE 0
      PUSH 1
      PUSH 2
      CAP io.print 2
      POP
      LINC 1 5
      ${SPAWN_ARGS(1, 2, 1000, 1000, 1)}
      SPAWN kid
      LSET 0
      LGET 0
      RESUME
      POP
      LINC 1 5
      PUSH 3
      PUSH 3
      LOAD 0
      ADDI 1
      STORE 0
      ${SPAWN_ARGS(0, 0, 0, 0)}
      SPAWN kid
      LGET 0
      RESULT
      ADD
      LGET 1
      ADD
      PUSH 3
      LOAD 0
      ADD
      RET
    .func kid 0 0
      PUSH 0
      PUSH 2
      CAP io.print 2
      POP
      PUSH 1
      MGROW
      RET`;

  it("for every gas budget k the output, result, memory and total gas equal one unbounded run", () => {
    const m = load(src);
    const ref = run(m);
    expect(ref.status).toBe("done");
    expect(ref.out).toBe("hi\nhi\n");
    for (let k = 1; k <= ref.gasUsed + 1; k++) {
      const r = runRefueling(m, k);
      expect(r.out).toBe(ref.out);
      expect(r.value).toBe(ref.value);
      expect(r.gasUsed).toBe(ref.gasUsed);
      expect(r.memUsed).toBe(ref.memUsed);
      expect(r.stops).toBe(Math.ceil(ref.gasUsed / k) - 1);
      expect(r.session.root.children.size).toBe(2);
    }
  });

  it("for every memory budget the output, result, memory and total gas equal one unbounded run", () => {
    const m = load(src);
    const ref = run(m);
    for (let k = 1; k <= ref.memUsed + 60; k++) {
      const s = start(m, { mem: k });
      let r = s.run();
      while (r.status === "out_of_mem") {
        s.session.refuel(0, 1);
        r = s.session.run();
      }
      expect(s.out()).toBe(ref.out);
      expect(r.value).toBe(ref.value);
      expect(r.gasUsed).toBe(ref.gasUsed);
      expect(r.memUsed).toBe(ref.memUsed);
    }
  });
});

describe("faulted processes keep their state", () => {
  it("a child that faults deep in calls keeps pc, stack, frames, memory and footprint; the parent can read them", () => {
    const s = start(`.func main 0 1
      ${SPAWN_ARGS(0, 1, 1000, 1000)}
      SPAWN kid
      LTEE 0
      RESUME
      PUSH 1
      MGROW
      POP
      LGET 0
      PUSH 0
      PUSH 0
      PUSH 1
      CLOAD            ; forensic read of the faulted child's memory
      PUSH 0
      LOAD 0
      PUSH 100
      MUL
      ADD
      RET
    .func kid 0 0
      PUSH 0
      PUSH 42
      STORE 0
      PUSH 5
      CALL f
      RET
    .func f 1 2
      LGET 0
      PUSH 3
      CALL g
      RET
    .func g 2 2
      LGET 0
      LGET 1
      PUSH 0
      DIV
      RET`);
    const r = s.run();
    expect(r.value).toBe(StatusCode.FAULT + 4200);
    const kid = child(s.root, 1);
    expect(kid.status).toBe(StatusCode.FAULT);
    expect(kid.faultKind).toBe("div_by_zero");
    const m = s.module;
    const g = m.functions.findIndex((f) => f.name === "g");
    expect(kid.pc).toBe(m.functions[g].end - 2); // at the DIV
    expect(kid.fp).toBe(9); // kid, f, g
    expect(Array.from(kid.stack.subarray(kid.sp - 2, kid.sp))).toEqual([3, 0]);
    expect(kid.mem[0]).toBe(42);
    const frames = m.frameCost[1] + m.frameCost[2] + m.frameCost[3];
    expect(kid.memUsed).toBe(PROCESS_WORDS + 1 + frames);
    expect(r.memUsed).toBe(ROOT_IDLE + 1 + kid.memUsed);
    const line = describeFault(kid);
    expect(line).toMatch(/fault div_by_zero .* in process 0\.1 in g \(test\.rasm:\d+:\d+\); called from f \(test\.rasm:\d+:\d+\) <- kid/);
  });
});

describe("tree depth", () => {
  it("spawning past the configured maximum depth faults depth_limit in the spawning process only", () => {
    const s = start(
      `.func main 0 1
      ${SPAWN_ARGS(0, 0, 1000000, 1000000)}
      SPAWN main
      LTEE 0
      RESUME
      PUSH 1
      EQ
      JZ out
      LGET 0
      RESULT
      ADDI 1
      RET
    out:
      PUSH 0
      RET`,
      { maxDepth: 10 },
    );
    const r = s.run();
    // The process at depth 10 faults; its parent sees status 2 and returns 0; every level above adds 1.
    expect(r.value).toBe(9);
    const deepest = child(s.root, ...Array<number>(10).fill(1));
    expect(deepest.depth).toBe(10);
    expect(deepest.faultKind).toBe("depth_limit");
    expect(deepest.children.size).toBe(0);
  });
});

describe("host memory follows the charged footprint", () => {
  it("fresh children hold host memory in proportion to what they are charged, whatever their entry frame", () => {
    // 100 fresh children of a function with 65,536 locals: each is charged 16 words until it runs.
    const s = start(`.func main 0 1
      PUSH 100
      LSET 0
    top:
      ${SPAWN_ARGS(0, 0, 10, 100000)}
      SPAWN big
      POP
      LINC 0 -1
      LGET 0
      JNZ top
      PUSH 0
      RET
    .func big 0 65536
      PUSH 0
      RET`);
    const r = s.run();
    expect(r.memUsed).toBe(ROOT_IDLE + 100 * PROCESS_WORDS);
    let held = 0;
    for (const c of s.root.children.values()) held += c.stack.length + c.mem.length + c.frames.length;
    expect(held).toBeLessThanOrEqual(8 * r.memUsed);
  });
});
