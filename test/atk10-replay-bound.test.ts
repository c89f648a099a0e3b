// Hostile traces against replay, audit, debug and view (DESIGN §5, CLI.md
// "Inspecting a run"): an image is untrusted, and so is its trace. A trace
// whose host events give the root more than the recorded run used (a refuel
// of 2^50 gas for a run that stopped at 1000) must not make a replay run on
// and on: the image's tree says how much gas the whole run used, so a replay
// that would go past it has already diverged. A start event whose memory
// ceiling is above this runtime's must not let a replay allocate what no run
// here could (a host crash, or gigabytes). Each ends in its documented exit
// code with one line.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeImage } from "../src/image/decode.js";
import { encodeImage } from "../src/image/encode.js";
import { Session } from "../src/session.js";
import { auditImage } from "../src/trace/audit.js";
import { traceFromWire } from "../src/trace/decode.js";
import type { TraceEvent } from "../src/trace/events.js";
import { Trace, traceToWire } from "../src/trace/store.js";
import { Debugger } from "../src/debug/debugger.js";
import { viewData } from "../src/debug/view.js";
import { RarError } from "../src/vm/errors.js";
import { load } from "./helpers/asm.js";
import { ensureBuilt, rarIn } from "./helpers/cli.js";

const LOOP = ".func main 0 1\ntop:\n  LINC 0 1\n  JMP top";
const GROW = ".func main 0 1\n  PUSH 1500000000\n  MGROW\n  RET";

/** The image of `src` run under `gas` and `mem`, its trace's events edited by `edit` (re-encoded: the chain and the digest are right). */
function forged(src: string, gas: number, mem: number, edit: (events: Record<string, unknown>[]) => void): Uint8Array {
  const s = Session.start(load(src), { gas, mem, stdout: () => {} });
  s.run();
  const img = decodeImage(s.snapshot());
  const events = traceFromWire(img.meta.trace, "test").events().map((e) => ({ ...e }) as Record<string, unknown>);
  edit(events);
  const t = new Trace();
  for (const e of events) t.push(e as unknown as TraceEvent);
  const modules = new Map(img.modules.map((m) => [m.digest, m]));
  return encodeImage(img.root, { ...img.meta, trace: traceToWire(t) }, (d) => modules.get(d));
}

/** A loop stopped at 1000 gas whose trace refuels it by `gas`. */
const overfed = (gas: number): Uint8Array =>
  forged(LOOP, 1000, 10_000, (ev) => {
    ev[1].gas = gas;
  });

/** MGROW of 1.5e9 words, refused under 1000 words; its trace raises the ceiling and the limit. */
const overgrown = (): Uint8Array =>
  forged(GROW, 1000, 1000, (ev) => {
    ev[0].memMax = 2 ** 31 - 1;
    ev[1].mem = 2 ** 31 - 1;
  });

describe("a trace cannot make a replay run past the gas its image used", () => {
  it("the untouched image audits valid", () => {
    expect(auditImage(overfed(1000)).valid).toBe(true);
  });

  it("a refuel far above what the run used is a divergence, found without running it out", () => {
    const r = auditImage(overfed(2 ** 50));
    expect(r.valid).toBe(false);
    expect(r.problem?.kind).toBe("divergence");
    expect(r.problem?.message).toMatch(/1000 gas/);
  });

  it("any refuel above the recorded run's gas is refused the same way", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1001, max: Number.MAX_SAFE_INTEGER }), (gas) => {
        const r = auditImage(overfed(gas));
        expect(r.valid).toBe(false);
        expect(r.problem?.kind).toBe("divergence");
      }),
      { numRuns: 25 },
    );
  });

  it("the debugger and the viewer stop at the same point with a trace error, not after 2^50 steps", () => {
    const bytes = overfed(2 ** 50);
    const dbg = new Debugger(decodeImage(bytes));
    const e = (() => {
      try {
        dbg.run("continue");
      } catch (x) {
        return x;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(RarError);
    expect((e as RarError).message).toMatch(/diverge/);
    expect(() => viewData(decodeImage(bytes), "x.rimg")).toThrow(RarError);
  });
});

describe("the bound costs a true trace nothing: runs that end on an instruction costing nothing still audit valid", () => {
  // Each program's last instruction faults without being charged, right at the gas the run used.
  const ENDINGS: [string, string][] = [
    ["MGROW over the runtime's ceiling (bulk: its gas is asked in two goes)", GROW],
    ["division by zero", ".func main 0 1\n  PUSH 1\n  PUSH 0\n  DIV\n  RET"],
    ["a child faulting, then its parent returning", ".func main 0 1\n  PUSH 0\n  PUSH 0\n  PUSH 1000\n  PUSH 1000\n  PUSH 0\n  PUSH 0\n  SPAWN kid\n  RESUME\n  RET\n.func kid 0 1\n  PUSH 1\n  PUSH 0\n  DIV\n  RET"],
    ["the root out of gas mid-loop", LOOP],
  ];
  it.each(ENDINGS)("%s", (_, src) => {
    const s = Session.start(load(src), { gas: 1000, mem: 2_000_000_000, stdout: () => {} });
    s.run();
    const bytes = s.snapshot();
    expect(auditImage(bytes).problem).toBeNull();
    const dbg = new Debugger(decodeImage(bytes));
    expect(() => dbg.run("continue")).not.toThrow();
  });
});

describe("a start event cannot raise the memory ceiling above the runtime's", () => {
  it("a replay refuses it before anything runs (no host allocation of 1.5e9 words)", () => {
    const r = auditImage(overgrown());
    expect(r.valid).toBe(false);
    expect(r.problem?.kind).toBe("divergence");
    expect(r.problem?.index).toBe(0);
    expect(r.problem?.message).toMatch(/memory ceiling/);
  });

  it("the debugger refuses it with a trace error", () => {
    expect(() => new Debugger(decodeImage(overgrown())).run("continue")).toThrow(RarError);
  });
});

describe("the CLI on such images: one line and the documented exit code", () => {
  let dir = "";
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), "rar-atk10-"));
    writeFileSync(join(dir, "fed.rimg"), overfed(2 ** 50));
    writeFileSync(join(dir, "grown.rimg"), overgrown());
  });

  it.each([
    ["audit", "fed.rimg", 1],
    ["replay", "fed.rimg", 1],
    ["audit", "grown.rimg", 1],
    ["replay", "grown.rimg", 1],
  ])("rar %s %s exits %i", (cmd, file, code) => {
    const r = rarIn(dir, cmd, file);
    expect(r.code).toBe(code);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(r.stdout + r.stderr).toMatch(/diverg/);
  });

  it.each([
    ["debug", "fed.rimg", "--commands", "continue"],
    ["debug", "grown.rimg", "--commands", "continue"],
    ["view", "fed.rimg", "--out", "fed.html"],
  ])("rar %s %s %s %s exits 2 with one line", (...args) => {
    const r = rarIn(dir, ...args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^rar: error: .*diverg/);
  });
});
