// What a process costs the host is what it is charged, within the stated
// factor (spec/semantics.md, "What the host holds"): PROCESS_WORDS of
// bookkeeping, and every buffer the host keeps for a process counted in its
// footprint. A fresh child holds only its arguments and memory (both
// charged); a trapped request is charged until it is answered; siblings
// given the same grants share them; what a guest can make a fault detail or
// a grant quote is bounded. The bench (bench/hostmem.ts) measures the
// resulting host bytes; these tests pin the accounting down exactly.

import { describe, expect, it } from "vitest";
import { GRANT_MAX } from "../src/caps/registry.js";
import { decodeImage } from "../src/image/decode.js";
import { PROCESS_WORDS, REQUEST_ARG_WORDS } from "../src/process/process.js";
import { child, start } from "./helpers/asm.js";

const SPAWN_ARGS = (ptr: number, len: number, gas: number, mem: number, grant = 0, trap = 0): string =>
  `PUSH ${ptr}\n PUSH ${len}\n PUSH ${gas}\n PUSH ${mem}\n PUSH ${grant}\n PUSH ${trap}`;

describe("a fresh child", () => {
  const SRC = `.func main 0 1
  PUSH 3
  MGROW
  POP
  PUSH 7
  PUSH 8
  PUSH 9
  ${SPAWN_ARGS(1, 2, 100000, 100000)}
  SPAWN kid
  LSET 0
  PUSH 0
  YIELD
  LGET 0
  RESUME
  YIELD
  PUSH 0
  RET
.func kid 3 5
  LGET 0
  YIELD
  PUSH 0
  RET`;

  it("is charged its arguments until its entry frame replaces them", () => {
    const s = start(SRC);
    expect(s.run().status).toBe("yielded");
    const kid = child(s.root, 1);
    expect(kid.memUsed).toBe(PROCESS_WORDS + 2 + 3);
    expect(kid.ownFootprint()).toBe(kid.memUsed);
    expect(s.session.run().status).toBe("yielded");
    expect(kid.memUsed).toBe(PROCESS_WORDS + 2 + s.module.frameCost[1]);
  });

  it("holds no host buffer beyond what it is charged: its arguments and its memory, no frames", () => {
    const s = start(SRC);
    s.run();
    const kid = child(s.root, 1);
    expect(kid.stack.length).toBe(3);
    expect(kid.frames.length).toBe(0);
    expect(kid.mem.length).toBe(2);
  });

  it("keeps the charge of its arguments in an image", () => {
    const s = start(SRC);
    s.run();
    const img = decodeImage(s.session.snapshot());
    const kid = child(img.root, 1);
    expect(kid.memUsed).toBe(PROCESS_WORDS + 2 + 3);
    expect(img.root.memUsed).toBe(s.root.memUsed);
  });
});

describe("a finished child kept for its result", () => {
  const SRC = `.func main 0 1
  PUSH 5
  ${SPAWN_ARGS(0, 0, 100000, 100000)}
  SPAWN kid
  LTEE 0
  RESUME
  POP
  LGET 0
  RESULT
  YIELD
  PUSH 0
  RET
.func kid 1 3
  LGET 0
  PUSH 2
  CALL twice
  ADD
  RET
.func twice 1 1
  LGET 0
  LGET 0
  ADD
  RET`;

  it("holds no stack or frames (it never runs again), and its image and result are unchanged", () => {
    const s = start(SRC);
    const r = s.run();
    expect(r.status).toBe("yielded");
    expect(r.value).toBe(9);
    const kid = child(s.root, 1);
    expect(kid.statusName).toBe("done");
    expect(kid.stack.length).toBe(0);
    expect(kid.frames.length).toBe(0);
    expect(kid.ownFootprint()).toBe(kid.memUsed);
    // The image holds sp = fp = 0 words either way: it decodes and encodes to the same bytes.
    const bytes = s.session.snapshot();
    expect(decodeImage(bytes).root.children.get(1)?.statusName).toBe("done");
  });
});

describe("a trapped request", () => {
  const SRC = (childMem: number): string => `.cap t.ask
.func main 0 1
  ${SPAWN_ARGS(0, 0, 100000, childMem, 0, 1)}
  SPAWN kid
  LTEE 0
  RESUME
  POP
  LGET 0
  PUSH 5
  ANSWER
  PUSH 0
  YIELD
  LGET 0
  RESUME
  POP
  LGET 0
  RESULT
  RET
.func kid 0 0
  PUSH 1
  PUSH 2
  PUSH 3
  CAP t.ask 3
  RET`;
  const never = { "t.ask": { sig: { args: ["int", "int", "int"], result: "int" }, call: () => 0 } } as const;

  it("is charged to the caller and its ancestors until it is answered", () => {
    const s = start(SRC(100000), { caps: ["t.ask"], handlers: never });
    expect(s.run().status).toBe("yielded");
    const kid = child(s.root, 1);
    const frame = s.module.frameCost[1];
    expect(kid.statusName).toBe("cap_call");
    expect(kid.memUsed).toBe(PROCESS_WORDS + frame + 3 * (REQUEST_ARG_WORDS + 1));
    expect(s.root.memUsed).toBe(s.root.ownFootprint() + kid.memUsed);
    const r = s.session.run();
    expect(r.status).toBe("done");
    expect(r.value).toBe(5);
    expect(kid.memUsed).toBe(PROCESS_WORDS);
    expect(s.root.memUsed).toBe(s.root.ownFootprint() + PROCESS_WORDS);
  });

  it("that does not fit stops the caller out_of_mem before anything happens", () => {
    const frame = start(SRC(0)).module.frameCost[1];
    const s = start(SRC(PROCESS_WORDS + frame + 3 * (REQUEST_ARG_WORDS + 1) - 1), { caps: ["t.ask"], handlers: never });
    s.run();
    const kid = child(s.root, 1);
    expect(kid.statusName).toBe("out_of_mem");
    expect(kid.request).toBeNull();
    expect(kid.sp).toBe(3);
  });
});

