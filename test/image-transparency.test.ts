// Snapshot transparency (DESIGN §6): suspending a run at any instruction,
// encoding it, decoding it into a fresh machine, refueling and resuming —
// once or many times — gives exactly the output, result, total gas, memory
// and final execution-state digest of one uninterrupted run.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeImage } from "../src/image/decode.js";
import { encodeImage } from "../src/image/encode.js";
import { Session, type RunResult } from "../src/session.js";
import type { Module } from "../src/vm/module.js";
import { load } from "./helpers/asm.js";
import { progArb, renderProg, SAMPLE, SMALL } from "./image-programs.js";

const BIG_GAS = 50_000_000;
const BIG_MEM = 1 << 22;

interface Outcome {
  out: string;
  result: RunResult;
  digest: string;
}

function uninterrupted(m: Module, record = true): Outcome {
  let out = "";
  const s = Session.start(m, { gas: BIG_GAS, mem: BIG_MEM, stdout: (t) => void (out += t), record });
  const result = s.run();
  return { out, result, digest: s.digest() };
}

/**
 * Runs with the root's gas limit set to each of `stops` in turn (and a small
 * memory limit raised by `memStep` when it runs out of memory); at every
 * suspension the tree goes through an image into a fresh session. With stops
 * "each", every refuel gives exactly what the refused instruction needs, so
 * the run stops before every instruction.
 */
function suspended(m: Module, stops: number[] | "each", rootMem: number, memStep: number, record = true): Outcome & { suspensions: number } {
  let out = "";
  const stdout = (t: string): void => void (out += t);
  let s = Session.start(m, { gas: stops === "each" ? 0 : (stops[0] ?? BIG_GAS), mem: rootMem, stdout, record });
  let r = s.run();
  let next = 1;
  let suspensions = 0;
  while (r.status === "out_of_gas" || r.status === "out_of_mem") {
    suspensions++;
    const digest = s.digest();
    const bytes = s.snapshot();
    s = Session.fromImage(bytes, { stdout, record });
    // Decoding loses nothing: the same state digest, the same bytes again.
    expect(s.digest()).toBe(digest);
    expect(Buffer.compare(s.snapshot(), bytes)).toBe(0);
    if (r.status === "out_of_gas") {
      const root = s.root;
      if (stops === "each") s.refuel(root.need - (root.gasLimit - root.gasUsed));
      else s.refuel(Math.max(1, (next < stops.length ? stops[next++] : BIG_GAS) - root.gasLimit));
    } else {
      const root = s.root;
      s.refuel(0, stops === "each" ? root.need - (root.memLimit - root.memUsed) : memStep);
    }
    r = s.run();
  }
  return { out, result: r, digest: s.digest(), suspensions };
}

function same(a: Outcome, b: Outcome): void {
  expect(b.out).toBe(a.out);
  expect(b.result.status).toBe(a.result.status);
  expect(b.result.value).toBe(a.result.value);
  expect(b.result.fault).toBe(a.result.fault);
  expect(b.result.gasUsed).toBe(a.result.gasUsed);
  expect(b.result.memUsed).toBe(a.result.memUsed);
  expect(b.digest).toBe(a.digest);
}

describe("snapshot transparency", () => {
  it("suspend, encode, decode and resume at random points gives the uninterrupted run's output, result, gas, memory and digest", () => {
    fc.assert(
      fc.property(
        progArb,
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 6 }),
        fc.oneof(fc.constant(BIG_MEM), fc.integer({ min: 20, max: 3000 })),
        fc.integer({ min: 500, max: 5000 }),
        (prog, fractions, rootMem, memStep) => {
          const m = load(renderProg(prog));
          const ref = uninterrupted(m);
          expect(ref.result.status === "done" || ref.result.status === "fault").toBe(true);
          const total = ref.result.gasUsed;
          const stops = [...new Set(fractions.map((f) => Math.floor(f * total)))].sort((a, b) => a - b);
          same(ref, suspended(m, stops, rootMem, memStep));
        },
      ),
      { seed: 20240603, numRuns: 120 },
    );
  });

  // Without a trace: ~500 legs of host refuel/resume events would only make it slow (the random property keeps traces on).
  it("suspending before every single instruction of a nested program changes nothing", () => {
    const m = load(renderProg(SMALL));
    const ref = uninterrupted(m, false);
    const r = suspended(m, "each", 64, 1, false);
    expect(r.suspensions).toBeGreaterThan(300);
    same(ref, r);
  });

  // Found by `npm run fuzz`: decoding allocated the stack for the top frame only, so after
  // the callee returned, the caller's deeper pushes fell off the end of the stack.
  it("a caller whose stack reaches past its suspended callee's frame resumes from an image unchanged", () => {
    const pushes = Array.from({ length: 20 }, (_, i) => `  PUSH ${i + 1}`).join("\n");
    const adds = Array.from({ length: 19 }, () => "  ADD").join("\n");
    const m = load(`.func main 0 0\n  CALL f\n${pushes}\n${adds}\n  ADD\n  RET\n.func f 0 0\n  PUSH 0\n  RET`);
    const ref = uninterrupted(m);
    expect(ref.result.value).toBe(210);
    // Stopped once, inside f (CALL costs 2), then run to the end from the image.
    same(ref, suspended(m, [2], BIG_MEM, 1));
  });

  it("a subtree decoded from an image re-encodes to the same bytes at every suspension", () => {
    const m = load(renderProg(SAMPLE));
    const s = Session.start(m, { gas: 1, stdout: () => {} });
    for (let r = s.run(); r.status === "out_of_gas"; r = s.run()) {
      const bytes = s.snapshot();
      const img = decodeImage(bytes);
      expect(Buffer.compare(encodeImage(img.root, img.meta, () => undefined), bytes)).toBe(0);
      s.refuel(97);
    }
  });
});
