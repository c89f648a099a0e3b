// Recording for the debugger (spec/image-format.md §4a, spec/trace-format.md
// "Steps"): checkpoints every power of two of gas inside the image, verified
// like any part, the same whether or not the run was suspended on the way;
// images without them stay readable and debuggable from the initial state.

import { describe, expect, it } from "vitest";
import { compileSource } from "../lang/ent/compile.js";
import { checkpointing, newDebugPart } from "../src/debug/record.js";
import { Timeline } from "../src/debug/timeline.js";
import { checkpointTree, decodeImage } from "../src/image/decode.js";
import { stateDigest } from "../src/image/digest.js";
import { hex } from "../src/vm/sha256.js";
import { HEADER_BYTES, seal } from "../src/image/encode.js";
import { emptyTrace } from "../src/image/format.js";
import { Session } from "../src/session.js";
import { verify } from "../src/vm/verify.js";

const LOOP = `
fn work(n) {
  let t = 0;
  for i in 0..n { t = t + i % 7; if i % 50000 == 0 { print("at", i); } }
  return t;
}
fn main(args) { return work(args[0]); }
`;

const module = verify(compileSource(LOOP, "loop.ent").modules[0]);
const quiet = { stdout: () => undefined };

function traced(gas: number, args = [300_000]): Session {
  const s = Session.start(module, { gas, args, ...quiet });
  s.history.debug = newDebugPart(new Map([["loop.ent", LOOP]]));
  return s;
}

/** Runs a traced session to the end, suspending at each of `legs` gas limits first (through images). */
function runLegs(legs: number[]): Uint8Array {
  let s = traced(legs[0] ?? 1e9);
  s.run({ checkpoints: checkpointing(s) });
  for (let i = 1; i <= legs.length; i++) {
    s = Session.fromImage(s.snapshot(), quiet);
    s.refuel(legs[i] ?? 1e9);
    s.run({ checkpoints: checkpointing(s) });
  }
  return s.snapshot();
}

describe("rar trace's checkpoints", () => {
  it("are taken every `every` gas, hold the tree there, and change neither the run nor its digest", () => {
    const plain = Session.start(module, { gas: 1e9, args: [300_000], ...quiet });
    const r = plain.run();
    const s = traced(1e9);
    expect(s.run({ checkpoints: checkpointing(s) })).toEqual(r);
    expect(s.digest()).toBe(plain.digest());
    const img = decodeImage(s.snapshot());
    expect(img.version).toBe(2);
    const d = img.meta.debug!;
    expect(d.checkpoints.length).toBeGreaterThan(1);
    for (const c of d.checkpoints) {
      expect(c.at % d.every).toBe(0);
      expect(c.gas).toBeLessThanOrEqual(c.at);
      expect(checkpointTree(c).gasUsed).toBe(c.gas);
    }
    expect(d.sources).toEqual([["loop.ent", LOOP]]);
  });

  it("are the same trees at the same places when the run is suspended and resumed through images", () => {
    const whole = decodeImage(runLegs([])).meta.debug!;
    const legs = decodeImage(runLegs([777_777, 1_000_003, 500_000])).meta.debug!;
    const key = (c: (typeof whole.checkpoints)[number]) => [c.at, c.gas, hex(stateDigest(checkpointTree(c), emptyTrace(), () => undefined))];
    expect(legs.every).toBe(whole.every);
    expect(legs.checkpoints.map(key)).toEqual(whole.checkpoints.map(key));
  });

  it("keep an image without them readable as version 1, byte for byte", () => {
    const s = Session.start(module, { gas: 5000, args: [10], ...quiet });
    s.run();
    const bytes = s.snapshot();
    expect(bytes[6]).toBe(1);
    expect(decodeImage(bytes).meta.debug).toBeNull();
    expect(Buffer.from(Session.fromImage(bytes, quiet).snapshot()).equals(Buffer.from(bytes))).toBe(true);
  });

  it("are covered by the image digest, and a forged checkpoint is refused even with a valid digest", () => {
    const bytes = runLegs([]);
    const img = decodeImage(bytes);
    const c = img.meta.debug!.checkpoints[0];
    const at = Buffer.from(bytes).indexOf(Buffer.from(c.bytes));
    const flipped = bytes.slice();
    flipped[at + c.bytes.length - 20] ^= 1;
    expect(() => decodeImage(flipped)).toThrow(/digest/);
    // Resealed (a valid digest over a forged body): the checkpoint itself is checked.
    const body = bytes.slice(HEADER_BYTES);
    const forged = body.slice();
    const start = at - HEADER_BYTES;
    expect(forged[start + 1]).toBe(0xce); // [at (uint32), ...]
    forged[start + 5] ^= 1;
    expect(() => decodeImage(seal([forged], forged.length, 2))).toThrow(/not a multiple/);
  });

  it("let the debugger reach any step of an image with or without checkpoints, with the same state", async () => {
    const yieldNow = () => new Promise((done) => setImmediate(done)); // long synchronous work starves the test runner's messages
    const t = traced(1e9, [100_000]);
    t.run({ checkpoints: checkpointing(t) });
    const withCp = decodeImage(t.snapshot());
    expect(withCp.meta.debug!.checkpoints.length).toBeGreaterThan(0);
    const s = Session.start(module, { gas: 1e9, args: [100_000], ...quiet });
    s.run();
    const without = decodeImage(s.snapshot());
    const a = new Timeline(withCp);
    const b = new Timeline(without);
    expect(a.end()).toBe(await yieldNow().then(() => b.end()));
    for (const k of [0, 1, 17, 4096, 123_457, a.end() - 1, a.end()]) {
      await yieldNow();
      const x = a.at(k).replayer.root;
      const y = b.at(k).replayer.root;
      expect([x.pc, x.gasUsed, Array.from(x.stack.subarray(0, x.sp))]).toEqual([y.pc, y.gasUsed, Array.from(y.stack.subarray(0, y.sp))]);
    }
  });
});
