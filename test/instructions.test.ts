// One group of instructions per describe block: what each does, what it
// faults on, and exactly how much gas and memory it is charged (OPS[op].gas,
// plus ceil(n/16) per n words moved by bulk instructions).

import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assemble } from "../lang/asm.js";
import { PROCESS_WORDS } from "../src/process/process.js";
import { encodeModule } from "../src/vm/module.js";
import { OPS, Op, StatusCode, wordGas } from "../src/vm/opcodes.js";
import { child, gasOf, load, run, start, straightGas } from "./helpers/asm.js";

/** Root footprint when done with no children: bookkeeping + the args array [0]. */
const ROOT_IDLE = PROCESS_WORDS + 1;

describe("stack instructions", () => {
  it("PUSH, POP, DUP, SWAP, OVER and NOP move words as documented", () => {
    const src = `.func main 0 0
      PUSH 3
      PUSH 4
      OVER      ; 3 4 3
      SUB       ; 3 1
      SWAP      ; 1 3
      DUP       ; 1 3 3
      MUL       ; 1 9
      NOP
      PUSH 77
      POP
      SUB       ; -8
      RET`;
    const r = run(src);
    expect(r.value).toBe(-8);
    expect(r.gasUsed).toBe(straightGas(load(src), "main"));
    expect(r.gasUsed).toBe(12);
  });
});

describe("locals", () => {
  it("LGET, LSET, LTEE and LINC read and write the frame's slots; LINC wraps", () => {
    const r = run(`.func main 0 3
      PUSH 5
      LTEE 0        ; l0 = 5, keep 5
      LSET 1        ; l1 = 5
      LINC 1 10     ; l1 = 15
      PUSH 2147483647
      LSET 2
      LINC 2 1      ; wraps to INT_MIN
      LGET 2
      LGET 0
      LGET 1
      ADD           ; 20
      ADD
      RET`);
    expect(r.value).toBe((-2147483648 + 20) | 0);
  });

  it("locals beyond the parameters start at zero on every call", () => {
    const r = run(`.func main 0 0
      CALL dirty
      POP
      CALL dirty
      RET
    .func dirty 0 1
      LGET 0        ; must be 0 both times
      PUSH 99
      LSET 0
      RET`);
    expect(r.value).toBe(0);
  });
});

type Bin = (a: number, b: number) => number;
const BINARY: Record<string, Bin> = {
  ADD: (a, b) => (a + b) | 0,
  SUB: (a, b) => (a - b) | 0,
  MUL: (a, b) => Math.imul(a, b),
  DIV: (a, b) => Math.trunc(a / b) | 0,
  REM: (a, b) => a % b | 0,
  AND: (a, b) => a & b,
  OR: (a, b) => a | b,
  XOR: (a, b) => a ^ b,
  SHL: (a, b) => a << (b & 31),
  SHR: (a, b) => a >> (b & 31),
  SHRU: (a, b) => (a >>> (b & 31)) | 0,
  EQ: (a, b) => +(a === b),
  NE: (a, b) => +(a !== b),
  LT: (a, b) => +(a < b),
  LE: (a, b) => +(a <= b),
  GT: (a, b) => +(a > b),
  GE: (a, b) => +(a >= b),
};
const UNARY: Record<string, (a: number) => number> = {
  NEG: (a) => -a | 0,
  NOT: (a) => ~a,
  EQZ: (a) => +(a === 0),
  "ADDI -7": (a) => (a - 7) | 0,
  "ADDI 2147483647": (a) => (a + 2147483647) | 0,
};

const i32 = fc.oneof(fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.constantFrom(0, 1, -1, 31, 32, 33, -0x80000000, 0x7fffffff));

