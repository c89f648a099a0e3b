// Hostile checks of the shared empty children table (Process.adopt) and of
// the rare fields kept in one side object (fault, need, request, answer,
// inbox, files, path): what one process holds is never another's, whether the
// processes were spawned, decoded as copies of a repeated record, or reused.

import { describe, expect, it } from "vitest";
import { decodeImage } from "../src/image/decode.js";
import { imageCodec } from "../src/image/codec.js";
import { Process } from "../src/process/process.js";
import { Machine } from "../src/process/scheduler.js";
import { Session } from "../src/session.js";
import { StatusCode } from "../src/vm/opcodes.js";
import { load } from "./helpers/asm.js";

/**
 * The root spawns three children trapping kv.get (memory [5, 6, 7] each),
 * resumes each (each stops at its trapped call with the same request), answers
 * each with the same array (in its inbox), and yields: three identical records.
 * Resumed, each child copies its inbox to memory, adds it up and returns it.
 */
const TRAPPED = `.cap kv.get
.func main 0 3
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
${[1, 2, 3]
  .map(
    (h) => `  PUSH 0
  PUSH 4
  PUSH 100000
  PUSH 1000
  PUSH 0
  PUSH 1
  SPAWN child
  RESUME
  POP
  PUSH ${h}
  PUSH 1
  PUSH 3
  ANSWERA`,
  )
  .join("\n")}
  PUSH 0
  YIELD
${[1, 2, 3]
  .map(
    (h) => `  PUSH ${h}
  RESUME
  POP
  PUSH ${h}
  RESULT
  LGET 0
  ADD
  LSET 0`,
  )
  .join("\n")}
  LGET 0
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
  RET`;

const parked = (): Session => {
  const s = Session.start(load(TRAPPED), { gas: 10_000_000, stdout: () => {} });
  expect(s.run().status).toBe("yielded");
  return s;
};

describe("the rare fields of processes decoded as copies of one record", () => {
  it("each copy has its own request, inbox, answer and fault detail: changing one changes no sibling", () => {
    const d = decodeImage(parked().snapshot());
    const kids = d.root.children.list() as Process[];
    expect(kids).toHaveLength(3);
    expect(kids.every((k) => k.status === StatusCode.CAP_CALL && k.borrowed)).toBe(true);
    const [a, b, c] = kids;
    expect(a.request?.cap).toBe("kv.get");
    expect(Array.from(b.inbox ?? [])).toEqual([5, 6, 7]);
    expect(a.request).not.toBe(b.request);
    expect(a.request?.args[0]).not.toBe(b.request?.args[0]);
    expect(a.inbox).not.toBe(b.inbox);
    expect(a.mem).not.toBe(b.mem);
    (a.inbox as Int32Array)[0] = 99;
    (a.request?.args[0] as Int32Array)[0] = 99;
    a.mem[0] = 99;
    a.answer = 123;
    a.faultDetail = "only a's";
    a.need = 17;
    for (const k of [b, c]) {
      expect(Array.from(k.inbox ?? [])).toEqual([5, 6, 7]);
      expect(Array.from(k.request?.args[0] ?? [])).toEqual(Array.from(d.root.children.get(3)?.request?.args[0] ?? []));
      expect(k.request?.args[0][0]).not.toBe(99);
      expect(k.mem[0]).toBe(0);
      expect([k.answer, k.faultDetail, k.need]).toEqual([3, "", 0]);
    }
  });

  it("restored, the copies run on their own inboxes to the value the straight run gives", () => {
    const s = parked();
    const back = Session.fromImage(s.snapshot(), { stdout: () => {} });
    const [x, y] = [s.run(), back.run()];
    expect(x).toMatchObject({ status: "done", value: 3 * 18 });
    expect([y.status, y.value, y.gasUsed]).toEqual([x.status, x.value, x.gasUsed]);
    expect(back.digest()).toBe(s.digest());
  });
});

