// A start event names a base table of built-ins instead of listing them
// (trace/events.ts HOST_BASES, spec/trace-format.md): [base, ...the rest].
// Images written before, which list the whole table, read and re-encode as
// they were written.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BUILTIN_SIGNATURES } from "../src/caps/signatures.js";
import type { CapHandler } from "../src/caps/registry.js";
import { decodeImage } from "../src/image/decode.js";
import { encodeImage } from "../src/image/encode.js";
import { Session, auditImage } from "../src/index.js";
import { HOST_BASES, eventFields, hostTable, type HostCap, type StartEvent } from "../src/trace/events.js";
import type { Trace } from "../src/trace/trace.js";
import { load } from "./helpers/asm.js";
import { imageWith, startEvent } from "./helpers/trace-events.js";

const LOOP = load(".func main 0 1\nagain:\n  LINC 0 1\n  JMP again\n");
const quiet = { stdout: () => {}, stderr: () => {} };
const startOf = (s: Session): StartEvent => (s.trace as Trace).at(0) as StartEvent;
/** A table as its names and signatures' types (a recorded one holds the built-ins' whole rows as signatures). */
const plain = (t: readonly HostCap[]): unknown[] => t.map((h) => [h.name, [...h.sig.args], h.sig.result]);
const handler = (args: ("int" | "array")[], result: "int" | "array"): CapHandler => ({ sig: { args, result }, call: () => 0 });

function reencoded(img: Uint8Array): Uint8Array {
  const d = decodeImage(img);
  const byDigest = new Map(d.modules.map((m) => [m.digest, m]));
  return encodeImage(d.root, d.meta, (x) => byDigest.get(x));
}

describe("the host table of a start event", () => {
  it("base table 1 is the built-ins as they are today, sorted", () => {
    const today = Object.keys(BUILTIN_SIGNATURES)
      .sort()
      .map((name) => ({ name, sig: { args: [...BUILTIN_SIGNATURES[name].args], result: BUILTIN_SIGNATURES[name].result } }));
    expect(plain(HOST_BASES[1])).toEqual(plain(today));
  });

  it("a run on the built-ins names base 1 and lists nothing else; its image is small and reads back whole", () => {
    const s = Session.start(LOOP, { ...quiet, gas: 1000 });
    expect(s.run().status).toBe("out_of_gas");
    const start = startOf(s);
    expect(start.host.base).toBe(1);
    expect(plain(start.host)).toEqual(plain(HOST_BASES[1]));
    expect(eventFields(start)[6]).toEqual([1]);
    const img = s.snapshot();
    expect(img.length).toBeLessThanOrEqual(1024);
    const back = Session.fromImage(img, quiet);
    const again = startOf(back);
    expect(plain(again.host)).toEqual(plain(HOST_BASES[1]));
    expect(again.host.base).toBe(1);
    expect(Buffer.compare(reencoded(img), img)).toBe(0);
    expect(auditImage(img).valid).toBe(true);
    back.refuel(1000);
    expect(back.run().status).toBe("out_of_gas");
    expect(auditImage(back.snapshot()).valid).toBe(true);
  });

  it("the host's own capabilities are listed after the base; a built-in with another signature drops the base", () => {
    const own = Session.start(LOOP, { ...quiet, gas: 100, handlers: { "h.x": handler(["int"], "int") } });
    expect(eventFields(startOf(own))[6]).toEqual([1, ["h.x", "i", "i"]]);
    const other = Session.start(LOOP, { ...quiet, gas: 100, handlers: { "io.print": handler(["int"], "int") } });
    const start = startOf(other);
    expect(start.host.base).toBeUndefined();
    expect((eventFields(start)[6] as unknown[]).length).toBe(HOST_BASES[1].length);
    for (const s of [own, other]) {
      s.run();
      const img = s.snapshot();
      expect(Buffer.compare(reencoded(img), img)).toBe(0);
      expect(auditImage(img).valid).toBe(true);
    }
  });

  it("for any host handlers: the table read back is the one recorded, in the form it was written", () => {
    const name = fc.constantFrom("h.a", "h.b", "io.print", "clock.now", "zz.last", "aa.first");
    const sig = fc.record({ args: fc.array(fc.constantFrom("int" as const, "array" as const), { maxLength: 3 }), result: fc.constantFrom("int" as const, "array" as const) });
    fc.assert(
      fc.property(fc.dictionary(name, sig, { maxKeys: 4 }), (sigs) => {
        const handlers: Record<string, CapHandler> = {};
        for (const [n, sg] of Object.entries(sigs)) handlers[n] = { sig: sg, call: () => 0 };
        const s = Session.start(LOOP, { ...quiet, gas: 100, handlers });
        s.run();
        const recorded = startOf(s).host;
        const img = s.snapshot();
        const read = startOf(Session.fromImage(img, quiet)).host;
        expect(plain(read)).toEqual(plain(recorded));
        expect(read.base).toBe(recorded.base);
        expect(Buffer.compare(reencoded(img), img)).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it("an image written before base tables (the whole table listed) reads, audits, resumes and re-encodes as written", () => {
    const img = new Uint8Array(readFileSync(join(process.cwd(), "images", "loop-traced-0.1.rimg")));
    expect(auditImage(img).valid).toBe(true);
    expect(Buffer.compare(reencoded(img), img)).toBe(0);
    const s = Session.fromImage(img, quiet);
    const start = startOf(s);
    expect(start.host.base).toBeUndefined();
    expect(plain(start.host)).toEqual(plain(HOST_BASES[1]));
    s.refuel(100_000);
    expect(s.run()).toMatchObject({ status: "done", value: 20100 });
    expect(auditImage(s.snapshot()).valid).toBe(true);
    // A listed table that a base would cover keeps its listed form, however it was made.
    const listed = imageWith([startEvent({ host: [...HOST_BASES[1]] as HostCap[] })]);
    expect(Buffer.compare(reencoded(listed), listed)).toBe(0);
  });

  it("a base form the writer would not give is refused, naming the host table", () => {
    const d = decodeImage(imageWith([startEvent()]));
    const byDigest = new Map(d.modules.map((m) => [m.digest, m]));
    const forms: unknown[][] = [[2], [0], [-1], [1, ["io.print", "a", "i"]], [1, ["h.b", "", "i"], ["h.a", "", "i"]], [1, 1], [1, ["h.a", "", "i"], 1]];
    for (const form of forms) {
      const events = d.meta.trace?.events.map((e) => [...e]) as [string, ...unknown[]][];
      events[0][6] = form;
      const img = encodeImage(d.root, { ...d.meta, trace: { head: d.meta.trace?.head as Uint8Array, events } } as typeof d.meta, (x) => byDigest.get(x));
      let err: unknown;
      try {
        Session.fromImage(img, quiet);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(form)).toBeInstanceOf(Error);
      expect((err as Error).message, JSON.stringify(form)).toMatch(/host/);
    }
  });
});