describe("i32 arithmetic, bitwise and comparison", () => {
  for (const [name, ref] of Object.entries(BINARY)) {
    it(`${name} wraps like WebAssembly i32 and costs its table gas`, () => {
      // a and b come from the program arguments: mem = [2, a, b].
      const m = load(`.func main 0 0\n PUSH 0\n LOAD 1\n PUSH 0\n LOAD 2\n ${name}\n RET`);
      const gas = gasOf("PUSH", "LOAD", "PUSH", "LOAD", name, "RET");
      fc.assert(
        fc.property(i32, i32, (a, b) => {
          if ((name === "DIV" || name === "REM") && (b === 0 || (name === "DIV" && a === -0x80000000 && b === -1))) return;
          const r = run(m, { args: [a, b] });
          expect(r.status).toBe("done");
          expect(r.value).toBe(ref(a, b));
          expect(r.gasUsed).toBe(gas);
        }),
        { seed: 42, numRuns: 150 },
      );
    });
  }

  for (const [name, ref] of Object.entries(UNARY)) {
    it(`${name} wraps like WebAssembly i32`, () => {
      const m = load(`.func main 0 0\n PUSH 0\n LOAD 1\n ${name}\n RET`);
      fc.assert(
        fc.property(i32, (a) => {
          expect(run(m, { args: [a] }).value).toBe(ref(a));
        }),
        { seed: 7, numRuns: 100 },
      );
    });
  }

  it("shift counts are taken modulo 32", () => {
    expect(run(`.func main 0 0\n PUSH 1\n PUSH 33\n SHL\n RET`).value).toBe(2);
    expect(run(`.func main 0 0\n PUSH 1\n PUSH -1\n SHL\n RET`).value).toBe(-0x80000000);
    expect(run(`.func main 0 0\n PUSH -8\n PUSH 65\n SHR\n RET`).value).toBe(-4);
    expect(run(`.func main 0 0\n PUSH -1\n PUSH 32\n SHRU\n RET`).value).toBe(-1);
    expect(run(`.func main 0 0\n PUSH -1\n PUSH 60\n SHRU\n RET`).value).toBe(15);
  });

  it("comparisons are signed", () => {
    expect(run(`.func main 0 0\n PUSH -1\n PUSH 0\n LT\n RET`).value).toBe(1);
    expect(run(`.func main 0 0\n PUSH -2147483648\n PUSH 2147483647\n GT\n RET`).value).toBe(0);
  });

  it("INT_MIN % -1 is 0, not a fault", () => {
    const r = run(`.func main 0 0\n PUSH -2147483648\n PUSH -1\n REM\n RET`);
    expect(r.status).toBe("done");
    expect(r.value).toBe(0);
  });

  const faults: [string, string, string][] = [
    ["7", "0", "DIV"],
    ["7", "0", "REM"],
    ["-2147483648", "0", "REM"],
    ["-2147483648", "-1", "DIV"],
  ];
  for (const [a, b, op] of faults) {
    it(`${a} ${op} ${b} faults and keeps the operands and pc for inspection`, () => {
      const s = start(`.func main 0 0\n PUSH ${a}\n PUSH ${b}\n ${op}\n RET`);
      const r = s.run();
      expect(r.status).toBe("fault");
      expect(s.root.faultKind).toBe(b === "0" ? "div_by_zero" : "overflow");
      expect(r.fault).toMatch(b === "0" ? /div_by_zero/ : /overflow/);
      expect(r.fault).toMatch(/process 0 in main \(test\.rasm:4:/);
      expect(s.root.pc).toBe(4); // the faulting instruction
      expect(s.root.sp).toBe(2);
      expect([s.root.stack[0], s.root.stack[1]]).toEqual([Number(a), Number(b)]);
      expect(s.root.fp).toBe(3); // main's frame is still there
    });
  }
});

describe("jumps", () => {
  it("JZ and JNZ branch on zero / non-zero, JMP always", () => {
    const src = (cond: number): string => `.func main 0 0
      PUSH ${cond}
      JZ zero
      PUSH ${cond}
      JNZ nonzero
      TRAP 1
    zero:
      PUSH 100
      JMP out
    nonzero:
      PUSH 200
    out:
      RET`;
    expect(run(src(0)).value).toBe(100);
    expect(run(src(-5)).value).toBe(200);
    expect(run(src(0)).gasUsed).toBe(gasOf("PUSH", "JZ", "PUSH", "JMP", "RET"));
    expect(run(src(3)).gasUsed).toBe(gasOf("PUSH", "JZ", "PUSH", "JNZ", "PUSH", "RET"));
  });

  it("a counted loop is charged per executed instruction", () => {
    const r = run(`.func main 0 2
      PUSH 10
      LSET 0
    top:
      LGET 1
      LGET 0
      ADD
      LSET 1
      LINC 0 -1
      LGET 0
      JNZ top
      LGET 1
      RET`);
    expect(r.value).toBe(55);
    expect(r.gasUsed).toBe(2 + 10 * gasOf("LGET", "LGET", "ADD", "LSET", "LINC", "LGET", "JNZ") + 2);
  });

  it("TRAP faults with kind trap and its immediate in the detail", () => {
    const r = run(`.func main 0 0\n TRAP 42`);
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/trap.*42/);
  });
});

describe("call and return", () => {
  it("CALL passes parameters as the first locals and RET returns one word", () => {
    const r = run(`.func main 0 0
      PUSH 3
      PUSH 4
      CALL addmul
      RET
    .func addmul 2 3
      LGET 2
      LGET 0
      LGET 1
      MUL
      ADD
      RET`);
    expect(r.value).toBe(12);
    expect(r.gasUsed).toBe(gasOf("PUSH", "PUSH", "CALL", "RET") + gasOf("LGET", "LGET", "LGET", "MUL", "ADD", "RET"));
  });

  it("recursion works (fib 15 = 610) and the caller's stack survives calls", () => {
    expect(run(load(assembleExample("fib")), { args: [15] }).value).toBe(610);
    const r = run(`.func main 0 0
      PUSH 1000
      PUSH 5
      CALL sq
      ADD
      RET
    .func sq 1 1
      LGET 0
      LGET 0
      MUL
      RET`);
    expect(r.value).toBe(1025);
  });

  it("a call charges its frame (nlocals + maxStack + 3 words) while it runs and RET releases it", () => {
    const m = load(`.func main 0 1
      MEMLEFT
      LSET 0
      CALL probe
      LGET 0
      SWAP
      SUB
      RET
    .func probe 0 2
      PUSH 1
      PUSH 2
      PUSH 3
      POP
      POP
      POP
      MEMLEFT
      RET`);
    expect(m.maxStack[1]).toBe(3);
    expect(m.frameCost[1]).toBe(2 + 3 + 3);
    const r = run(m);
    expect(r.value).toBe(m.frameCost[1]);
    expect(r.memUsed).toBe(ROOT_IDLE);
  });

  it("a call whose frame does not fit is refused: out_of_mem with pc at the CALL", () => {
    const s = start(
      `.func main 0 0
      CALL deep
      RET
    .func deep 0 0
      CALL deep
      RET`,
      { mem: ROOT_IDLE + 100 },
    );
    const r = s.run();
    expect(r.status).toBe("out_of_mem");
    const m = s.module;
    // main's frame + k frames of deep fit in the 100 words left beside the idle root; the next one does not.
    const k = Math.floor((100 - m.frameCost[0]) / m.frameCost[1]);
    expect(s.root.fp / 3).toBe(1 + k);
    expect(r.memUsed).toBe(ROOT_IDLE + m.frameCost[0] + k * m.frameCost[1]);
    expect(s.root.pc).toBe(m.functions[1].entry);
    expect(s.root.need).toBe(m.frameCost[1]);
  });
});

function assembleExample(name: string): string {
  return readFileSync(new URL(`../examples/asm/${name}.rasm`, import.meta.url), "utf8");
}

