// The trace is a hash chain (DESIGN §5): flipping any byte of any event,
// dropping events or reordering them makes the check fail at that event, and
// `rar audit` reports it (exit 1) naming the event.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { CapHandler } from "../src/caps/registry.js";
import { decodeImage } from "../src/image/decode.js";
import { encodeImage } from "../src/image/encode.js";
import type { TraceEvent as WireEvent, TraceSlot } from "../src/image/format.js";
import { WireWriter, join as joinChunks, unpackChecked } from "../src/image/wire.js";
import { auditImage } from "../src/trace/audit.js";
import { TraceError, traceFromWire, traceToWire, type Trace } from "../src/trace/trace.js";
import { start } from "./helpers/asm.js";
import { CLI, ensureBuilt } from "./helpers/cli.js";

let dir = "";

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-tamper-"));
});

const PROGRAM = `.cap t.int
.cap t.arr
.cap io.print
.func main 0 2
  PUSH 8
  MGROW
  POP
  PUSH 6
  LSET 1
top:
  LGET 1
  CAP t.int 1
  LGET 0
  ADD
  LSET 0
  PUSH 1
  PUSH 2
  CAP t.arr 2
  POP
  PUSH 1
  PUSH 2
  CAP io.print 2
  POP
  LINC 1 -1
  LGET 1
  JNZ top
  LGET 0
  RET`;

const HOST: Record<string, CapHandler> = {
  "t.int": { sig: { args: ["int"], result: "int" }, call: (a) => (a[0] as number) * 1000 + 7 },
  "t.arr": { sig: { args: ["array"], result: "array" }, call: () => Int32Array.of(1, -2, 3) },
};

/** A session that made calls, was refueled several times and finished. */
function recorded(): ReturnType<typeof start> {
  const s = start(PROGRAM, { caps: ["t.int", "t.arr", "io.print"], gas: 300, handlers: HOST });
  let r = s.run();
  while (r.status === "out_of_gas") {
    s.session.refuel(300);
    r = s.session.run();
  }
  expect(r.status).toBe("done");
  return s;
}

function copySlot(slot: TraceSlot): TraceSlot {
  return { head: Uint8Array.from(slot.head), events: slot.events.map((e) => [...e] as WireEvent) };
}

function encodeValue(e: WireEvent): Uint8Array {
  const w = new WireWriter().value(e);
  return joinChunks(w.parts(), w.length());
}

function breakIndex(slot: TraceSlot): number {
  try {
    traceFromWire(slot, "test");
  } catch (e) {
    if (e instanceof TraceError) return e.index;
    throw e;
  }
  return -1;
}

