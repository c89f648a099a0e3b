// Hostile checks of the image/process changes of h5-img5 (Process.borrowed,
// the record-repeat shortcut of decode, the encoder's scratch buffer, the
// shared empty children table and the side object of rare fields).
//
// The strongest oracle: a run taken straight to its end and the same run
// snapshotted at a point, restored and continued end in the same state
// (value, gas, digest, image bytes). Programs below park a tree of identical
// children (which decode as copies sharing one stack and one frames array)
// and then write into them one at a time, in an order fast-check picks: a
// missed own() would show as a sibling's changed local, result or digest.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeImage } from "../src/image/decode.js";
import { HEADER_BYTES, seal } from "../src/image/encode.js";
import { wake } from "../src/process/control.js";
import type { Process } from "../src/process/process.js";
import { Machine } from "../src/process/scheduler.js";
import { imageCodec } from "../src/image/codec.js";
import { Session } from "../src/session.js";
import { RarError } from "../src/vm/errors.js";
import { F, type WireValue } from "../src/image/format.js";
import { packr } from "../src/vm/module.js";
import { StatusCode } from "../src/vm/opcodes.js";
import { load } from "./helpers/asm.js";
import { sealValue, unpackBody } from "./image-fuzz.js";

/**
 * n children of `child`, each granted nothing and trapping clock.now, each
 * resumed once so that all stop identically at their first (trapped) call.
 * Then, for each action [h, v]: v into child h's memory word 0 (CSTORE),
 * ANSWER h (v + 1000) (wake writes the answer on the child's stack), RESUME
 * h (completeResume writes the status on the root's stack; the child adds
 * answer + mem[0] to its local and yields it), RESULT h added to the root's
 * local 1, RESUME h again (back at its trapped call). The root returns its sum.
 */
function program(n: number, actions: readonly (readonly [number, number])[]): string {
  const spawn = Array.from(
    { length: n },
    () => `  PUSH 0
  PUSH 1
  PUSH 100000
  PUSH 1000
  PUSH 0
  PUSH 1
  SPAWN child
  RESUME
  POP`,
  ).join("\n");
  const act = actions
    .map(
      ([h, v]) => `  PUSH 1
  PUSH ${v}
  STORE 0
  PUSH ${h}
  PUSH 0
  PUSH 1
  PUSH 1
  CSTORE
  PUSH ${h}
  PUSH ${v + 1000}
  ANSWER
  PUSH ${h}
  RESUME
  POP
  PUSH ${h}
  RESULT
  LGET 1
  ADD
  LSET 1
  PUSH ${h}
  RESUME
  POP`,
    )
    .join("\n");
  return `.cap clock.now
.func main 0 2
  PUSH 4
  MGROW
  POP
${spawn}
${act}
  LGET 1
  RET
.func child 0 1
loop:
  CAP clock.now 0
  LGET 0
  ADD
  PUSH 0
  LOAD 0
  ADD
  LSET 0
  LGET 0
  YIELD
  JMP loop
`;
}

/** The least gas that leaves the root stopped with all n children parked at their trapped call. */
function parkingGas(n: number, actions: readonly (readonly [number, number])[]): number {
  const text = program(n, actions);
  for (let g = 1; g < 5000; g++) {
    const s = Session.start(load(text), { gas: g, stdout: () => {} });
    s.run();
    const kids = s.root.children.list();
    if (s.root.status === StatusCode.OUT_OF_GAS && kids.length === n && kids.every((k) => k.status === StatusCode.CAP_CALL)) return g;
  }
  throw new Error("no parking point");
}

/** A session stopped with n identical children parked at their trapped call (one action left to run). */
function parked(n: number): Session {
  const s = Session.start(load(program(n, [[2, 5]])), { gas: parkingGas(n, [[2, 5]]), stdout: () => {} });
  s.run();
  return s;
}