describe("linear memory", () => {
  it("MGROW pushes the old size, zero-fills, and is charged its table gas plus bulk gas for n words, and n words of memory", () => {
    for (const n of [0, 1, 16, 17, 100]) {
      const s = start(`.func main 0 0\n PUSH ${n}\n MGROW\n RET`);
      const r = s.run();
      expect(r.value).toBe(1); // the args array [0] was there
      expect(s.root.memSize).toBe(1 + n);
      expect(Array.from(s.root.mem.subarray(0, 1 + n)).every((w) => w === 0)).toBe(true);
      expect(r.gasUsed).toBe(gasOf("PUSH", "MGROW", "RET") + wordGas(n));
      expect(r.memUsed).toBe(ROOT_IDLE + n);
    }
  });

  it("MGROW by a negative amount faults bad_arg", () => {
    const r = run(`.func main 0 0\n PUSH -1\n MGROW\n RET`);
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/bad_arg/);
  });

  it("MSIZE, LOAD and STORE with an immediate offset", () => {
    const s = start(`.func main 0 0
      PUSH 4
      MGROW
      PUSH 2
      PUSH -9
      STORE 1      ; mem[3] = -9
      PUSH 0
      LOAD 3
      MSIZE
      ADD
      RET`);
    const r = s.run();
    expect(r.value).toBe(-9 + 5);
    expect(s.root.mem[3]).toBe(-9);
  });

  const oob: [string, string][] = [
    ["load below 0", "PUSH -1\n LOAD 0"],
    ["load at the size", "PUSH 0\n LOAD 1"],
    ["store past the end by offset", "PUSH 0\n PUSH 5\n STORE 1"],
    ["copy past the end", "PUSH 0\n PUSH 0\n PUSH 2\n MCOPY"],
    ["copy from below 0", "PUSH 0\n PUSH -1\n PUSH 1\n MCOPY"],
    ["copy of negative length", "PUSH 0\n PUSH 0\n PUSH -1\n MCOPY"],
    ["fill past the end", "PUSH 1\n PUSH 7\n PUSH 1\n MFILL"],
  ];
  for (const [what, body] of oob) {
    it(`${what} faults mem_bounds and changes nothing`, () => {
      const s = start(`.func main 0 0\n ${body}\n PUSH 0\n RET`, { args: [] });
      const r = s.run();
      expect(r.status).toBe("fault");
      expect(s.root.faultKind).toBe("mem_bounds");
      expect(s.root.mem[0]).toBe(0);
    });
  }

  it("MCOPY is overlap-safe in both directions and charged its table gas plus bulk gas for the words copied", () => {
    const fwd = start(`.func main 0 0\n PUSH 1\n PUSH 0\n PUSH 4\n MCOPY\n PUSH 0\n RET`, { args: [10, 20, 30, 40, 50] });
    const rf = fwd.run();
    // mem = [5, 10, 20, 30, 40, 50] -> copy mem[0..4) to mem[1..5)
    expect(Array.from(fwd.root.mem.subarray(0, 6))).toEqual([5, 5, 10, 20, 30, 50]);
    expect(rf.gasUsed).toBe(gasOf("PUSH", "PUSH", "PUSH", "MCOPY", "PUSH", "RET") + wordGas(4));
    const back = start(`.func main 0 0\n PUSH 0\n PUSH 1\n PUSH 4\n MCOPY\n PUSH 0\n RET`, { args: [10, 20, 30, 40, 50] });
    back.run();
    expect(Array.from(back.root.mem.subarray(0, 6))).toEqual([10, 20, 30, 40, 40, 50]);
    const big = run(`.func main 0 0\n PUSH 40\n MGROW\n PUSH 0\n PUSH 1\n PUSH 33\n MCOPY\n PUSH 0\n RET`);
    expect(big.gasUsed).toBe(gasOf("PUSH", "MGROW", "PUSH", "PUSH", "PUSH", "MCOPY", "PUSH", "RET") + wordGas(40) + wordGas(33));
  });

  it("MFILL fills n words with v, charged its table gas plus bulk gas for n words", () => {
    const s = start(`.func main 0 0\n PUSH 20\n MGROW\n PUSH 2\n PUSH -3\n PUSH 17\n MFILL\n PUSH 0\n RET`);
    const r = s.run();
    expect(Array.from(s.root.mem.subarray(0, 21))).toEqual([0, 0, ...Array<number>(17).fill(-3), 0, 0]);
    expect(r.gasUsed).toBe(gasOf("PUSH", "MGROW", "PUSH", "PUSH", "PUSH", "MFILL", "PUSH", "RET") + wordGas(20) + wordGas(17));
  });
});

// Process instructions. SPAWN pops: args.., ptr len gas mem grant trap.
const SPAWN_ARGS = (ptr: number, len: number, gas: number, mem: number, grant = 0, trap = 0): string =>
  `PUSH ${ptr}\n PUSH ${len}\n PUSH ${gas}\n PUSH ${mem}\n PUSH ${grant}\n PUSH ${trap}`;

