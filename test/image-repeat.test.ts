// The record-repeat shortcuts of images, both ways: writeTree copies the bytes
// of a record that is its previous sibling's but for the handle (sameRecord,
// WireWriter.repeat), buildTree reads such a record as a copy of the sibling
// (a run of them in one loop), and verifyTree checks of a copy only what reads
// its handle. Each must give exactly what the long way gives: the same bytes,
// the same tree, the same verdict.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeImage } from "../src/image/decode.js";
import { HEADER_BYTES, seal } from "../src/image/encode.js";
import { preorder, sameRecord, writeTree } from "../src/image/records.js";
import { verifyTree } from "../src/image/verify.js";
import { WireWriter, elementSpans, join } from "../src/image/wire.js";
import type { Process } from "../src/process/process.js";
import { Session } from "../src/session.js";
import { RarError } from "../src/vm/errors.js";
import { packr } from "../src/vm/module.js";
import { StatusCode } from "../src/vm/opcodes.js";
import { load } from "./helpers/asm.js";
import { sealValue, unpackBody } from "./image-fuzz.js";
import { F, type WireValue } from "../src/image/format.js";

/** A child of the tree: the value it yields and the words of the root's memory it gets (0 or 1). */
interface Kid {
  v: number;
  len: number;
}

/** The root spawns the kids in order, resumes each until it yields its value, then spins out of gas. */
function program(kids: readonly Kid[]): string {
  const spawns = kids
    .map(
      (k) => `  PUSH ${k.v}
  PUSH 0
  PUSH ${k.len}
  PUSH 1000
  PUSH 1000
  PUSH 0
  PUSH 0
  SPAWN child
  RESUME
  POP`,
    )
    .join("\n");
  return `.func main 0 2
  PUSH 2
  MGROW
  POP
${spawns}
spin:
  LINC 0 1
  JMP spin
.func child 1
  LGET 0
  YIELD
  PUSH 0
  RET
`;
}

function tree(kids: readonly Kid[]): Session {
  const s = Session.start(load(program(kids)), { gas: 400 * kids.length + 2000, stdout: () => {} });
  expect(s.run().status).toBe("out_of_gas");
  expect(s.root.children.size).toBe(kids.length);
  return s;
}

/** The tree's records as writeTree writes them, with or without copying repeated records. */
function records(root: Process, repeat: boolean): Uint8Array {
  const w = new WireWriter();
  const procs = preorder(root);
  const index = new Map<string, number>();
  for (const p of procs) if (!index.has(p.module.digest)) index.set(p.module.digest, index.size);
  writeTree(w, procs, index, false, repeat);
  return join(w.parts());
}

const kid = fc.record({ v: fc.integer({ min: 0, max: 2 }), len: fc.integer({ min: 0, max: 1 }) });

/** Which processes of a decoded tree repeat their previous sibling's record (as buildTree marks them). */
function repeatsOf(procs: readonly Process[]): number[] {
  // A copy shares its sibling's stack (Process.borrowed); nothing else does.
  return procs.map((p, i) => (i > 0 && p.borrowed && procs[i - 1].parent === p.parent && procs[i - 1].stack === p.stack ? 1 : 0));
}

/** Marks (1: a copy) as verifyTree's runs of copies: the index of each run's first and the index after its last. */
function runsOf(marks: readonly number[]): number[] {
  const runs: number[] = [];
  for (let i = 0; i < marks.length; i++) {
    if (marks[i] === 0 || (i > 0 && marks[i - 1] !== 0)) continue;
    let j = i;
    while (j < marks.length && marks[j] !== 0) j++;
    runs.push(i, j);
  }
  return runs;
}

/** A session's image, its body, and where the body's tree field lies in it ([from, to)). */
function treeSpan(s: Session): { img: Uint8Array; whole: Uint8Array; from: number; to: number } {
  const img = s.snapshot();
  const whole = img.slice(HEADER_BYTES);
  const treeBytes = packr.pack(unpackBody(img)[4]);
  const from = Buffer.from(whole).indexOf(treeBytes);
  expect(from).toBeGreaterThan(0);
  return { img, whole, from, to: from + treeBytes.length };
}

