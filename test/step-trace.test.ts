import { describe, expect, it } from "vitest";
import { assemble } from "../lang/asm.js";
import { formatInstruction } from "../lang/disasm.js";
import { Session } from "../src/session.js";
import { verify } from "../src/vm/verify.js";

const LOOP = `
.func main 0 1
  PUSH 3
  LSET 0
top:
  LGET 0
  PUSH 0
  GT
  JZ out
  LINC 0 -1
  JMP top
out:
  PUSH 40
  MGROW
  LGET 0
  PUSH 0
  PUSH 0
  PUSH 100
  PUSH 200
  PUSH 0
  PUSH 0
  SPAWN child
  RESUME
  ADD
  RET
.func child 1
  LGET 0
  ADDI 5
  RET
`;

describe("step tracing", () => {
  it("announces every executed instruction once, in every process, and changes nothing", () => {
    const m = verify(assemble(LOOP));
    const plain = Session.start(m, { gas: 1e6 }).run();
    const steps: string[] = [];
    const s = Session.start(m, { gas: 1e6 });
    s.machine.onStep = (p, pc) => steps.push(`${p.path} ${formatInstruction(p.module, pc)}`);
    const traced = s.run();
    expect(traced).toEqual(plain);
    // 2 + 4 * 4 (test) + 3 * 2 (body) + 2 (grow) + 7 pushes + SPAWN RESUME ADD RET in the root; 3 in the child.
    expect(steps.filter((x) => x.startsWith("0 ")).length).toBe(37);
    expect(steps.filter((x) => x.startsWith("0.1 "))).toEqual(["0.1 LGET 0", "0.1 ADDI 5", "0.1 RET"]);
    expect(steps.filter((x) => x.endsWith("MGROW")).length).toBe(1);
  });

  it("stops at the same instruction as an untraced run when gas runs out", () => {
    const m = verify(assemble(LOOP));
    for (let gas = 1; gas < 40; gas++) {
      const untraced = Session.start(m, { gas });
      const plain = untraced.run();
      const s = Session.start(m, { gas });
      s.machine.onStep = () => undefined;
      expect(s.run()).toEqual(plain);
      expect(s.root.pc).toBe(untraced.root.pc);
      expect(s.root.sp).toBe(untraced.root.sp);
    }
  });
});

describe("quickening", () => {
  it("leaves every process exactly as the plain instructions would (fused vs one-at-a-time)", () => {
    const src = `
.func main 0 2
  PUSH 10
  LSET 0
loop:
  LGET 0
  PUSH 0
  GT
  JZ done
  LGET 0
  LGET 1
  ADD
  LSET 1
  LINC 0 -1
  LGET 0
  LGET 1
  LT
  JZ loop
  JMP loop
done:
  LGET 1
  RET
`;
    const m = verify(assemble(src));
    const fused = Session.start(m, { gas: 1e6 });
    const plain = Session.start(m, { gas: 1e6 });
    plain.machine.onStep = () => undefined; // one instruction per dispatch: no fused op ever runs
    expect(fused.run()).toEqual(plain.run());
    for (const k of ["pc", "sp", "bp", "fp", "memSize", "gasUsed", "memUsed"] as const) expect(fused.root[k]).toBe(plain.root[k]);
    expect([...fused.root.stack.subarray(0, fused.root.sp)]).toEqual([...plain.root.stack.subarray(0, plain.root.sp)]);
  });
});

describe("quickened calls", () => {
  const FIB = `
.func main 0 0
  PUSH 0
  LOAD 1
  CALL fib
  RET
.func fib 1
  LGET 0
  PUSH 2
  LT
  JZ rec
  LGET 0
  RET
rec:
  LGET 0
  ADDI -1
  CALL fib
  LGET 0
  ADDI -2
  CALL fib
  ADD
  RET
`;
  it("stop at the same instruction, with the same state, as plain ones for every memory and gas budget", () => {
    const m = verify(assemble(FIB));
    const limits: { gas: number; mem: number }[] = [];
    for (let mem = 20; mem < 120; mem += 3) limits.push({ gas: 1e6, mem });
    for (let gas = 1; gas < 400; gas += 7) limits.push({ gas, mem: 1e6 });
    for (const { gas, mem } of limits) {
      const fused = Session.start(m, { gas, mem, args: [9] });
      const plain = Session.start(m, { gas, mem, args: [9] });
      plain.machine.onStep = () => undefined;
      expect(fused.run()).toEqual(plain.run());
      for (const k of ["pc", "sp", "bp", "fp", "status", "value"] as const) expect(fused.root[k]).toBe(plain.root[k]);
      expect([...fused.root.stack.subarray(0, fused.root.sp)]).toEqual([...plain.root.stack.subarray(0, plain.root.sp)]);
    }
  });
});