describe("spawn, resume, status, result", () => {
  it("SPAWN runs a function of the module with arguments; RESUME gives the status, RESULT the value", () => {
    const src = `.func main 0 1
      PUSH 41
      ${SPAWN_ARGS(0, 1, 1000, 1000)}
      SPAWN inc
      LTEE 0
      STATUS        ; fresh child: ready (0)
      LGET 0
      RESUME        ; done (1)
      PUSH 10
      MUL
      ADD
      LGET 0
      RESULT
      ADD
      RET
    .func inc 1 1
      LGET 0
      ADDI 1
      RET`;
    const m = load(src);
    const r = run(m);
    expect(r.value).toBe(StatusCode.READY + StatusCode.DONE * 10 + 42);
    // Every instruction of main and inc once, plus the bulk part of SPAWN's 1-word memory copy.
    expect(r.gasUsed).toBe(straightGas(m, "main") + straightGas(m, "inc") + wordGas(1));
    // The finished child keeps its footprint (bookkeeping + its memory) until killed.
    expect(r.memUsed).toBe(ROOT_IDLE + PROCESS_WORDS + 1);
  });

  it("handles are numbered 1, 2, ... per parent", () => {
    const r = run(`.func main 0 0
      ${SPAWN_ARGS(0, 0, 0, 0)}
      SPAWN idle
      ${SPAWN_ARGS(0, 0, 0, 0)}
      SPAWN idle
      PUSH 10
      MUL
      ADD
      RET
    .func idle 0 0
      PUSH 0
      RET`);
    expect(r.value).toBe(1 + 20);
  });

  it("the child's memory is a copy of the parent's block; CLOAD and CSTORE cross it (each charged its table gas plus bulk gas for the words moved)", () => {
    const src = `.func main 0 1
      PUSH 3
      MGROW
      POP
      PUSH 1
      PUSH 5
      STORE 0
      PUSH 2
      PUSH 6
      STORE 0
      PUSH 3
      PUSH 7
      STORE 0          ; mem = [0, 5, 6, 7]
      ${SPAWN_ARGS(1, 3, 1000, 1000)}
      SPAWN scribble
      LTEE 0
      RESUME
      POP
      LGET 0
      PUSH 0           ; child src
      PUSH 0           ; own dst
      PUSH 2
      CLOAD            ; mem[0..2) = child mem[0..2)
      LGET 0
      PUSH 2           ; child dst
      PUSH 3           ; own src
      PUSH 1
      CSTORE           ; child mem[2] = 7
      LGET 0
      RESULT
      RET
    .func scribble 0 0
      PUSH 0
      PUSH 99
      STORE 0          ; own mem[0] = 99
      PUSH 2
      PUSH 0
      STORE 0          ; own mem[2] = 0
      PUSH 0
      LOAD 1           ; 6
      RET`;
    const s = start(src);
    const r = s.run();
    expect(r.value).toBe(6);
    expect(Array.from(s.root.mem.subarray(0, 4))).toEqual([99, 6, 6, 7]);
    expect(Array.from(child(s.root, 1).mem)).toEqual([99, 6, 7]);
    expect(r.gasUsed).toBe(straightGas(s.module, "main") + straightGas(s.module, "scribble") + wordGas(3) + wordGas(3) + wordGas(2) + wordGas(1));
    expect(r.memUsed).toBe(ROOT_IDLE + 3 + PROCESS_WORDS + 3);
  });

  it("CLOAD and CSTORE out of either memory fault mem_bounds", () => {
    for (const copy of ["LGET 0\n PUSH 0\n PUSH 0\n PUSH 2\n CLOAD", "LGET 0\n PUSH 1\n PUSH 0\n PUSH 1\n CSTORE", "LGET 0\n PUSH 0\n PUSH 1\n PUSH 1\n CLOAD"]) {
      const r = run(`.func main 0 1\n ${SPAWN_ARGS(0, 1, 10, 100)}\n SPAWN idle\n LSET 0\n ${copy}\n PUSH 0\n RET\n.func idle 0 0\n PUSH 0\n RET`);
      expect(r.fault).toMatch(/mem_bounds/);
    }
  });

  it("YIELD hands a value to the parent; RESUME continues after it; a finished child reports done at once", () => {
    const s = start(`.func main 0 1
      PUSH 8
      MGROW
      POP
      ${SPAWN_ARGS(0, 0, 1000, 1000)}
      SPAWN gen
      LSET 0
      PUSH 1
      LGET 0
      RESUME
      STORE 0
      PUSH 2
      LGET 0
      RESULT
      STORE 0
      PUSH 3
      LGET 0
      RESUME
      STORE 0
      PUSH 4
      LGET 0
      RESULT
      STORE 0
      PUSH 5
      LGET 0
      RESUME
      STORE 0
      PUSH 6
      LGET 0
      RESULT
      STORE 0
      PUSH 7
      LGET 0
      RESUME
      STORE 0
      PUSH 0
      RET
    .func gen 0 0
      PUSH 10
      YIELD
      PUSH 20
      YIELD
      PUSH 30
      RET`);
    const r = s.run();
    expect(r.status).toBe("done");
    expect(Array.from(s.root.mem.subarray(1, 8))).toEqual([5, 10, 5, 20, 1, 30, 1]);
    expect(r.gasUsed).toBe(straightGas(s.module, "main") + wordGas(8) + straightGas(s.module, "gen"));
  });

  it("STATUS reports ready, done, fault, out_of_gas, yielded and cap_call as 0..6 codes", () => {
    const body = (fn: string, gas = 1000): string => `${SPAWN_ARGS(0, 0, gas, 1000, 0, 1)}\n SPAWN ${fn}\n DUP\n RESUME\n POP\n STATUS`;
    const s = start(`.cap io.print
    .func main 0 0
      ${SPAWN_ARGS(0, 0, 1000, 1000)}
      SPAWN ok
      STATUS
      ${body("ok")}
      ${body("bad")}
      ${body("ok", 1)}
      ${body("gen")}
      ${body("call")}
      PUSH 10
      MUL
      ADD
      PUSH 10
      MUL
      ADD
      PUSH 10
      MUL
      ADD
      PUSH 10
      MUL
      ADD
      PUSH 10
      MUL
      ADD
      RET
    .func ok 0 0
      PUSH 1
      PUSH 2
      ADD
      RET
    .func bad 0 0
      TRAP 0
    .func gen 0 0
      PUSH 1
      YIELD
      PUSH 0
      RET
    .func call 0 0
      PUSH 0
      PUSH 0
      CAP io.print 2
      RET`);
    const r = s.run();
    // Statuses 0 1 2 3 5 6 folded as decimal digits.
    expect(r.value).toBe(653210);
    expect(s.out()).toBe("");
  });

  it("RESULT of a child that has not returned or yielded faults no_result", () => {
    for (const fn of ["idle", "bad"]) {
      const r = run(`.func main 0 1
        ${SPAWN_ARGS(0, 0, 100, 100)}
        SPAWN ${fn}
        LTEE 0
        ${fn === "bad" ? "RESUME\n POP\n LGET 0" : ""}
        RESULT
        RET
      .func idle 0 0
        PUSH 0
        RET
      .func bad 0 0
        TRAP 3`);
      expect(r.fault).toMatch(/no_result/);
    }
  });

  it("RESUME of a faulted child reports fault again without running it", () => {
    const r = run(`.func main 0 1
      ${SPAWN_ARGS(0, 0, 100, 100)}
      SPAWN bad
      LTEE 0
      RESUME
      LGET 0
      RESUME
      ADD
      RET
    .func bad 0 0
      TRAP 3`);
    expect(r.value).toBe(2 * StatusCode.FAULT);
  });

  it("instructions on a handle that is not a child fault bad_handle", () => {
    for (const ins of ["PUSH 1\n RESUME", "PUSH 0\n STATUS", "PUSH 7\n RESULT", "PUSH 1\n KILL\n PUSH 0", "PUSH 1\n PUSH 1\n PUSH 1\n REFUEL\n PUSH 0", "PUSH 1\n PUSH 0\n PUSH 0\n PUSH 0\n CLOAD\n PUSH 0"]) {
      const r = run(`.func main 0 0\n ${ins}\n RET`);
      expect(r.status).toBe("fault");
      expect(r.fault).toMatch(/bad_handle/);
    }
  });

  it("SPAWN with negative budgets, a memory block out of range or past the depth limit faults", () => {
    const bad = (args: string, opts = {}): string | undefined => run(`.func main 0 0\n ${args}\n SPAWN idle\n RET\n.func idle 0 0\n PUSH 0\n RET`, opts).fault;
    expect(bad(SPAWN_ARGS(0, 0, -1, 10))).toMatch(/bad_arg/);
    expect(bad(SPAWN_ARGS(0, 0, 10, -1))).toMatch(/bad_arg/);
    expect(bad(SPAWN_ARGS(0, 2, 10, 10))).toMatch(/mem_bounds/);
    expect(bad(SPAWN_ARGS(-1, 1, 10, 10))).toMatch(/mem_bounds/);
    expect(bad(SPAWN_ARGS(0, 0, 10, 10), { maxDepth: 0 })).toMatch(/depth_limit/);
  });

  it("SPAWN is charged its table gas plus bulk gas for the memory block, and the process bookkeeping plus the block in words", () => {
    const m = load(`.func main 0 0
      PUSH 40
      MGROW
      POP
      ${SPAWN_ARGS(0, 33, 0, 0)}
      SPAWN idle
      RET
    .func idle 0 0
      PUSH 0
      RET`);
    const r = run(m);
    expect(r.gasUsed).toBe(straightGas(m, "main") + wordGas(40) + wordGas(33));
    expect(r.memUsed).toBe(ROOT_IDLE + 40 + PROCESS_WORDS + 33);
  });
});