/** The first index where a and b differ (or the shorter length), -1 if equal. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

interface End {
  value: number;
  gasUsed: number;
  digest: string;
  image: Uint8Array;
  locals: number[];
}

function end(s: Session): End {
  const r = s.result();
  return {
    value: r.value ?? 0,
    gasUsed: r.gasUsed,
    digest: s.digest(),
    image: s.snapshot(),
    locals: s.root.children.list().map((c) => c.stack[c.bp]),
  };
}

/** Runs to the end, the root stopped for gas after `first` gas (refueled after). */
function straight(text: string, first: number): End {
  const s = Session.start(load(text), { gas: first, stdout: () => {} });
  let r = s.run();
  while (r.status === "out_of_gas") {
    s.refuel(10_000_000);
    r = s.run();
  }
  expect(r.status).toBe("done");
  return end(s);
}

/** The same, the stopped session snapshotted and restored before it continues (twice: a restored tree restored again). */
function roundTrip(text: string, first: number): End & { borrowedAtRestore: number } {
  const s0 = Session.start(load(text), { gas: first, stdout: () => {} });
  let r = s0.run();
  let s = s0;
  let borrowedAtRestore = 0;
  if (r.status === "out_of_gas") {
    const mid = Session.fromImage(s0.snapshot(), { stdout: () => {} });
    s = Session.fromImage(mid.snapshot(), { stdout: () => {} });
    borrowedAtRestore = s.root.children.list().filter((c) => c.borrowed).length;
    expect(firstDifference(s.snapshot(), s0.snapshot())).toBe(-1);
  }
  while (r.status === "out_of_gas") {
    s.refuel(10_000_000);
    r = s.run();
  }
  expect(r.status).toBe("done");
  return { ...end(s), borrowedAtRestore };
}

/** The value the program returns, computed in the host. */
function expected(n: number, actions: readonly (readonly [number, number])[]): { value: number; locals: number[] } {
  const local = new Array<number>(n).fill(0);
  let sum = 0;
  for (const [h, v] of actions) {
    local[h - 1] = (local[h - 1] + v + 1000 + v) | 0;
    sum = (sum + local[h - 1]) | 0;
  }
  return { value: sum, locals: local };
}

