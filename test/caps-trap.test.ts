// Trap mode (DESIGN §4): a capability a parent marks trap stops its child with
// status cap_call and the request (capability, arguments) for the parent to
// answer: mock it, filter it, or forward it with its own authority. The host
// never sees a trapped call, and the parent need not hold what it traps.

import { describe, expect, it } from "vitest";
import type { CapHandler } from "../src/caps/registry.js";
import type { Process } from "../src/process/process.js";
import { StatusCode } from "../src/vm/opcodes.js";
import { start } from "./helpers/asm.js";

const SPAWN_TRAPPED = (child: string, ptr: number, len: number, grant: number, trap: number): string => `
  PUSH ${ptr}
  PUSH ${len}
  PUSH 100000
  PUSH 1000
  PUSH ${grant}
  PUSH ${trap}
  SPAWN ${child}
  LSET 0`;

/** A parent that answers every trapped call of its child with `answer` (then answer + step, ...). */
const MOCK_CLOCK = `.cap clock.now
.func main 0 2
${SPAWN_TRAPPED("child", 0, 0, 0, 1)}
  PUSH 1000
  LSET 1
loop:
  LGET 0
  RESUME
  DUP
  PUSH ${StatusCode.CAP_CALL}
  NE
  JNZ out
  POP
  LGET 0
  LGET 1
  ANSWER
  LINC 1 250
  JMP loop
out:
  POP
  LGET 0
  RESULT
  RET
.func child 0 0
  CAP clock.now 0
  CAP clock.now 0
  SUB
  RET`;

function countingClock(): { handler: CapHandler; calls: () => number } {
  let n = 0;
  return {
    handler: {
      sig: { args: [], result: "int" },
      call: () => {
        n++;
        return 99;
      },
    },
    calls: () => n,
  };
}

describe("trap mode", () => {
  it("a trapped call stops the child with cap_call and its request; the parent's answer is what the call returns", () => {
    const s = start(MOCK_CLOCK.replace("JNZ out", "JNZ out\n  LGET 0\n  PUSH -1\n  REQUEST\n  POP"), { caps: ["clock.now"] });
    const r = s.run();
    expect(r.status).toBe("done");
    expect(r.value).toBe(1000 - 1250);
    // The request's capability name reached the parent's inbox as code points.
    expect(String.fromCodePoint(...(s.root.inbox ?? []))).toBe("clock.now");
  });

  it("the child is frozen at the call: status, request and pc are visible until the parent answers", () => {
    const s = start(MOCK_CLOCK.replace("loop:\n  LGET 0\n  RESUME", "loop:\n  LGET 0\n  RESUME\n  YIELD\n  PUSH 0"), { caps: [] });
    expect(s.run().status).toBe("yielded");
    const child = s.root.children.get(1) as Process;
    expect(child.statusName).toBe("cap_call");
    expect(child.request?.cap).toBe("clock.now");
    expect(child.request?.args).toEqual([]);
  });

  it("a parent may trap a capability it does not hold; the host is never called and nothing is traced", () => {
    const clock = countingClock();
    const s = start(MOCK_CLOCK, { caps: [], handlers: { "clock.now": clock.handler } });
    expect(s.run().value).toBe(-250);
    expect(clock.calls()).toBe(0);
    expect(s.session.trace?.events().filter((e) => e.kind === "cap" || e.kind === "cap_error")).toEqual([]);
  });

  it("a trapped capability wins over a grant of the same capability", () => {
    const clock = countingClock();
    const s = start(MOCK_CLOCK.replace("PUSH 0\n  PUSH 1\n  SPAWN", "PUSH 1\n  PUSH 1\n  SPAWN"), {
      caps: ["clock.now"],
      handlers: { "clock.now": clock.handler },
    });
    expect(s.run().value).toBe(-250);
    expect(clock.calls()).toBe(0);
  });

  it("a parent filters a child's output and forwards it with its own io.print", () => {
    const s = start(`.cap io.print
.func main 0 2
  PUSH 16
  MGROW
  POP
${[..."secret"].map((c, i) => `  PUSH ${1 + i}\n  PUSH ${c.codePointAt(0)}\n  STORE 0`).join("\n")}
${SPAWN_TRAPPED("child", 1, 6, 0, 1)}
  LGET 0
  RESUME
  POP
  LGET 0
  PUSH 0
  REQUEST      ; argument 0 (the text) into the inbox; its length
  LSET 1
  PUSH 8
  INBOX        ; to mem[8..]
  PUSH 8
  PUSH 8
  LOAD 0
  PUSH 32
  SUB
  STORE 0      ; capitalize the first letter
  PUSH 8
  LGET 1
  CAP io.print 2
  POP
  LGET 0
  PUSH 0
  ANSWER
  LGET 0
  RESUME
  RET
.func child 0 0
  PUSH 0
  PUSH 6
  CAP io.print 2
  RET`);
    const r = s.run();
    expect(r.status).toBe("done");
    expect(r.value).toBe(StatusCode.DONE);
    expect(s.out()).toBe("Secret\n");
    const calls = s.session.trace?.events().filter((e) => e.kind === "cap") ?? [];
    expect(calls.map((e) => (e.kind === "cap" ? e.path : ""))).toEqual(["0"]);
  });

  it("an array-result capability is answered with an array (ANSWERA) that lands in the child's inbox", () => {
    const s = start(`.cap kv.get
.func main 0 2
  PUSH 8
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
  STORE 0
${SPAWN_TRAPPED("child", 0, 4, 0, 1)}
  LGET 0
  RESUME
  POP
  LGET 0
  PUSH 1
  PUSH 3
  ANSWERA
  LGET 0
  RESUME
  POP
  LGET 0
  RESULT
  RET
.func child 0 0
  PUSH 0
  PUSH 1
  CAP kv.get 2
  POP
  PUSH 1
  INBOX
  PUSH 1
  LOAD 0
  PUSH 2
  LOAD 0
  ADD
  PUSH 3
  LOAD 0
  ADD
  RET`);
    const r = s.run();
    expect(r.status).toBe("done");
    expect(r.value).toBe(18);
  });
});
