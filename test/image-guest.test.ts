// Guest SNAPSHOT and RESTORE (DESIGN §3): a parent serializes a child's
// subtree into its inbox and restores image bytes from its memory as new
// children. Restoring verifies everything and faults the caller — never the
// host — on a bad image.

import { describe, expect, it } from "vitest";
import { decodeImage } from "../src/image/decode.js";
import { Session } from "../src/session.js";
import { StatusCode } from "../src/vm/opcodes.js";
import { child, run, start } from "./helpers/asm.js";

const SPAWN = (fn: string, gas = 100_000, mem = 1000, grant = 0, ptr = "PUSH 0", len = "PUSH 0"): string =>
  `${ptr}\n  ${len}\n  PUSH ${gas}\n  PUSH ${mem}\n  PUSH ${grant}\n  PUSH 0\n  SPAWN ${fn}`;

/** Snapshots child in local 0 into memory; leaves the length in local 1 and the address in local 2. */
const SNAP_TO_MEMORY = `
  LGET 0
  SNAPSHOT
  LTEE 1
  MGROW
  LTEE 2
  INBOX`;

const COUNTER = `
.func counter 0 1
loop:
  LINC 0 1
  LGET 0
  YIELD
  JMP loop`;

describe("guest snapshot and restore", () => {
  it("restores a snapshot twice; the copies and the original continue independently", () => {
    const r = run(`
.func main 0 5
  ${SPAWN("counter")}
  LSET 0
  LGET 0
  RESUME
  POP
  ${SNAP_TO_MEMORY}
  LGET 2
  LGET 1
  RESTORE
  LSET 3
  LGET 2
  LGET 1
  RESTORE
  LSET 4
  LGET 3
  RESUME
  POP
  LGET 3
  RESUME
  POP
  LGET 4
  RESUME
  POP
  LGET 0
  RESUME
  POP
  LGET 0
  RESUME
  POP
  LGET 0
  RESUME
  POP
  LGET 3
  RESULT
  PUSH 100
  MUL
  LGET 4
  RESULT
  PUSH 10
  MUL
  ADD
  LGET 0
  RESULT
  ADD
  RET
${COUNTER}`);
    // Copy A yielded 2 then 3, copy B 2, the original 2, 3, 4.
    expect(r.status).toBe("done");
    expect(r.value).toBe(324);
    expect([...r.session.root.children.keys()]).toEqual([1, 2, 3]);
  });

  it("puts the image bytes in the inbox, one byte per word, decodable by the host", () => {
    const s = start(`
.func main 0 3
  ${SPAWN("counter")}
  LSET 0
  LGET 0
  RESUME
  POP
  ${SNAP_TO_MEMORY}
  LGET 1
  RET
${COUNTER}`);
    const r = s.run();
    const root = s.root;
    const len = r.value as number;
    const bytes = Uint8Array.from(root.mem.subarray(root.memSize - len, root.memSize));
    const img = decodeImage(bytes);
    expect(img.root.status).toBe(StatusCode.YIELDED);
    expect(img.root.value).toBe(1);
    // Migrated out of the guest, the child continues on the host where it stopped.
    const host = Session.fromImage(bytes, { stdout: () => {} });
    expect(host.run()).toMatchObject({ status: "yielded", value: 2 });
  });

  it("faults the caller with bad_image on corrupted bytes, and the host keeps running", () => {
    const r = run(`
.func main 0 3
  ${SPAWN("counter")}
  LSET 0
  ${SNAP_TO_MEMORY}
  LGET 2
  PUSH 60
  ADD
  LGET 2
  PUSH 60
  ADD
  LOAD 0
  PUSH 1
  XOR
  STORE 0
  LGET 2
  LGET 1
  RESTORE
  RET
${COUNTER}`);
    expect(r.status).toBe("fault");
    expect(r.fault).toContain("bad_image");
    expect(r.fault).toContain("digest");
  });

  it("faults the caller with bad_image when a memory word is not a byte", () => {
    const r = run(`
.func main 0 1
  PUSH 4
  MGROW
  LTEE 0
  PUSH 300
  STORE 0
  LGET 0
  PUSH 4
  RESTORE
  RET`);
    expect(r.status).toBe("fault");
    expect(r.fault).toContain("bad_image");
  });

  it("faults depth_limit when the restored tree would be too deep", () => {
    // main snapshots a two-level subtree (worker -> counter), then hands the bytes to a
    // child that restores them one level further down: depth 3 > 2.
    const s = start(
      `
.func main 0 5
  ${SPAWN("worker")}
  LSET 0
  LGET 0
  RESUME
  POP
  ${SNAP_TO_MEMORY}
  ${SPAWN("restorer", 100_000, 100_000, 0, "LGET 2", "LGET 1")}
  LSET 3
  LGET 3
  RESUME
  RET
.func worker 0 0
  ${SPAWN("counter")}
  RESUME
  YIELD
  PUSH 0
  RET
.func restorer 0 0
  PUSH 0
  MSIZE
  RESTORE
  RET
${COUNTER}`,
      { maxDepth: 2 },
    );
    const r = s.run();
    expect(r).toMatchObject({ status: "done", value: StatusCode.FAULT });
    expect(child(s.root, 2).faultKind).toBe("depth_limit");
  });

  it("a restored tree keeps only the capabilities its new parent holds", () => {
    const s = start(`
.cap io.print
.func main 0 5
  ${SPAWN("printer", 100_000, 1000, 1)}
  LSET 0
  ${SNAP_TO_MEMORY}
  ${SPAWN("restorer", 100_000, 100_000, 0, "LGET 2", "LGET 1")}
  LSET 3
  LGET 3
  RESUME
  POP
  LGET 3
  RESULT
  RET
.func restorer 0 1
  PUSH 0
  MSIZE
  RESTORE
  LTEE 0
  RESUME
  POP
  LGET 0
  RET
.func printer 0 1
  PUSH 1
  MGROW
  LTEE 0
  PUSH 33
  STORE 0
  LGET 0
  PUSH 1
  CAP io.print 2
  RET`);
    const r = s.run();
    expect(r.status).toBe("done");
    expect(child(s.root, 1).caps).toEqual(["io.print"]);
    const copy = child(s.root, 2, r.value as number);
    expect(copy.caps).toEqual([]);
    expect(copy.faultKind).toBe("cap_denied");
    expect(s.out()).toBe("");
  });

  it("a child stopped in a trapped capability call is imaged with its request; each copy takes its own answer", () => {
    const s = start(`
.cap clock.now
.func main 0 5
  ${SPAWN("asker", 100_000, 1000, 0)}
  LSET 0
  LGET 0
  RESUME
  POP
  ${SNAP_TO_MEMORY}
  LGET 2
  LGET 1
  RESTORE
  LSET 3
  LGET 3
  PUSH 7
  ANSWER
  LGET 0
  PUSH 5
  ANSWER
  LGET 3
  RESUME
  POP
  LGET 0
  RESUME
  POP
  LGET 3
  RESULT
  PUSH 100
  MUL
  LGET 0
  RESULT
  ADD
  RET
.func asker 0 0
  PUSH 20
  PUSH 22
  CAP clock.now 0
  ADD
  ADD
  RET`.replace("PUSH 0\n  SPAWN asker", "PUSH 1\n  SPAWN asker"));
    const r = s.run();
    // Each copy resumes with its own answer: (20 + 22 + 7) * 100 + (20 + 22 + 5).
    expect(r).toMatchObject({ status: "done", value: 4947 });
  });

  it("a host image of a tree with a child in cap_call keeps the request and the answer given so far", () => {
    const s = start(`
.cap clock.now
.func main 0 1
  ${SPAWN("asker", 100_000, 1000, 0).replace("PUSH 0\n  SPAWN", "PUSH 1\n  SPAWN")}
  LTEE 0
  RESUME
  YIELD
  LGET 0
  RESUME
  POP
  LGET 0
  RESULT
  RET
.func asker 0 0
  PUSH 3
  CAP clock.now 0
  ADD
  RET`);
    expect(s.run()).toMatchObject({ status: "yielded", value: StatusCode.CAP_CALL });
    const img = decodeImage(s.session.snapshot());
    const c = img.root.children.get(1);
    expect(c?.statusName).toBe("cap_call");
    expect(c?.request?.cap).toBe("clock.now");
    expect(c?.request?.args).toEqual([]);
    expect(c?.sp).toBe(1);
    const again = Session.fromImage(s.session.snapshot(), { stdout: () => {} });
    again.root.children.get(1)!.answer = 9;
    expect(again.run()).toMatchObject({ status: "done", value: 12 });
  });

  it("snapshots a faulted child for forensics: its state is kept", () => {
    const s = start(`
.func main 0 3
  ${SPAWN("divider")}
  LSET 0
  LGET 0
  RESUME
  POP
  ${SNAP_TO_MEMORY}
  LGET 1
  RET
.func divider 0 1
  PUSH 7
  LSET 0
  PUSH 1
  LGET 0
  PUSH 0
  DIV
  RET`);
    const r = s.run();
    const root = s.root;
    const len = r.value as number;
    const img = decodeImage(Uint8Array.from(root.mem.subarray(root.memSize - len, root.memSize)));
    expect(img.root.status).toBe(StatusCode.FAULT);
    expect(img.root.faultKind).toBe("div_by_zero");
    // Stopped at the DIV: the local, then the operands 1, 7, 0 still on the stack.
    expect([...img.root.stack.subarray(0, img.root.sp)]).toEqual([7, 1, 7, 0]);
  });
});