describe("spawn from code bytes (SPAWNC)", () => {
  const childDef = assemble(`.func entry 0 0\n PUSH 1234\n RET`, "child.rasm");
  const bytes = Array.from(encodeModule(childDef));
  // The bytes arrive as the program arguments: mem = [n, b0, ..., bn-1].
  const parent = `.func main 0 1
      ${SPAWN_ARGS(0, 0, 1000, 1000)}
      PUSH 1
      PUSH 0
      LOAD 0
      SPAWNC
      LTEE 0
      RESUME
      POP
      LGET 0
      RESULT
      RET`;

  it("verifies the module bytes (one byte per word) and runs its function 0", () => {
    const s = start(parent, { args: bytes });
    const r = s.run();
    expect(r.value).toBe(1234);
    // SPAWNC: 40 + ceil(len/16) for the memory copy + ceil(clen/4) for decoding and verifying the code.
    expect(r.gasUsed).toBe(straightGas(s.module, "main") + Math.ceil(bytes.length / 4) + straightGas(childDef, 0));
    expect(child(s.root, 1).module.digest).not.toBe(s.module.digest);
  });

  it("spawning the same bytes twice shares one interned module", () => {
    const once = `${SPAWN_ARGS(0, 0, 1000, 1000)}\n PUSH 1\n PUSH 0\n LOAD 0\n SPAWNC`;
    const s = start(`.func main 0 0\n ${once}\n ${once}\n ADD\n RET`, { args: bytes });
    expect(s.run().value).toBe(3);
    expect(child(s.root, 1).module).toBe(child(s.root, 2).module);
  });

  it("corrupt bytes, non-byte words and entry functions with parameters fault bad_code, not the host", () => {
    expect(run(parent, { args: bytes.slice(0, -3) }).fault).toMatch(/bad_code/);
    expect(run(parent, { args: [...bytes.slice(0, 3), 256, ...bytes.slice(4)] }).fault).toMatch(/bad_code/);
    expect(run(parent, { args: [1, 2, 3] }).fault).toMatch(/bad_code/);
    const withParam = Array.from(encodeModule(assemble(`.func f 1 1\n LGET 0\n RET`)));
    expect(run(parent, { args: withParam }).fault).toMatch(/bad_code/);
    const unverifiable = Array.from(encodeModule(assemble(`.func f 0 0\n ADD\n RET`)));
    expect(run(parent, { args: unverifiable }).fault).toMatch(/bad_code.*stack_underflow|bad_code.*needs 2 operands/);
  });

  it("code bytes out of memory fault mem_bounds", () => {
    const r = run(`.func main 0 0\n ${SPAWN_ARGS(0, 0, 10, 10)}\n PUSH 0\n PUSH 5\n SPAWNC\n RET`);
    expect(r.fault).toMatch(/mem_bounds/);
  });
});

