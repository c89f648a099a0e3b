import { describe, expect, it } from "vitest";
import { assemble } from "../lang/asm.js";
import { Session } from "../src/session.js";
import { verify } from "../src/vm/verify.js";

// Int-only calls are recorded compactly while the guest runs; these pin that
// what the trace holds afterwards is exactly what an object per call would be.
const PROG = `
.cap t.int
.cap t.arr
.func main 0 1
  PUSH 3
  LSET 0
loop:
  LGET 0
  PUSH 7
  CAP t.int 2      ; int args, int result: compact
  POP
  LGET 0
  CAP t.arr 1      ; int arg, array result: an ordinary event
  POP
  LINC 0 -1
  LGET 0
  JNZ loop
  PUSH 0
  RET
`;

describe("compact trace recording", () => {
  it("keeps calls in order, with arguments as they were before the handler ran", () => {
    const m = verify(assemble(PROG));
    const s = Session.start(m, {
      caps: ["t.int", "t.arr"],
      handlers: {
        "t.int": {
          sig: { args: ["int", "int"], result: "int" },
          call(args) {
            const r = (args[0] as number) * 10 + (args[1] as number);
            args[0] = -999; // a handler mutating its copy must not change the record
            return r;
          },
        },
        "t.arr": { sig: { args: ["int"], result: "array" }, call: ([n]) => Int32Array.of(n as number, 1) },
      },
    });
    expect(s.run().status).toBe("done");
    const calls = (s.trace?.events() ?? []).filter((e) => e.kind === "cap");
    expect(calls.map((e) => (e.kind === "cap" ? [e.cap, e.path, [...e.args].map(Number), e.result] : null))).toEqual([
      ["t.int", "0", [3, 7], 37],
      ["t.arr", "0", [3], Int32Array.of(3, 1)],
      ["t.int", "0", [2, 7], 27],
      ["t.arr", "0", [2], Int32Array.of(2, 1)],
      ["t.int", "0", [1, 7], 17],
      ["t.arr", "0", [1], Int32Array.of(1, 1)],
    ]);
  });

  it("keeps thousands of calls in order across the fixed-size blocks they fill", () => {
    const m = verify(assemble(PROG.replace("PUSH 3\n  LSET 0", "PUSH 9000\n  LSET 0").replace(/\n  LGET 0\n  CAP t\.arr 1[^\n]*\n  POP/, "")));
    const s = Session.start(m, {
      gas: 10_000_000,
      caps: ["t.int", "t.arr"],
      handlers: {
        "t.int": { sig: { args: ["int", "int"], result: "int" }, call: ([a, b]) => (a as number) - (b as number) },
        "t.arr": { sig: { args: ["int"], result: "array" }, call: () => new Int32Array(0) },
      },
    });
    expect(s.run().status).toBe("done");
    const calls = (s.trace?.events() ?? []).filter((e) => e.kind === "cap");
    expect(calls.length).toBe(9000);
    calls.forEach((e, i) => {
      expect(e.kind === "cap" && [...e.args].map(Number)).toEqual([9000 - i, 7]);
      expect(e.kind === "cap" && e.result).toBe(9000 - i - 7);
    });
  });
});
