// The file tree in images (image/files.ts, format 3): a run that writes files,
// suspended out of gas and resumed from its image again and again, ends with
// the files and the execution-state digest of a run that was never
// interrupted; the audit replays it and agrees; changed file bytes inside an
// image are caught by the digest; a malformed files part (bad order, a
// duplicate, a missing parent, a bad kind, a huge mode, ...) is a RarError,
// never a crash.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KIND, type FileTree } from "../src/caps/filetree.js";
import { decodeImage } from "../src/image/decode.js";
import { HEADER_BYTES, seal } from "../src/image/encode.js";
import { B, IMAGE_VERSION_FILES, type WireValue } from "../src/image/format.js";
import { WireWriter, join } from "../src/image/wire.js";
import { filesOf } from "../src/process/files.js";
import type { Session } from "../src/session.js";
import { Session as S } from "../src/session.js";
import { auditImage } from "../src/trace/audit.js";
import { RarError } from "../src/vm/errors.js";
import { packr } from "../src/vm/module.js";
import { startEnt, treePolicy } from "./helpers/vfs.js";

const MARK = [171, 205, 239, 18, 52, 86, 120, 154];

const WRITER = `
cap fs.write;
cap fs.write_at;
cap fs.read;
cap fs.mkdir;
cap fs.rename;
cap fs.remove;
cap fs.symlink;
cap fs.truncate;

fn main() {
  fs.mkdir("/d/e");
  let p = copy("/d/f00");
  let i = 0;
  while i < 30 {
    p[4] = 48 + i / 10;
    p[5] = 48 + i % 10;
    let b = array(50 + i);
    let j = 0;
    while j < len(b) {
      b[j] = (i * 31 + j * 7) % 200;
      j = j + 1;
    }
    fs.write(p, b);
    if i % 7 == 0 {
      fs.write_at(p, 100, [${MARK.join(", ")}]);
    }
    i = i + 1;
  }
  fs.rename("/d/f03", "/d/e/moved");
  fs.remove("/d/f04");
  fs.truncate("/d/f05", 3);
  fs.symlink("/d/link", "e/moved");
  let r = fs.read("/d/link");
  return len(r);
}
`;

const quiet = { stdout: () => {} };

/** Every node as comparable text, by path. */
function files(tree: FileTree): string[] {
  return [...tree.walk()].map(([p, n]) => `${p} ${n.kind} ${n.mode} ${n.kind === KIND.file ? [...n.data].join(",") : n.kind === KIND.link ? n.target : ""}`);
}

/** Runs WRITER suspended out of gas every `step` gas, each time moved through its image; the final session. */
function interrupted(step: number, record: boolean): { s: Session; legs: number } {
  let s = startEnt(WRITER, { gas: step, policy: treePolicy(), record }, { out: "" });
  let legs = 0;
  for (let r = s.run(); r.status === "out_of_gas"; r = s.run()) {
    s = S.fromImage(s.snapshot(), { ...quiet, policy: treePolicy(), record });
    s.refuel(step);
    legs++;
  }
  return { s, legs };
}

describe("files through suspension and images", () => {
  it("a run moved through its image at every out-of-gas ends with the files and digest of one uninterrupted run", () => {
    for (const step of [2_000, 9_000]) {
      const { s, legs } = interrupted(step, false);
      expect(legs).toBeGreaterThan(2);
      expect(s.result().status).toBe("done");
      expect(s.result().value).toBe(53);
      const whole = startEnt(WRITER, { gas: step * (legs + 1), policy: treePolicy(), record: false }, { out: "" });
      expect(whole.run().status).toBe("done");
      expect(files(filesOf(s.root))).toEqual(files(filesOf(whole.root)));
      expect(s.root.memUsed).toBe(whole.root.memUsed);
      expect(s.digest()).toBe(whole.digest());
    }
  });

  it("the audit of a recorded, many times resumed run is valid: replay rebuilds the same files", () => {
    const { s } = interrupted(5_000, true);
    expect(s.result().status).toBe("done");
    const image = s.snapshot();
    const report = auditImage(image);
    expect(report.problem).toBeNull();
    expect(report.valid).toBe(true);
    expect(report.replayDigest).toBe(report.digest);
    // No tree call is a host input: the trace holds none.
    expect(report.calls.filter((c) => c.cap.startsWith("fs."))).toEqual([]);
  });

  it("changed file bytes inside an image are caught (image digest), and so is a resealed change (execution-state digest)", () => {
    const s = startEnt(WRITER, { gas: 20_000, policy: treePolicy() }, { out: "" });
    expect(s.run().status).toBe("out_of_gas");
    const image = s.snapshot();
    expect(filesOf(s.root).empty).toBe(false);
    const at = findLast(image, MARK);
    expect(at).toBeGreaterThan(HEADER_BYTES);
    const bad = image.slice();
    bad[at + 3] ^= 1;
    expect(() => decodeImage(bad)).toThrow(RarError);
    expect(() => S.fromImage(bad, { ...quiet, policy: treePolicy() })).toThrow(/digest/);
    // The same change with a fresh image digest: the audit finds the recorded state is not this one.
    const resealed = seal([bad.subarray(HEADER_BYTES)], bad.length - HEADER_BYTES, IMAGE_VERSION_FILES);
    const verdict = auditOrError(resealed);
    expect(verdict).not.toBe("valid");
  });
});