describe("refuel, kill, gas left, mem left", () => {
  it("REFUEL raises a stopped child's gas limit so RESUME can finish it, at its table gas", () => {
    const s = start(`.func main 0 1
      ${SPAWN_ARGS(0, 0, 5, 1000)}
      SPAWN count
      LTEE 0
      RESUME          ; out_of_gas (3)
      LGET 0
      PUSH 1000
      PUSH 0
      REFUEL
      LGET 0
      RESUME          ; done (1)
      PUSH 10
      MUL
      ADD
      RET
    .func count 0 1
      PUSH 10
      LSET 0
    top:
      LINC 0 -1
      LGET 0
      JNZ top
      PUSH 0
      RET`);
    const r = s.run();
    expect(r.value).toBe(StatusCode.OUT_OF_GAS + 10 * StatusCode.DONE);
    const c = child(s.root, 1);
    expect(c.gasLimit).toBe(1005);
    expect(c.gasUsed).toBe(2 + 10 * 3 + 2);
    expect(r.gasUsed).toBe(straightGas(s.module, "main") + c.gasUsed);
  });

  it("REFUEL by a negative amount faults bad_arg", () => {
    const r = run(`.func main 0 1\n ${SPAWN_ARGS(0, 0, 5, 5)}\n SPAWN idle\n PUSH 1\n PUSH -1\n REFUEL\n PUSH 0\n RET\n.func idle 0 0\n PUSH 0\n RET`);
    expect(r.fault).toMatch(/bad_arg/);
  });

  it("KILL drops a child and releases its whole footprint up the chain", () => {
    // root -> mid -> leaf (10 words of memory); mid kills leaf.
    const src = (kill: boolean): string => `.func main 0 1
      ${SPAWN_ARGS(0, 0, 100000, 100000)}
      SPAWN mid
      LTEE 0
      RESUME
      POP
      LGET 0
      RESULT
      RET
    .func mid 0 2
      PUSH 10
      MGROW
      POP
      ${SPAWN_ARGS(0, 10, 1000, 1000)}
      SPAWN leaf
      LTEE 0
      RESUME
      POP
      MEMLEFT
      LSET 1
      ${kill ? "LGET 0\n KILL" : "NOP\n NOP"}
      MEMLEFT
      LGET 1
      SUB
      RET
    .func leaf 0 0
      PUSH 0
      RET`;
    const kept = run(src(false));
    const killed = run(src(true));
    expect(kept.value).toBe(0);
    expect(killed.value).toBe(PROCESS_WORDS + 10);
    expect(kept.memUsed - killed.memUsed).toBe(PROCESS_WORDS + 10);
    expect(killed.memUsed).toBe(ROOT_IDLE + PROCESS_WORDS + 10);
    // A killed handle is gone.
    const after = run(`.func main 0 1\n ${SPAWN_ARGS(0, 0, 5, 5)}\n SPAWN idle\n LTEE 0\n KILL\n LGET 0\n STATUS\n RET\n.func idle 0 0\n PUSH 0\n RET`);
    expect(after.fault).toMatch(/bad_handle/);
  });

  it("KILL of a child frozen mid-run releases its frames and descendants too", () => {
    const s = start(`.func main 0 1
      ${SPAWN_ARGS(0, 0, 200, 100000)}
      SPAWN mid
      LTEE 0
      RESUME            ; mid runs out of gas while its leaf is deep in calls
      POP
      MEMLEFT
      LGET 0
      KILL
      MEMLEFT
      SWAP
      SUB
      RET
    .func mid 0 0
      ${SPAWN_ARGS(0, 0, 100000, 100000)}
      SPAWN leaf
      RESUME
      RET
    .func leaf 0 0
      CALL leaf
      RET`);
    const r = s.run();
    expect(r.status).toBe("done");
    expect(s.root.children.size).toBe(0);
    expect(r.memUsed).toBe(ROOT_IDLE);
    expect(r.value).toBeGreaterThan(2 * PROCESS_WORDS);
  });

  it("GASLEFT and MEMLEFT give the process's own headroom (counting themselves)", () => {
    const m = load(`.func main 0 0\n GASLEFT\n RET`);
    expect(run(m, { gas: 500 }).value).toBe(500 - OPS[Op.GASLEFT].gas);
    const mm = load(`.func main 0 0\n MEMLEFT\n RET`);
    expect(run(mm, { mem: 500 }).value).toBe(500 - ROOT_IDLE - mm.frameCost[0]);
    // A child sees its own limit even when the parent has less left.
    const c = load(`.func main 0 1
      ${SPAWN_ARGS(0, 0, 1000000, 1000000)}
      SPAWN probe
      LTEE 0
      RESUME
      POP
      LGET 0
      RESULT
      RET
    .func probe 0 0
      GASLEFT
      MEMLEFT
      ADD
      RET`);
    expect(run(c, { gas: 1000, mem: 2 * PROCESS_WORDS + 100 }).value).toBe(
      1000000 - OPS[Op.GASLEFT].gas + 1000000 - PROCESS_WORDS - c.frameCost[1],
    );
  });

  it("GASLEFT and MEMLEFT saturate to i32", () => {
    expect(run(`.func main 0 0\n GASLEFT\n RET`, { gas: 2 ** 40 }).value).toBe(0x7fffffff);
  });
});