describe("the shared empty children table", () => {
  it("a leaf refuses a child set into the shared table directly; adopt gives it its own, no other leaf sees it", () => {
    const m = load(`.func main 0 0
  PUSH 0
  RET`);
    const root = new Process(m, 0, [], new Int32Array(0), 1000, 1000, [], [], null, 0);
    const a = new Process(m, 0, [], new Int32Array(0), 10, 10, [], [], root, 1);
    const b = new Process(m, 0, [], new Int32Array(0), 10, 10, [], [], root, 2);
    expect(a.children).toBe(b.children);
    expect(() => a.children.set(1, b)).toThrow(/shared empty children table/);
    expect(a.children.size + b.children.size).toBe(0);
    expect(a.children.delete(1)).toBe(false);
    a.adopt(1, new Process(m, 0, [], new Int32Array(0), 1, 1, [], [], a, 1));
    expect(a.children.size).toBe(1);
    expect(b.children.size).toBe(0);
    expect(b.children.get(1)).toBeUndefined();
    expect(new Process(m, 0, [], new Int32Array(0), 1, 1, [], [], null, 0).children.size).toBe(0);
  });

  it("leaves of a decoded tree and of a machine that recycles get children of their own: a grandchild is under its parent only", () => {
    // Root spawns three leaves (parked at a yield), kills the second, spawns a fourth (reused on a recycling
    // machine), snapshots and restores the first (RESTORE adopts it), and each leaf then spawns a grandchild.
    const text = `.func main 0 6
${[1, 2, 3]
  .map(
    () => `  PUSH 0
  PUSH 0
  PUSH 100000
  PUSH 10000
  PUSH 0
  PUSH 0
  SPAWN leaf
  RESUME
  POP`,
  )
  .join("\n")}
  PUSH 2
  KILL
  PUSH 0
  PUSH 0
  PUSH 100000
  PUSH 10000
  PUSH 0
  PUSH 0
  SPAWN leaf
  LSET 0
  LGET 0
  RESUME
  POP
  PUSH 1
  SNAPSHOT
  LTEE 1
  MGROW
  LTEE 2
  INBOX
  LGET 2
  LGET 1
  RESTORE
  LSET 3
  LGET 3
  RESUME
  POP
  PUSH 1
  RESUME
  POP
  LGET 0
  RESUME
  POP
  PUSH 0
  YIELD
  PUSH 0
  RET
.func leaf 0 0
  PUSH 0
  YIELD
  PUSH 0
  PUSH 0
  PUSH 1000
  PUSH 100
  PUSH 0
  PUSH 0
  SPAWN grand
  POP
  PUSH 0
  YIELD
  PUSH 0
  RET
.func grand 0 0
  PUSH 0
  RET`;
    for (const recycle of [false, true]) {
      const machine = new Machine({ recycle, images: imageCodec });
      const root = machine.createRoot(load(text), 0, [], { gas: 10_000_000, mem: 1_000_000 }, [], new Int32Array(0));
      machine.run(root);
      expect([root.status, root.faultKind]).toEqual([StatusCode.YIELDED, null]);
      const leaves = root.children.list() as Process[];
      expect(leaves.map((l) => l.handle)).toEqual([1, 3, 4, 5]);
      // Leaves 1, 4 (spawned after a kill) and 5 (restored) were resumed into their spawn; leaf 3 was not.
      expect(leaves.map((l) => l.children.size)).toEqual([1, 0, 1, 1]);
      for (const l of leaves) for (const g of l.children.values()) expect(g.parent).toBe(l);
      const grands = leaves.flatMap((l) => l.children.list());
      expect(new Set(grands).size).toBe(3);
      expect(new Set(leaves.filter((l) => l.children.size > 0).map((l) => l.children)).size).toBe(3);
    }
  });
});

describe("a reused process starts with none of its earlier life's rare fields", () => {
  it("a child that faulted and held an inbox, killed and reused by the next spawn, starts clean", () => {
    const text = `.cap kv.get
.func main 0 1
  PUSH 4
  MGROW
  POP
  PUSH 0
  PUSH 0
  PUSH 100000
  PUSH 1000
  PUSH 0
  PUSH 1
  SPAWN child
  LTEE 0
  RESUME
  POP
  LGET 0
  PUSH 0
  PUSH 3
  ANSWERA
  LGET 0
  RESUME
  POP
  LGET 0
  KILL
  PUSH 0
  PUSH 0
  PUSH 100000
  PUSH 1000
  PUSH 0
  PUSH 0
  SPAWN fresh
  LTEE 0
  PUSH 0
  YIELD
  LGET 0
  RESUME
  RET
.func child 0 0
  PUSH 0
  PUSH 1
  CAP kv.get 2
  TRAP 7
.func fresh 0 0
  PUSH 0
  YIELD
  PUSH 0
  RET`;
    for (const recycle of [false, true]) {
      const machine = new Machine({ recycle, images: imageCodec });
      const root = machine.createRoot(load(text), 0, [], { gas: 10_000_000, mem: 1_000_000 }, [], new Int32Array(0));
      machine.run(root);
      expect(root.status).toBe(StatusCode.YIELDED);
      const c = root.children.get(2) as Process;
      expect([c.status, c.faultKind, c.faultDetail, c.need, c.request, c.answer, c.inbox, c.files]).toEqual([StatusCode.READY, null, "", 0, null, 0, null, null]);
      expect(c.path).toBe("0.2");
    }
  });
});