describe("record repeats", () => {
  it("copied records are the bytes encoding gives them, and a restored tree re-encodes to the image it was read from", () => {
    fc.assert(
      fc.property(fc.array(kid, { minLength: 1, maxLength: 12 }), (kids) => {
        const s = tree(kids);
        expect(records(s.root, true)).toEqual(records(s.root, false));
        const image = s.snapshot();
        const back = Session.fromImage(image, { stdout: () => {} });
        expect(Buffer.compare(back.snapshot(), image)).toBe(0);
        expect(records(back.root, true)).toEqual(records(back.root, false));
      }),
      { numRuns: 40 },
    );
  });

  it("a change to any field of one of two like children shows in its record (sameRecord misses none)", () => {
    const s = tree([
      { v: 1, len: 1 },
      { v: 1, len: 1 },
    ]);
    const [, a, b] = preorder(s.root);
    expect(sameRecord(b, a)).toBe(true);
    const same = records(s.root, false);
    expect(records(s.root, true)).toEqual(same);
    /** Changes b, checks that both encodings agree and differ from the unchanged one, then undoes the change. */
    const changed = (what: string, change: () => () => void): void => {
      const undo = change();
      const long = records(s.root, false);
      expect(records(s.root, true), what).toEqual(long);
      expect(long, what).not.toEqual(same);
      undo();
      expect(records(s.root, true)).toEqual(same);
    };
    const rec = b as unknown as Record<string, unknown>;
    // Every number field the record holds (a field added to Process is found here too), but the handle,
    // which the copy writes itself, and what the record does not hold.
    const numbers = Object.keys(rec).filter((k) => typeof rec[k] === "number" && k !== "handle" && k !== "depth");
    expect(numbers.length).toBeGreaterThan(10);
    for (const k of numbers) {
      changed(k, () => {
        const old = rec[k] as number;
        rec[k] = old + 1;
        return () => (rec[k] = old);
      });
    }
    const words = (k: "stack" | "frames" | "mem", i: number): void =>
      changed(k, () => {
        const old = b[k];
        b[k] = Int32Array.from(old);
        b[k][i] ^= 0x100;
        return () => (b[k] = old);
      });
    words("frames", 0);
    words("mem", 0);
    words("stack", 0);
    // The same stack in two arrays (not shared): compared word by word.
    const shared = a.stack;
    a.stack = Int32Array.from(shared);
    expect(records(s.root, true)).toEqual(same);
    a.stack = shared;
    const setter = <K extends "faultKind" | "faultDetail" | "need" | "answer" | "inbox" | "request" | "caps" | "traps">(k: K, v: Process[K]): void =>
      changed(k, () => {
        const old = b[k];
        b[k] = v;
        return () => (b[k] = old);
      });
    setter("faultKind", "bad_arg");
    setter("faultDetail", "why");
    setter("need", 7);
    setter("answer", 3);
    setter("inbox", Int32Array.of(1, 2));
    setter("request", { cap: "clock.now", args: [] });
    setter("caps", ["io.print"]);
    setter("traps", ["clock.now"]);
    // Where it starts (module and entry function) is one shared object (Process.start).
    const starts = (what: string, start: () => { module: unknown; fn: number }): void =>
      changed(what, () => {
        const old = rec.start;
        rec.start = start();
        return () => (rec.start = old);
      });
    starts("module", () => ({ module: load(".func main 0 0\n  PUSH 0\n  RET\n"), fn: b.entryFn }));
    starts("entryFn", () => ({ module: b.module, fn: b.entryFn + 1 }));
  });

  it("a run of copies ends at the first record that is not one; every process is decoded as its bytes say", () => {
    fc.assert(
      fc.property(fc.array(kid, { minLength: 2, maxLength: 12 }), (kids) => {
        const s = tree(kids);
        const back = decodeImage(s.snapshot()).root;
        const kidsBack = back.children.list();
        expect(kidsBack.map((k) => [k.value, k.memSize, k.mem[0] ?? 0])).toEqual(s.root.children.list().map((k) => [k.value, k.memSize, k.mem[0] ?? 0]));
        // Like kids in a row after the first of them are copies; the first after a different one is read in full.
        const marks = repeatsOf(preorder(back));
        for (let i = 1; i < kids.length; i++) expect(marks[i + 1], `kid ${i}`).toBe(kids[i].v === kids[i - 1].v && kids[i].len === kids[i - 1].len ? 1 : 0);
      }),
      { numRuns: 40 },
    );
  });

  it("verifying a tree with its copies marked gives the verdict verifying every process in full gives", () => {
    // The same change made to a record and to all its copies (as when their bytes say it): the verdicts agree.
    type Change = (p: Process, root: Process) => void;
    const changes: Change[] = [
      (p) => (p.memUsed += 1),
      (p) => (p.gasUsed = p.gasLimit + 1),
      (p) => (p.status = StatusCode.READY),
      (p) => (p.pc += 1),
      (p) => (p.caps = ["io.print", "clock.now"]),
      (p) => (p.faultDetail = "x"),
      (p) => (p.waiting = 1),
      (p, root) => (root.waiting = p.handle),
      (p, root) => (root.waiting = p.handle + 1),
      () => {},
    ];
    fc.assert(
      fc.property(fc.array(kid, { minLength: 2, maxLength: 8 }), fc.nat(20), fc.nat(changes.length - 1), (kids, pick, c) => {
        const procs = preorder(decodeImage(tree(kids).snapshot()).root);
        const marks = repeatsOf(procs);
        // A process read in full and the copies of it that follow.
        const first = 1 + (pick % (procs.length - 1));
        let last = first;
        while (last + 1 < procs.length && marks[last + 1] === 1) last++;
        let start = first;
        while (marks[start] === 1) start--;
        for (let i = start; i <= last; i++) changes[c](procs[i], procs[0]);
        const verdict = (repeats: readonly number[] | null): string => {
          try {
            verifyTree(procs, "image", false, repeats === null ? null : runsOf(repeats));
            return "ok";
          } catch (e) {
            if (!(e instanceof RarError)) throw e;
            return e.key;
          }
        };
        expect(verdict(marks)).toBe(verdict(null));
      }),
      { numRuns: 300 },
    );
  });

  it("a copy of the child its parent waits on is refused, as a started, ready child no one waits on (the check that reads its handle)", () => {
    // Three kids yield; the root then resumes kid 2, which loops until the root's gas is spent: kid 2 is
    // ready mid-run, the root waits on it. Kid 3's record made kid 2's but for its handle: read as a copy.
    const spawn = `  PUSH 1
  PUSH 0
  PUSH 0
  PUSH 1000000
  PUSH 1000
  PUSH 0
  PUSH 0
  SPAWN child
  RESUME
  POP`;
    const src = `.func main 0 2\n${spawn}\n${spawn}\n${spawn}\n  PUSH 2\n  RESUME\n  POP\n  PUSH 0\n  RET\n.func child 1\n  LGET 0\n  YIELD\nloop:\n  JMP loop\n`;
    const s = Session.start(load(src), { gas: 2000, stdout: () => {} });
    expect(s.run().status).toBe("out_of_gas");
    expect([s.root.waiting, s.root.children.get(2)?.status]).toEqual([2, StatusCode.READY]);
    const body = unpackBody(s.snapshot());
    const records = body[4] as WireValue[][];
    records[3] = [3, ...records[2].slice(1)];
    const bad = sealValue(body);
    expect(() => decodeImage(bad)).toThrow(expect.objectContaining({ key: "image.status", message: expect.stringContaining("a started, ready process is one its parent waits on") }));
    try {
      decodeImage(bad);
    } catch (e) {
      expect(String((e as RarError).where)).toContain("process 0.3 status");
    }
  });

  it("records declaring more children than the image holds get no room for them (a chain of such is refused, not allocated)", () => {
    // 60,000 records in a chain, each declaring all the records after it as its children: room made for
    // what each declares would be billions of slots; the chain is refused at the depth limit.
    const body = unpackBody(tree([{ v: 1, len: 0 }]).snapshot());
    const kidRecord = (body[4] as WireValue[][])[1];
    const n = 60_000;
    body[4] = Array.from({ length: n }, (_, i) => {
      const r = kidRecord.slice();
      r[F.handle] = i === 0 ? 0 : 1;
      r[F.nextHandle] = 2;
      r[F.children] = n - 1 - i;
      return r;
    });
    expect(() => decodeImage(sealValue(body))).toThrow(expect.objectContaining({ key: "image.depth" }));
  });

  it("every single-byte change in a tree of runs of like records is refused as image.*, or each record reads as its own bytes say", () => {
    const s = tree([
      { v: 1, len: 0 },
      { v: 1, len: 0 },
      { v: 1, len: 0 },
      { v: 2, len: 0 },
      { v: 2, len: 1 },
      { v: 2, len: 1 },
      { v: 1, len: 0 },
    ]);
    const { img, whole, from, to } = treeSpan(s);
    fc.assert(
      fc.property(fc.integer({ min: from, max: to - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
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
        // An independent reader (msgpackr) of the changed bytes sees the tree the decoder built.
        expect(unpackBody(back.snapshot())[4]).toEqual(unpackBody(bad)[4]);
      }),
      { numRuns: 1500 },
    );
  });

  it("long runs (compared a chunk at a time, across handle widths): any single-byte change decodes exactly as reading each record on its own does, or fails the same way", () => {
    // 300 kids: runs of like records past handles 127 and 255 (one, two and three-byte handles), broken twice.
    const kids = Array.from({ length: 300 }, (_, k) => (k === 40 || k === 200 ? { v: 2, len: 1 } : { v: 1, len: 0 }));
    const s = tree(kids);
    const { img, whole, from, to } = treeSpan(s);
    /** What decoding gives: the tree's records as writeTree writes them, or the error's key and message. */
    const verdict = (bytes: Uint8Array, readAhead: boolean): string => {
      try {
        return Buffer.from(records(decodeImage(bytes, { readAhead }).root, false)).toString("hex");
      } catch (e) {
        if (!(e instanceof RarError)) throw e;
        return `${e.key}: ${e.message}`;
      }
    };
    expect(verdict(img, true)).toBe(verdict(img, false));
    expect(verdict(img, true)).toBe(Buffer.from(records(s.root, false)).toString("hex"));
    fc.assert(
      fc.property(fc.integer({ min: from, max: to - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const body = whole.slice();
        body[at] ^= x;
        const bad = seal([body], body.length, img[6]);
        expect(verdict(bad, true)).toBe(verdict(bad, false));
      }),
      { numRuns: 1500 },
    );
    // Handles one apart (a child between them killed) and the next one's bytes in each width: the same too.
    for (const [k, delta] of [
      [100, 1],
      [127, 1],
      [128, 1],
      [255, 1],
      [256, 1],
    ] as [number, number][]) {
      const body = whole.slice();
      // Record k's handle byte (the last byte of the handle; its header is 3 bytes): changed by delta.
      const recs = elementSpans(body, [4]);
      const h = recs[k][0] + 3 + (k < 128 ? 0 : k < 256 ? 1 : 2);
      body[h] = (body[h] + delta) & 0xff;
      const bad = seal([body], body.length, img[6]);
      expect(verdict(bad, true), `record ${k}`).toBe(verdict(bad, false));
    }
  });
});