describe("tampering with a trace is detected at the event", () => {
  const s = recorded();
  const slot = copySlot(traceToWire(s.session.trace as Trace));
  const n = slot.events.length;

  it("the untouched trace checks", () => {
    expect(n).toBeGreaterThan(20);
    expect(breakIndex(slot)).toBe(-1);
  });

  it("flipping any byte of any event fails at that event (or makes the event unreadable)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: n - 1 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (i, at, mask) => {
        const bytes = encodeValue(slot.events[i]);
        const pos = at % bytes.length;
        bytes[pos] ^= mask;
        let value: unknown;
        try {
          value = unpackChecked(bytes, 8, "event");
        } catch {
          return; // no longer one msgpack value: the image decoder rejects it before the trace is read
        }
        // A flip that only changes an integer's msgpack form (uint16 -> int16 of the same value)
        // leaves the event as it was; only the image's content digest can see such a change.
        const same = encodeValue(value as WireEvent);
        const original = encodeValue(slot.events[i]);
        if (same.length === original.length && same.every((x, k) => x === original[k])) return;
        const bad = copySlot(slot);
        bad.events[i] = value as WireEvent;
        expect(breakIndex(bad)).toBe(i);
      }),
      { numRuns: 3000 },
    );
  });

  const isHost = (e: WireEvent): boolean => e[0] === "refuel" || e[0] === "resume";
  /** Where a change at `i` must be reported: there for an execution event; for a host action, at the next host action or the head. */
  const expectedAt = (events: WireEvent[], i: number, hostChanged: boolean): number => {
    if (!hostChanged) return i;
    for (let k = i; k < events.length; k++) if (isHost(events[k])) return k;
    return events.length;
  };

  it("dropping any event fails at its position (a dropped host action: at the next host action's link or the head)", () => {
    for (let i = 0; i < n; i++) {
      const bad = copySlot(slot);
      const [gone] = bad.events.splice(i, 1);
      const at = breakIndex(bad);
      expect(at, `drop ${i} (${gone[0]})`).toBe(expectedAt(bad.events, i, isHost(gone)));
    }
  });

  it("swapping any two events fails at the first of them (host actions: at the first host link after it)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 0, max: n - 1 }), (a, b) => {
        fc.pre(a !== b && (slot.events[a][0] !== slot.events[b][0] || !isHost(slot.events[a])));
        const bad = copySlot(slot);
        [bad.events[a], bad.events[b]] = [bad.events[b], bad.events[a]];
        const lo = Math.min(a, b);
        // Execution events reordered among themselves break at once; a host action moved
        // across execution events breaks the first host link at or after the change.
        const execOnly = !isHost(slot.events[a]) && !isHost(slot.events[b]);
        const at = breakIndex(bad);
        if (execOnly) expect(at).toBe(lo);
        else {
          expect(at).toBeGreaterThanOrEqual(lo);
          expect(at).toBeLessThanOrEqual(expectedAt(bad.events, lo, true));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("a changed head fails at the end", () => {
    const bad = copySlot(slot);
    bad.head[5] ^= 1;
    expect(breakIndex(bad)).toBe(n);
  });
});

describe("audit of a tampered image", () => {
  function tamperedImage(edit: (slot: TraceSlot) => void): Uint8Array {
    const s = recorded();
    const img = decodeImage(s.session.snapshot());
    const slot = copySlot(img.meta.trace);
    edit(slot);
    const modules = new Map(img.modules.map((m) => [m.digest, m]));
    return encodeImage(img.root, { ...img.meta, trace: slot }, (d) => modules.get(d));
  }

  it("an untouched image audits valid", () => {
    const r = auditImage(recorded().session.snapshot());
    expect(r.problem).toBeNull();
    expect(r.valid).toBe(true);
  });

  it("a changed result names the event as a broken link", () => {
    const bytes = tamperedImage((slot) => {
      const i = slot.events.findIndex((e) => e[0] === "cap" && e[2] === "t.int");
      slot.events[i] = [...slot.events[i]] as WireEvent;
      slot.events[i][4] = 12345;
    });
    const r = auditImage(bytes);
    expect(r.valid).toBe(false);
    expect(r.problem?.kind).toBe("broken_link");
    const i = r.problem?.index as number;
    expect(r.problem?.message).toContain(`trace event ${i} (cap)`);
  });

  it("rar audit exits 1 naming the event; 2 for a file that is not an image; 0 and 'audit: valid' otherwise", () => {
    writeFileSync(join(dir, "good.rimg"), recorded().session.snapshot());
    writeFileSync(join(dir, "bad.rimg"), tamperedImage((slot) => slot.events.splice(3, 1)));
    writeFileSync(join(dir, "junk.rimg"), "not an image");
    const run = (f: string): { code: number; out: string; err: string } => {
      const r = spawnSync(process.execPath, [CLI, "audit", f], { encoding: "utf8", cwd: dir });
      return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
    };
    const good = run("good.rimg");
    expect(good.code).toBe(0);
    expect(good.out.split("\n")[0]).toBe("audit: valid");
    const bad = run("bad.rimg");
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/^audit: INVALID: broken link at event 3: /);
    const junk = run("junk.rimg");
    expect(junk.code).toBe(2);
    expect(junk.err).toMatch(/^rar: error: junk.rimg: /);
  });
});