function findLast(hay: Uint8Array, needle: number[]): number {
  for (let i = hay.length - needle.length; i >= 0; i--) if (needle.every((b, j) => hay[i + j] === b)) return i;
  return -1;
}

function auditOrError(image: Uint8Array): string {
  try {
    const r = auditImage(image);
    return r.valid ? "valid" : `invalid: ${r.problem?.kind ?? ""}`;
  } catch (e) {
    if (e instanceof RarError) return `error: ${e.message}`;
    throw e;
  }
}

/** A suspended image holding files, its body as values, and a way to seal a changed body. */
function base(): { image: Uint8Array; body: WireValue[] } {
  const s = startEnt(WRITER, { gas: 20_000, policy: treePolicy() }, { out: "" });
  s.run();
  const image = s.snapshot();
  return { image, body: packr.unpack(image.subarray(HEADER_BYTES)) as WireValue[] };
}

function sealBody(body: WireValue): Uint8Array {
  const w = new WireWriter().value(body);
  const bytes = join(w.parts());
  return seal([bytes], bytes.length, IMAGE_VERSION_FILES);
}

/** Decoding and resuming either works or throws a RarError; never anything else. */
function outcome(image: Uint8Array): "ok" | string {
  try {
    const s = S.fromImage(image, { ...quiet, policy: treePolicy(), record: false });
    s.root.gasLimit = Math.min(s.root.gasLimit, s.root.gasUsed + 20_000);
    s.run();
    s.snapshot();
    return "ok";
  } catch (e) {
    if (e instanceof RarError) return `${e.key}`;
    throw e;
  }
}

describe("malformed files parts", () => {
  const { image, body } = base();
  const part = body[B.files] as [number, [string, number, number, WireValue][]];
  const entries = part[1];
  const withEntries = (list: WireValue[], rootMode: WireValue = part[0]): Uint8Array => {
    const b = body.slice();
    b[B.files] = [rootMode, list];
    return sealBody(b);
  };

  it("the untouched body, re-encoded, is the same image", () => {
    expect(sealBody(body)).toEqual(image);
    expect(outcome(image)).toBe("ok");
    expect(entries.length).toBeGreaterThan(5);
  });

  it.each([
    ["bad order", () => withEntries([entries[1], entries[0], ...entries.slice(2)])],
    ["a duplicate", () => withEntries([entries[0], ...entries])],
    ["a missing parent", () => withEntries(entries.slice(1))],
    ["a child of a file", () => withEntries([...entries, [`${entries.find((e) => e[1] === KIND.file)?.[0]}/x`, KIND.file, 0o644, new Uint8Array(1)]])],
    ["a bad kind", () => withEntries(entries.map((e, i) => (i === 2 ? [e[0], 9, e[2], e[3]] : e)))],
    ["a file without bytes", () => withEntries(entries.map((e) => (e[1] === KIND.file ? [e[0], e[1], e[2], null] : e)))],
    ["a huge mode", () => withEntries(entries.map((e, i) => (i === 0 ? [e[0], e[1], 2 ** 40, e[3]] : e)))],
    ["a negative mode", () => withEntries(entries.map((e, i) => (i === 0 ? [e[0], e[1], -1, e[3]] : e)))],
    ["a huge root mode", () => withEntries(entries, 0o7777)],
    ["a relative path", () => withEntries(entries.map((e, i) => (i === 0 ? ["d", e[1], e[2], e[3]] : e)))],
    ["a `..` path", () => withEntries([...entries, ["/d/../x", KIND.dir, 0o755, null]])],
    ["an entry of three", () => withEntries(entries.map((e, i) => (i === 0 ? [e[0], e[1], e[2]] : e)))],
    ["an empty link target", () => withEntries([...entries, ["/zz", KIND.link, 0o777, ""]])],
    ["an empty files part", () => withEntries([])],
    ["not a list", () => withEntries(7 as unknown as WireValue[])],
  ])("%s is a RarError", (_, make) => {
    const r = outcome(make());
    expect(r).not.toBe("ok");
    expect(r.startsWith("image.")).toBe(true);
  });

  it("random changes to the files part never crash the host", () => {
    const value: fc.Arbitrary<WireValue> = fc.oneof(fc.integer({ min: -3, max: 2 ** 33 }), fc.constantFrom("/", "/d", "/d/e", "/q", "", "/d/f00", "x"), fc.constant(null), fc.uint8Array({ maxLength: 4 }));
    fc.assert(
      fc.property(fc.nat(entries.length - 1), fc.nat(3), value, fc.boolean(), (i, field, v, drop) => {
        const list = entries.map((e) => e.slice()) as WireValue[][];
        if (drop) list.splice(i, 1);
        else list[i][field] = v;
        const r = outcome(withEntries(list));
        expect(r === "ok" || r.startsWith("image.")).toBe(true);
      }),
      { numRuns: 80 },
    );
  });
});