describe("capabilities", () => {
  it("CAP io.print writes the code points as one line and returns 0, charged its table gas plus bulk gas for the words passed", () => {
    const m = load(assembleExample("hello"));
    const r = run(m);
    expect(r.out).toBe("hello\n");
    expect(r.value).toBe(0);
    expect(r.gasUsed).toBe(straightGas(m, "main") + wordGas(5) + wordGas(5));
  });

  it("a capability not granted faults cap_denied, naming it", () => {
    expect(run(load(assembleExample("hello")), { caps: [] }).fault).toMatch(/cap_denied.*io\.print/);
    const r = run(`.cap clock.now\n.func main 0 0\n CAP clock.now 0\n RET`);
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/cap_denied.*clock\.now/);
  });

  it("a child holds only what its parent grants (by manifest bitmask)", () => {
    const src = (grant: number): string => `.cap io.print
    .func main 0 0
      ${SPAWN_ARGS(0, 0, 1000, 1000, grant)}
      SPAWN hi
      RESUME
      RET
    .func hi 0 0
      PUSH 1
      MGROW
      PUSH 105
      STORE 0
      PUSH 0
      PUSH 1
      CAP io.print 2
      RET`;
    const denied = run(src(0));
    expect(denied.value).toBe(StatusCode.FAULT);
    expect(denied.out).toBe("");
    const granted = run(src(1));
    expect(granted.value).toBe(StatusCode.DONE);
    expect(granted.out).toBe("i\n");
    // A parent cannot grant what it does not hold, nor a bit outside its manifest.
    expect(run(src(1), { caps: [] }).fault).toMatch(/cap_denied.*not held/);
    expect(run(src(2)).fault).toMatch(/cap_denied.*bit 1/);
  });

  it("a trapped capability stops the child with cap_call; the parent reads the request and answers", () => {
    const s = start(`.cap io.print
    .func main 0 2
      PUSH 16
      MGROW
      POP
      ${SPAWN_ARGS(0, 0, 1000, 1000, 0, 1)}
      SPAWN hi
      LTEE 0
      RESUME
      LSET 1            ; status: cap_call (6)
      PUSH 1
      LGET 0
      PUSH -2
      REQUEST           ; argument count
      STORE 0
      PUSH 2
      LGET 0
      PUSH -1
      REQUEST           ; capability name -> inbox
      STORE 0
      PUSH 3
      INBOX             ; mem[3..11) = "io.print"
      LGET 0
      PUSH 0
      REQUEST           ; argument 0 (the array) -> inbox
      POP
      PUSH 12
      INBOX
      LGET 0
      PUSH 77
      ANSWER
      LGET 0
      RESUME
      LGET 1
      PUSH 10
      MUL
      ADD
      LGET 0
      RESULT
      PUSH 100
      MUL
      ADD
      RET
    .func hi 0 0
      PUSH 2
      MGROW
      PUSH 104
      STORE 0
      PUSH 1
      PUSH 105
      STORE 0
      PUSH 0
      PUSH 2
      CAP io.print 2     ; trapped: returns the parent's answer
      RET`);
    const r = s.run();
    expect(s.out()).toBe("");
    expect(r.value).toBe(StatusCode.DONE + 10 * StatusCode.CAP_CALL + 100 * 77);
    const mem = Array.from(s.root.mem.subarray(0, 14));
    expect(mem[1]).toBe(1);
    expect(mem[2]).toBe(8);
    expect(String.fromCodePoint(...mem.slice(3, 11))).toBe("io.print");
    expect(mem.slice(12, 14)).toEqual([104, 105]);
  });

  it("a parent may trap a capability it does not hold", () => {
    const r = run(
      `.cap io.print
    .func main 0 1
      ${SPAWN_ARGS(0, 0, 1000, 1000, 0, 1)}
      SPAWN hi
      LTEE 0
      RESUME
      RET
    .func hi 0 0
      PUSH 0
      PUSH 0
      CAP io.print 2
      RET`,
      { caps: [] },
    );
    expect(r.value).toBe(StatusCode.CAP_CALL);
  });

  it("ANSWER to a child that is not in cap_call faults not_resumable", () => {
    const r = run(`.func main 0 1\n ${SPAWN_ARGS(0, 0, 5, 5)}\n SPAWN idle\n PUSH 1\n ANSWER\n PUSH 0\n RET\n.func idle 0 0\n PUSH 0\n RET`);
    expect(r.fault).toMatch(/not_resumable/);
  });
});

describe("faults and refusals", () => {
  // [what, code before the faulting instruction, the faulting instruction, fault kind]
  const cases: [string, string, string, string][] = [
    ["DIV by zero", "PUSH 7\n PUSH 0", "DIV", "div_by_zero"],
    ["REM by zero", "PUSH 7\n PUSH 0", "REM", "div_by_zero"],
    ["INT_MIN / -1", "PUSH -2147483648\n PUSH -1", "DIV", "overflow"],
    ["LOAD out of bounds", "PUSH 1", "LOAD 0", "mem_bounds"],
    ["STORE out of bounds", "PUSH -1\n PUSH 5", "STORE 0", "mem_bounds"],
    ["MGROW by a negative count", "PUSH -3", "MGROW", "bad_arg"],
    ["MCOPY out of bounds", "PUSH 0\n PUSH 0\n PUSH 9", "MCOPY", "mem_bounds"],
    ["MFILL out of bounds", "PUSH 0\n PUSH 0\n PUSH 9", "MFILL", "mem_bounds"],
    ["TRAP", "PUSH 1", "TRAP 5", "trap"],
    ["RESUME of no child", "PUSH 1", "RESUME", "bad_handle"],
    ["STATUS of no child", "PUSH 1", "STATUS", "bad_handle"],
    ["RESULT of a fresh child", `${SPAWN_ARGS(0, 0, 9, 99)}\n SPAWN kid`, "RESULT", "no_result"],
    ["KILL of no child", "PUSH 2", "KILL", "bad_handle"],
    ["REFUEL by a negative amount", `${SPAWN_ARGS(0, 0, 9, 99)}\n SPAWN kid\n PUSH -1\n PUSH 0`, "REFUEL", "bad_arg"],
    ["CLOAD out of the child's memory", `${SPAWN_ARGS(0, 0, 9, 99)}\n SPAWN kid\n PUSH 0\n PUSH 0\n PUSH 1`, "CLOAD", "mem_bounds"],
    ["SPAWN with a negative gas limit", SPAWN_ARGS(0, 0, -1, 99), "SPAWN kid", "bad_arg"],
    ["SPAWN granting a bit outside the manifest", SPAWN_ARGS(0, 0, 9, 99, 4), "SPAWN kid", "cap_denied"],
    ["SPAWN trapping a bit outside the manifest", SPAWN_ARGS(0, 0, 9, 99, 0, 4), "SPAWN kid", "bad_arg"],
    ["SPAWNC of bytes that are not a module", `${SPAWN_ARGS(0, 0, 9, 99)}\n PUSH 0\n PUSH 1`, "SPAWNC", "bad_code"],
    ["CAP of a capability not held", "", "CAP clock.now 0", "cap_denied"],
    ["CAP with the wrong number of argument words", "PUSH 0", "CAP io.print 1", "bad_arg"],
    ["CAP with an array argument outside memory", "PUSH 0\n PUSH 2", "CAP io.print 2", "mem_bounds"],
    ["INBOX outside memory", "PUSH -1", "INBOX", "mem_bounds"],
    ["REQUEST of a child without a request", `${SPAWN_ARGS(0, 0, 9, 99)}\n SPAWN kid\n PUSH 0`, "REQUEST", "no_result"],
    ["ANSWER to a child not in cap_call", `${SPAWN_ARGS(0, 0, 9, 99)}\n SPAWN kid\n PUSH 0`, "ANSWER", "not_resumable"],
  ];
  const program = (before: string, ins: string): string => `.cap io.print\n.cap clock.now\n.func main 0 0\n ${before}\n ${ins}\n PUSH 0\n RET\n.func kid 0 0\n PUSH 0\n RET`;
  const prefix = (before: string): { gas: number; pc: number } => {
    const m = load(`.func main 0 0\n ${before}\n PUSH 0\n RET\n.func kid 0 0\n PUSH 0\n RET`);
    return { gas: straightGas(m, "main") - gasOf("PUSH", "RET"), pc: m.functions[0].end - 3 };
  };

  for (const [what, before, ins, kind] of cases) {
    it(`${what} faults ${kind}, has no effect and is not charged`, () => {
      const s = start(program(before, ins));
      const r = s.run();
      expect(r.status).toBe("fault");
      expect(s.root.faultKind).toBe(kind);
      const p = prefix(before);
      expect(r.gasUsed).toBe(p.gas);
      expect(s.root.pc).toBe(p.pc);
      expect(s.root.memSize).toBe(1);
      expect(s.out()).toBe("");
    });

    it(`${what} is refused (out_of_gas), not faulted, when its base gas does not fit`, () => {
      const p = prefix(before);
      const s = start(program(before, ins), { gas: p.gas });
      const r = s.run();
      expect(r.status).toBe("out_of_gas");
      expect(s.root.pc).toBe(p.pc);
      expect(s.root.need).toBe(gasOf(ins.split(" ")[0]));
    });
  }

  it("a fused pair whose second instruction faults: the first happened and was charged, pc at the second", () => {
    const s = start(`.func main 0 1\n PUSH 9\n LSET 0\n LGET 0\n LOAD 0\n RET`);
    const r = s.run();
    expect(s.root.faultKind).toBe("mem_bounds");
    expect(r.gasUsed).toBe(3);
    expect(s.root.pc).toBe(6);
    expect(s.root.stack[s.root.sp - 1]).toBe(9);
  });

  it("exhaustion inside a pair the interpreter fuses stops between the two instructions", () => {
    const pairs = ["LGET 0\n LGET 1", "LGET 0\n PUSH 4", "LGET 0\n ADDI 4", "LGET 1\n LOAD 0", "LT\n JZ t", "LE\n JZ t", "GT\n JZ t", "GE\n JZ t", "EQ\n JZ t", "NE\n JZ t"];
    for (const pair of pairs) {
      const src = `.func main 0 2\n PUSH 1\n PUSH 2\n ${pair}\n t: PUSH 0\n RET`;
      const m = load(src);
      const full = run(m);
      // Gas for everything before the pair plus its first instruction: the second is refused.
      const s = start(m, { gas: 3 });
      const r = s.run();
      expect(r.status).toBe("out_of_gas");
      expect(r.gasUsed).toBe(3);
      expect(s.root.pc).toBe(4 + (pair.startsWith("LGET") ? 2 : 1));
      s.session.refuel(1000);
      const again = s.session.run();
      expect([again.status, again.value, again.gasUsed]).toEqual([full.status, full.value, full.gasUsed]);
    }
  });
});