describe("grants", () => {
  it("siblings given the same grants share them", () => {
    const s = start(`.cap io.print
.cap clock.now
.func main 0 0
  ${SPAWN_ARGS(0, 0, 1000, 1000, 2)}
  SPAWN kid
  ${SPAWN_ARGS(0, 0, 1000, 1000, 2)}
  SPAWN kid
  ${SPAWN_ARGS(0, 0, 1000, 1000, 3)}
  SPAWN kid
  RET
.func kid 0 0
  PUSH 0
  RET`, { caps: ["io.print", "clock.now"] });
    s.run();
    const [a, b, all] = [child(s.root, 1), child(s.root, 2), child(s.root, 3)];
    expect(a.caps).toEqual(["clock.now"]);
    expect(a.caps).toBe(b.caps);
    expect(all.caps).toBe(s.root.caps);
  });

  it("NARROW refuses a grant longer than an image can hold", () => {
    // Within the 4096 code points NARROW reads, but "fs.read:/data/" and it are longer than a grant may be.
    const long = "d/".repeat(2045);
    const cps = [...long].map((c) => c.codePointAt(0) as number);
    const s = start(`.cap fs.read
.func main 0 1
  PUSH ${cps.length}
  MGROW
  POP
  ${SPAWN_ARGS(0, 0, 1000, 1000, 1)}
  SPAWN kid
  LSET 0
${cps.map((c, i) => `  PUSH ${i + 1}\n  PUSH ${c}\n  STORE 0`).join("\n")}
  LGET 0
  PUSH 1
  PUSH ${cps.length}
  NARROW 0
  PUSH 0
  RET
.func kid 0 0
  PUSH 0
  RET`, { caps: ["fs.read:/data"], gas: 1e7, mem: 1e6 });
    const r = s.run();
    expect(r.status).toBe("fault");
    expect(r.fault).toContain("cap_denied");
    expect(r.fault).toContain(`longer than ${GRANT_MAX - "fs.read:".length}`);
    expect(child(s.root, 1).caps).toEqual(["fs.read:/data"]);
  });
});

describe("what a guest can make the host keep", () => {
  it("a fault's detail is at most 256 code units, however long the text it quotes", () => {
    const long = "../" + "x".repeat(3000);
    const cps = [...long].map((c) => c.codePointAt(0) as number);
    const s = start(`.cap fs.read
.func main 0 1
  PUSH ${cps.length}
  MGROW
  POP
  ${SPAWN_ARGS(0, 0, 1000, 1000, 1)}
  SPAWN kid
  LSET 0
${cps.map((c, i) => `  PUSH ${i + 1}\n  PUSH ${c}\n  STORE 0`).join("\n")}
  LGET 0
  PUSH 1
  PUSH ${cps.length}
  NARROW 0
  PUSH 0
  RET
.func kid 0 0
  PUSH 0
  RET`, { caps: ["fs.read:/data"], gas: 1e7, mem: 1e6 });
    const r = s.run();
    expect(r.status).toBe("fault");
    expect(s.root.faultDetail.length).toBeLessThanOrEqual(256);
  });

  it("a spawn bomb under a limit of L words makes at most L / PROCESS_WORDS children", () => {
    const L = 100 * PROCESS_WORDS;
    const s = start(`.func main 0 0
loop:
  ${SPAWN_ARGS(0, 0, 1000, 1000)}
  SPAWN kid
  POP
  JMP loop
.func kid 0 0
  PUSH 0
  RET`, { mem: L, gas: 1e7 });
    expect(s.run().status).toBe("out_of_mem");
    expect(s.root.children.size).toBeLessThan(L / PROCESS_WORDS);
    expect(s.root.children.size).toBeGreaterThan(L / PROCESS_WORDS - 3);
  });
});

describe("shared grant sets", () => {
  it("a narrowed scope holding a newline is not taken for two grants", () => {
    // A first child holds ["fs.read:/d/x", "fs.write:/e"]; a second, given fs.read only and narrowed to
    // "x\nfs.write:/e", holds one grant whose text is those two joined by a newline: it must not get theirs.
    const tricky = [..."x\nfs.write:/e"].map((c) => c.codePointAt(0) as number);
    const s = start(`.cap fs.read
.cap fs.write
.func main 0 1
  PUSH ${tricky.length}
  MGROW
  POP
  PUSH 1
  PUSH ${tricky[0]}
  STORE 0
  ${SPAWN_ARGS(0, 0, 1000, 1000, 3)}
  SPAWN kid
  LTEE 0
  PUSH 1
  PUSH 1
  NARROW 0
${tricky.map((c, i) => `  PUSH ${i + 1}\n  PUSH ${c}\n  STORE 0`).join("\n")}
  ${SPAWN_ARGS(0, 0, 1000, 1000, 1)}
  SPAWN kid
  LTEE 0
  PUSH 1
  PUSH ${tricky.length}
  NARROW 0
  PUSH 0
  RET
.func kid 0 0
  PUSH 0
  RET`, { caps: ["fs.read:/d", "fs.write:/e"] });
    expect(s.run().status).toBe("done");
    expect(child(s.root, 1).caps).toEqual(["fs.read:/d/x", "fs.write:/e"]);
    expect(child(s.root, 2).caps).toEqual(["fs.read:/d/x\nfs.write:/e"]);
  });
});