describe("identical children restored from an image (Process.borrowed)", () => {
  it("a snapshot anywhere, restored twice and continued, ends exactly as the straight run (value, gas, locals, digest, image bytes)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }).chain((n) =>
          fc.tuple(
            fc.constant(n),
            fc.array(fc.tuple(fc.integer({ min: 1, max: n }), fc.integer({ min: -50, max: 50 })), { minLength: 1, maxLength: 10 }),
            // Where the root stops for gas: before, among or after the spawns, or in the actions.
            fc.integer({ min: 1, max: 400 + 160 * n }),
          ),
        ),
        ([n, actions, first]) => {
          const text = program(n, actions);
          const a = straight(text, first);
          const b = roundTrip(text, first);
          const want = expected(n, actions);
          expect(a.value).toBe(want.value);
          expect(a.locals).toEqual(want.locals);
          expect(b.locals).toEqual(want.locals);
          expect([b.value, b.gasUsed, b.digest]).toEqual([a.value, a.gasUsed, a.digest]);
          expect(firstDifference(b.image, a.image)).toBe(-1);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("the snapshot point past every spawn restores every child as a borrower, and they still end apart", () => {
    const n = 5;
    // Stop the root right after the spawns: find the gas by running once to the first action's STORE.
    const actions: [number, number][] = [
      [3, 7],
      [1, -2],
      [3, 1],
      [5, 40],
    ];
    const text = program(n, actions);
    const first = parkingGas(n, actions);
    const b = roundTrip(text, first);
    // The first child is the record the others repeat: it shares its buffers with them too.
    expect(b.borrowedAtRestore).toBe(n);
    const a = straight(text, first);
    expect(b.locals).toEqual(expected(n, actions).locals);
    expect([b.value, b.gasUsed, b.digest]).toEqual([a.value, a.gasUsed, a.digest]);
    expect(firstDifference(b.image, a.image)).toBe(-1);
  });

  it("wake (ANSWER then RESUME) writes the answer on the woken child's stack only, never on the siblings it shares it with", () => {
    const t = parked(3);
    const d = decodeImage(t.snapshot());
    const [k1, k2, k3] = d.root.children.list() as Process[];
    expect(k2.borrowed && k3.borrowed && k2.stack === k1.stack && k3.stack === k1.stack).toBe(true);
    const before = Array.from(k1.stack.subarray(0, k1.sp + 1));
    k2.answer = 77;
    wake(k2);
    expect(k2.stack[k2.sp - 1]).toBe(77);
    expect(Array.from(k1.stack.subarray(0, k1.sp + 1))).toEqual(before);
    expect(Array.from(k3.stack.subarray(0, k3.sp + 1))).toEqual(before);
  });
});

describe("records that repeat their sibling must not be confused with it", () => {
  /** An image of 4 identical parked children, its body, and where its tree part lies in the body. */
  const setup = (): { img: Uint8Array; whole: Uint8Array; from: number; to: number } => {
    const img = parked(4).snapshot();
    // The tree part's bytes (canonical msgpack: packing its value again finds them in the body).
    const whole = img.slice(HEADER_BYTES);
    const treeBytes = packr.pack(unpackBody(img)[4]);
    const from = Buffer.from(whole).indexOf(treeBytes);
    expect(from).toBeGreaterThan(0);
    return { img, whole, from, to: from + treeBytes.length };
  };

  /** The image with body byte `at` xored with x, sealed again (the digest right, so the change reaches the tree reader). */
  const mutated = (img: Uint8Array, whole: Uint8Array, at: number, x: number): Uint8Array => {
    const body = whole.slice();
    body[at] ^= x;
    return seal([body], body.length, img[6]);
  };

  /** The restored session, or the RarError refusing the image (anything else thrown fails the test). */
  const restore = (bad: Uint8Array): Session | RarError => {
    try {
      return Session.fromImage(bad, { stdout: () => {} });
    } catch (e) {
      if (!(e instanceof RarError)) throw e;
      return e;
    }
  };

  it("every single-byte change in the tree of identical children is refused as image.*, or each record reads as its own bytes say (no record taken for its neighbour)", () => {
    const { img, whole, from, to } = setup();
    fc.assert(
      fc.property(fc.integer({ min: from, max: to - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const bad = mutated(img, whole, at, x);
        const back = restore(bad);
        if (back instanceof RarError) {
          // image.*, or the host's refusal of a root whose grants the mutation changed.
          expect(back.key).toMatch(/^(image\.|policy\.not_granted$)/);
          return;
        }
        // The tree as msgpackr reads the mutated bytes (an independent reader), record by record,
        // equals the tree the decoder built (re-encoded): each changed record kept its change.
        // A name's ASCII byte made non-ASCII is invalid UTF-8, which msgpackr and the decoder read
        // differently (see the it.fails below): no oracle for those.
        if (whole[at] >= 0x20 && whole[at] < 0x7f && (whole[at] ^ x) >= 0x80) return;
        const want = unpackBody(bad)[4];
        expect(unpackBody(back.snapshot())[4]).toEqual(want);
      }),
      { numRuns: 1500 },
    );
  });

  // BUG (pre-existing, also on main; not from the record-repeat shortcut): the tree reader accepts
  // non-canonical encodings (an int in a wider form than the shortest, e.g. uint16 0x0000 for 0,
  // and strings of invalid UTF-8 in capability/trap names, read with U+FFFD), so a restored image
  // re-encodes to other bytes (another imageDigest) than the ones checked. spec/image-format.md §2
  // says the same state always gives the same bytes; the decoder (src/image/wire.ts WireReader
  // int/str readers used by src/image/decode.ts buildTree) should refuse the other forms.
  it("a restored tree re-encodes to exactly the bytes it was read from (non-shortest ints and invalid UTF-8 names are refused)", () => {
    const { img, whole, from, to } = setup();
    for (let at = from; at < to; at++)
      for (const x of [1, 128]) {
        const bad = mutated(img, whole, at, x);
        const back = restore(bad);
        if (back instanceof RarError) continue;
        expect(firstDifference(back.snapshot(), bad)).toBe(-1);
      }
  });

  it("a record that differs from its previous sibling only in its memory, inbox, request, grants or answer is read as its own", () => {
    // Each field changed in child 3 of 4 identical records (through the wire value, canonically re-encoded).
    const { img } = setup();
    const fields: [number, WireValue][] = [
      [F.mem, new Uint8Array([9, 0, 0, 0])],
      [F.inbox, new Uint8Array([5, 0, 0, 0, 6, 0, 0, 0])],
      [F.answer, 42],
      [F.traps, []],
    ];
    for (const [field, value] of fields) {
      const body = unpackBody(img);
      const tree = body[4] as WireValue[][];
      tree[3][field] = value;
      const back = restore(sealValue(body));
      if (back instanceof RarError) {
        expect(back.key).toMatch(/^image\./);
        continue;
      }
      const got = unpackBody(back.snapshot())[4] as WireValue[][];
      expect(got[3][field]).toEqual(value);
      // Its neighbours keep the values they had.
      expect(got[2][field]).toEqual((unpackBody(img)[4] as WireValue[][])[2][field]);
      expect(got[4][field]).toEqual((unpackBody(img)[4] as WireValue[][])[4][field]);
    }
  });
});

/** What mid does once resumed: resume a child and add what it yields, kill one, or spawn one (resumed once). */
type Act = { kind: "resume" | "kill"; pick: number } | { kind: "spawn" };

const SPAWN_COUNTER = `  PUSH 0
  PUSH 0
  PUSH 100000
  PUSH 1000
  PUSH 0
  PUSH 0
  SPAWN counter`;

/**
 * Root spawns mid; mid spawns n counters, resumes each once (all yield 1:
 * identical records) and yields. With `restore`, the root snapshots mid
 * (guest SNAPSHOT), restores it (guest RESTORE: mid's children decoded as
 * borrowers inside the running machine) and drives the copy; else it drives
 * mid itself. Mid then plays `acts` and returns the sum of what its resumed
 * children yielded; the root returns mid's value.
 */
function guestProgram(n: number, acts: readonly Act[], restore: boolean): { text: string; want: number } {
  const live: number[] = [];
  const count = new Map<number, number>();
  let next = 1;
  const lines: string[] = [];
  const spawnOne = (): void => {
    lines.push(SPAWN_COUNTER, "  LTEE 1", "  RESUME", "  POP");
    live.push(next);
    count.set(next++, 1);
  };
  for (let i = 0; i < n; i++) spawnOne();
  lines.push("  PUSH 0", "  YIELD");
  let sum = 0;
  for (const a of acts) {
    if (a.kind === "spawn") {
      spawnOne();
      continue;
    }
    if (live.length === 0) continue;
    const h = live[a.pick % live.length];
    if (a.kind === "kill") {
      lines.push(`  PUSH ${h}`, "  KILL");
      live.splice(live.indexOf(h), 1);
    } else {
      const c = (count.get(h) ?? 0) + 1;
      count.set(h, c);
      sum = (sum + c) | 0;
      lines.push(`  PUSH ${h}`, "  RESUME", "  POP", `  PUSH ${h}`, "  RESULT", "  LGET 0", "  ADD", "  LSET 0");
    }
  }
  const drive = restore
    ? `  LGET 0
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
  LGET 3
  RESULT`
    : `  LGET 0
  RESUME
  POP
  LGET 0
  RESULT`;
  const text = `.func main 0 5
  PUSH 0
  PUSH 0
  PUSH 10000000
  PUSH 1000000
  PUSH 0
  PUSH 0
  SPAWN mid
  LSET 0
  LGET 0
  RESUME
  POP
${drive}
  RET
.func mid 0 2
${lines.join("\n")}
  LGET 0
  RET
.func counter 0 1
loop:
  LINC 0 1
  LGET 0
  YIELD
  JMP loop
`;
  return { text, want: sum };
}

describe("identical children restored by a guest RESTORE, on machines that recycle and that do not", () => {
  const act: fc.Arbitrary<Act> = fc.oneof(
    fc.record({ kind: fc.constantFrom("resume" as const, "kill" as const), pick: fc.nat(20) }),
    fc.constant({ kind: "spawn" as const }),
    fc.record({ kind: fc.constant("resume" as const), pick: fc.nat(20) }),
  );

  it("the restored copy's children (borrowers) run, die and are reused as the original's do: the same value, the original untouched", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), fc.array(act, { maxLength: 16 }), fc.boolean(), (n, acts, recycle) => {
        const runOne = (restore: boolean): Process => {
          const { text } = guestProgram(n, acts, restore);
          const machine = new Machine({ recycle, images: imageCodec });
          const root = machine.createRoot(load(text), 0, [], { gas: 100_000_000, mem: 10_000_000 }, [], new Int32Array(0));
          machine.run(root);
          return root;
        };
        const { want } = guestProgram(n, acts, true);
        const straightRoot = runOne(false);
        const restoredRoot = runOne(true);
        expect([straightRoot.status, straightRoot.faultKind, straightRoot.faultDetail, restoredRoot.faultKind, restoredRoot.faultDetail]).toEqual([StatusCode.DONE, null, "", null, ""]);
        expect(restoredRoot.status).toBe(StatusCode.DONE);
        expect(straightRoot.value).toBe(want);
        expect(restoredRoot.value).toBe(want);
        // With nothing played, the copy's children are still the borrowers RESTORE made.
        const copy = restoredRoot.children.get(2) as Process;
        if (acts.length === 0) expect(copy.children.list().every((c) => c.borrowed)).toBe(true);
        // The original mid (handle 1), left parked at its yield, still holds n identical counters at 1.
        const mid = restoredRoot.children.get(1) as Process;
        expect(mid.children.list().map((c) => [c.status, c.value])).toEqual(Array.from({ length: n }, () => [StatusCode.YIELDED, 1]));
      }),
      { numRuns: 80 },
    );
  });
});

describe("the modules part, unpacked module by module (a module known by digest is not read again)", () => {
  it("every single-byte change in the modules part is refused as image.* (or policy.not_granted), or the image restores and runs as its bytes say", () => {
    const img = parked(3).snapshot();
    const whole = img.slice(HEADER_BYTES);
    const modBytes = packr.pack(unpackBody(img)[3]);
    const from = Buffer.from(whole).indexOf(modBytes);
    expect(from).toBeGreaterThan(0);
    fc.assert(
      fc.property(fc.integer({ min: from, max: from + modBytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const body = whole.slice();
        body[at] ^= x;
        const bad = seal([body], body.length, img[6]);
        let back: Session;
        try {
          back = Session.fromImage(bad, { stdout: () => {} });
        } catch (e) {
          if (!(e instanceof RarError)) throw e;
          expect(e.key).toMatch(/^(image\.|policy\.not_granted$)/);
          return;
        }
        // Accepted: a module that verifies (a changed constant, say); it runs (bounded by its gas) without a host error.
        back.refuel(1_000_000);
        try {
          back.run();
        } catch (e) {
          if (!(e instanceof RarError)) throw e;
        }
      }),
      { numRuns: 600 },
    );
  });
});