describe("the inbox and trapped requests", () => {
  it("ANSWERA answers a trapped call with an array: it lands in the child's inbox, charged to the child", () => {
    const s = start(`.cap my.cap
    .func main 0 1
      PUSH 3
      MGROW
      POP
      PUSH 0
      PUSH 11
      STORE 1
      PUSH 0
      PUSH 12
      STORE 2
      ${SPAWN_ARGS(0, 0, 1000, 1000, 0, 1)}
      SPAWN kid
      LTEE 0
      RESUME
      POP
      LGET 0
      PUSH 1
      PUSH 2
      ANSWERA
      LGET 0
      RESUME
      POP
      LGET 0
      RESULT
      RET
    .func kid 0 0
      PUSH 5
      PUSH 6
      PUSH 7
      CAP my.cap 3     ; not a host capability: three int arguments, trapped
      INLEN
      ADD               ; 2 + 2
      PUSH 2
      MGROW
      INBOX
      PUSH 0
      LOAD 0
      PUSH 0
      LOAD 1
      ADD
      ADD               ; 4 + 11 + 12
      RET`);
    const r = s.run();
    expect(r.value).toBe(27);
    const kid = child(s.root, 1);
    expect(kid.inbox?.length ?? 0).toBe(0);
    expect(kid.memUsed).toBe(PROCESS_WORDS + 2);
  });

  it("REQUEST exposes a trapped call's argument count, name and arguments; out-of-range k faults bad_arg", () => {
    const src = (k: number): string => `.cap my.cap
    .func main 0 1
      ${SPAWN_ARGS(0, 0, 1000, 1000, 0, 1)}
      SPAWN kid
      LTEE 0
      RESUME
      POP
      LGET 0
      PUSH ${k}
      REQUEST
      INLEN
      PUSH 100
      MUL
      ADD
      RET
    .func kid 0 0
      PUSH 5
      PUSH -6
      CAP my.cap 2
      RET`;
    expect(run(src(-2)).value).toBe(2);
    expect(run(src(-1)).value).toBe(6 + 600);
    expect(run(src(1)).value).toBe(1 + 100);
    expect(run(src(2)).fault).toMatch(/bad_arg/);
    expect(run(src(-3)).fault).toMatch(/bad_arg/);
  });

  it("io.print writes invalid code points as U+FFFD", () => {
    const r = run(`.cap io.print\n.func main 0 0\n PUSH 0\n PUSH -5\n STORE 0\n PUSH 0\n PUSH 1\n CAP io.print 2\n RET`);
    expect(r.out).toBe("\uFFFD\n");
  });
});

describe("kill", () => {
  it("gives back memory, never gas, and handles are not reused", () => {
    const src = `.func main 0 1
      ${SPAWN_ARGS(0, 1, 1000, 1000)}
      SPAWN kid
      LTEE 0
      RESUME
      POP
      GASLEFT
      LGET 0
      KILL
      GASLEFT
      SUB
      ${SPAWN_ARGS(0, 0, 1000, 1000)}
      SPAWN kid
      PUSH 100
      MUL
      ADD
      RET
    .func kid 0 0
      PUSH 0
      RET`;
    const r = run(src);
    // GASLEFT before minus GASLEFT after = what ran in between; the second child gets handle 2.
    expect(r.value).toBe(gasOf("LGET", "KILL", "GASLEFT") + 200);
  });
});
