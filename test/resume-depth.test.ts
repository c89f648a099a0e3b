// RESUME pays for the chain it switches across (spec/isa.md, levelGas in
// src/vm/opcodes.ts): each switch settles and loads the counters of every
// process above the one it goes to, so a resume to a process deeper than
// FREE_LEVELS costs GAS_PER_LEVEL gas a level beyond it. Without it a guest
// 4,000 deep ping-ponging with a child held the host some 200 times longer
// per unit of gas than the same loop near the root.

import { describe, expect, it } from "vitest";
import { FREE_LEVELS, GAS_PER_LEVEL, levelGas } from "../src/vm/opcodes.js";
import { load, start } from "./helpers/asm.js";

/** A chain of `depth` processes below the root's; the deepest resumes a child that yields, `n` times. */
function pingPong(depth: number, n: number): string {
  return `.func main 0 0
  PUSH 0
  CALL lvl
  RET
.func lvl 1 2
  LGET 0
  PUSH ${depth}
  GE
  JNZ leaf
  LGET 0
  ADDI 1
  PUSH 0
  PUSH 0
  PUSH 1000000000
  PUSH 100000000
  PUSH 0
  PUSH 0
  SPAWN lvl
  DUP
  RESUME
  POP
  RESULT
  RET
leaf:
  PUSH 0
  PUSH 0
  PUSH 1000000000
  PUSH 1000000
  PUSH 0
  PUSH 0
  SPAWN pinger
  LSET 1
  PUSH ${n}
  LSET 0
loop:
  LGET 1
  RESUME
  POP
  LINC 0 -1
  LGET 0
  JNZ loop
  PUSH 7
  RET
.func pinger 0 0
top:
  PUSH 1
  YIELD
  JMP top`;
}

function gasOf(depth: number, n: number, jit = false): number {
  const r = start(load(pingPong(depth, n)), { gas: 1e12, mem: 1e9, record: false, tiering: { enabled: jit, warmGas: 0 } }).run();
  expect(r.status).toBe("done");
  expect(r.value).toBe(7);
  return r.gasUsed;
}

describe("RESUME's gas grows with the depth it switches to", () => {
  it("levelGas: nothing up to FREE_LEVELS, then GAS_PER_LEVEL a level", () => {
    expect(levelGas(0)).toBe(0);
    expect(levelGas(FREE_LEVELS)).toBe(0);
    expect(levelGas(FREE_LEVELS + 1)).toBe(GAS_PER_LEVEL);
    expect(levelGas(4096)).toBe((4096 - FREE_LEVELS) * GAS_PER_LEVEL);
  });

  it("a ping-pong 200 deep pays levelGas of the child's depth per resume; 10 deep, nothing more", () => {
    const n = 50;
    const near = gasOf(10, 2 * n) - gasOf(10, n);
    const deep = gasOf(200, 2 * n) - gasOf(200, n);
    // The child the deepest process resumes is one level below it: depth 201.
    expect(deep - near).toBe(n * levelGas(201));
    expect(gasOf(200, n, true)).toBe(gasOf(200, n));
  });

  it("run in slices of a little gas, refueled each time, it ends as one run: a resume short of its level gas stops before it", () => {
    const m = load(pingPong(120, 5));
    const whole = start(m, { gas: 1e12, mem: 1e9, record: false }).run();
    for (const k of [7, 50, 133]) {
      const s = start(m, { gas: k, mem: 1e9, record: false });
      let r = s.run();
      let stops = 0;
      while (r.status === "out_of_gas") {
        s.session.refuel(k);
        r = s.session.run();
        stops++;
      }
      expect(r.status).toBe("done");
      expect(r.value).toBe(whole.value);
      expect(r.gasUsed).toBe(whole.gasUsed);
      expect(stops).toBeGreaterThan(0);
    }
  });
});
