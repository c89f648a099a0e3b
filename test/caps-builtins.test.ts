// The built-in capabilities: io.print, io.read, a virtual (deterministic,
// seeded) clock and generator unless the real ones are granted, kv.get/kv.put
// over a host store (optionally a JSON file), and the boundary rules: only
// words cross it, and a misbehaving handler faults the caller, never the host.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lineReader, virtualRandom } from "../src/caps/builtins.js";
import { loadPolicy } from "../src/caps/policy.js";
import type { CapHandler, CapValue } from "../src/caps/registry.js";
import { Session } from "../src/session.js";
import { start } from "./helpers/asm.js";

/** Calls `cap` (no arguments, int result) n times and returns the results as the inbox-free list of values via yields. */
function readings(cap: string, n: number, opts: Parameters<typeof start>[1]): number[] {
  const s = start(`.cap ${cap}
.func main 0 1
  PUSH ${n}
  LSET 0
top:
  CAP ${cap} 0
  YIELD
  LINC 0 -1
  LGET 0
  JNZ top
  PUSH 0
  RET`, opts);
  const out: number[] = [];
  let r = s.run();
  while (r.status === "yielded") {
    out.push(r.value as number);
    r = s.session.run();
  }
  return out;
}

const text = (s: string): string => [...s].map((c, i) => `  PUSH ${i + 1}\n  PUSH ${c.codePointAt(0)}\n  STORE 0`).join("\n");

describe("virtual clock and generator", () => {
  it("the virtual clock reads 0, 1, 2, ... (one millisecond per read)", () => {
    expect(readings("clock.now", 5, { caps: ["clock.now"] })).toEqual([0, 1, 2, 3, 4]);
  });

  it("the virtual generator is a function of the policy's seed and the call's rank", () => {
    const seeded = (seed: number): number[] => {
      const f = join(mkdtempSync(join(tmpdir(), "rar-seed-")), "p.json");
      writeFileSync(f, JSON.stringify({ allow: ["random.u32"], seed }));
      return readings("random.u32", 4, { policy: loadPolicy({ file: f }) });
    };
    expect(seeded(1)).toEqual(seeded(1));
    expect(seeded(1)).not.toEqual(seeded(2));
    expect(seeded(7)).toEqual([0, 1, 2, 3].map((k) => virtualRandom(7, k)));
    expect(new Set(seeded(3)).size).toBe(4);
  });

  it("the :real grants use the host's clock and generator, and their results are recorded", () => {
    const s = start(".cap random.u32\n.cap clock.now\n.func main 0 0\n  CAP random.u32 0\n  CAP clock.now 0\n  ADD\n  RET", {
      caps: ["random.u32:real", "clock.now:real"],
    });
    const r = s.run();
    expect(r.status).toBe("done");
    const calls = s.session.trace?.events().filter((e) => e.kind === "cap") ?? [];
    expect(calls.map((e) => (e.kind === "cap" ? e.cap : ""))).toEqual(["random.u32", "clock.now"]);
    const [a, b] = calls.map((e) => (e.kind === "cap" ? (e.result as number) : 0));
    expect((a + b) | 0).toBe(r.value);
  });
});

describe("kv.get and kv.put", () => {
  const KV = `.cap kv.put
.cap kv.get
.func main 0 1
  PUSH 16
  MGROW
  POP
${text("app/x")}
  PUSH 10
  PUSH 42
  STORE 0
  PUSH 11
  PUSH 43
  STORE 0
  PUSH 1
  PUSH 5
  PUSH 10
  PUSH 2
  CAP kv.put 4
  POP
  PUSH 1
  PUSH 5
  CAP kv.get 2
  RET`;

  it("stores and reads back values; a missing key reads as the empty array", () => {
    const s = start(KV, { caps: ["kv.get", "kv.put"] });
    expect(s.run().value).toBe(2);
    expect(Array.from(s.root.inbox ?? [])).toEqual([42, 43]);
    const miss = start(KV.replace("CAP kv.put 4\n  POP", "POP\n  POP\n  POP\n  POP"), { caps: ["kv.get"] });
    expect(miss.run().value).toBe(0);
  });

  it("a scoped grant reaches only keys inside its scope", () => {
    expect(start(KV, { caps: ["kv.get:app", "kv.put:app"] }).run().status).toBe("done");
    const r = start(KV, { caps: ["kv.get:other", "kv.put:other"] }).run();
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/cap_failed.*key 'app\/x' is outside the granted scope/);
  });

  it("a policy's kv file persists the store across sessions, canonical and sorted", () => {
    const d = mkdtempSync(join(tmpdir(), "rar-kv-"));
    const f = join(d, "policy.json");
    writeFileSync(join(d, "store.json"), JSON.stringify({ zeta: [1] }));
    writeFileSync(f, JSON.stringify({ allow: ["kv.get", "kv.put"], kv: "./store.json" }));
    expect(start(KV, { policy: loadPolicy({ file: f }) }).run().value).toBe(2);
    expect(readFileSync(join(d, "store.json"), "utf8")).toBe('{"app/x":[42,43],"zeta":[1]}\n');
    const again = start(KV.replace("CAP kv.put 4\n  POP", "POP\n  POP\n  POP\n  POP"), { policy: loadPolicy({ file: f }) });
    expect(again.run().value).toBe(2);
  });
});

/** A byte source over `input` that serves at most `chunk` bytes a read and counts what it served. */
function source(input: Buffer, chunk = 1000): { read: (buf: Buffer) => number; served: () => number } {
  let at = 0;
  return {
    read: (buf) => {
      const n = Math.min(chunk, buf.length, input.length - at);
      input.copy(buf, 0, at, at + n);
      at += n;
      return n;
    },
    served: () => at,
  };
}

describe("the line reader behind io.read", () => {
  it("splits lines with their newline, the last one without; null at the end", () => {
    const src = source(Buffer.from("one\ntwo\n\nthree"), 3);
    const next = lineReader(src.read);
    expect([next(), next(), next(), next(), next()]).toEqual(["one\n", "two\n", "\n", "three", null]);
  });

  it("decodes UTF-8 split across reads; a byte-order mark is dropped at the start of the input only", () => {
    const text = "\uFEFFé€😀\n\uFEFFx\n";
    const next = lineReader(source(Buffer.from(text), 1).read);
    expect(next()).toBe("é€😀\n");
    expect(next()).toBe("\uFEFFx\n");
  });

  it("refuses a line longer than max after reading at most 4 * max bytes and a chunk, and keeps it for a later call", () => {
    const long = "x".repeat(1_000_000) + "\nnext\n";
    const src = source(Buffer.from(long), 65536);
    const next = lineReader(src.read);
    expect(() => next(1000)).toThrow(/line longer than 1000 characters exceeds memory headroom/);
    expect(src.served()).toBeLessThanOrEqual(4 * 1000 + 65536);
    // Within 4 * max bytes but more than max code points: refused once the line is complete, nothing consumed.
    expect(() => next(400_000)).toThrow(/exceeds memory headroom/);
    expect(next(1_000_001)).toBe("x".repeat(1_000_000) + "\n");
    expect(next(5)).toBe("next\n");
  });

  it("counts code points, not bytes or UTF-16 units", () => {
    const next = lineReader(source(Buffer.from("😀😀😀\n")).read);
    expect(() => next(3)).toThrow(/line of 4 characters/);
    expect(next(4)).toBe("😀😀😀\n");
  });
});

describe("io.read", () => {
  it("reads stdin a line at a time, newline included; the empty array at the end", () => {
    const lines = ["first\n", "second"];
    const s = start(".cap io.read\n.func main 0 0\n  CAP io.read 0\n  CAP io.read 0\n  ADD\n  CAP io.read 0\n  ADD\n  RET", {
      caps: ["io.read"],
      stdin: () => lines.shift() ?? null,
    });
    expect(s.run().value).toBe(6 + 6 + 0);
  });
});

describe("the boundary", () => {
  const ECHO = `.cap t.echo
.func main 0 0
  PUSH 4
  MGROW
  POP
  PUSH 1
  PUSH 7
  STORE 0
  PUSH 1
  PUSH 1
  CAP t.echo 2
  POP
  PUSH 1
  LOAD 0
  RET`;

  it("handlers get copies: a handler writing into its argument does not touch guest memory, nor does the host keep a handle on results", () => {
    let kept: Int32Array | null = null;
    const echo: CapHandler = {
      sig: { args: ["array"], result: "array" },
      call: (args) => {
        (args[0] as Int32Array)[0] = 99;
        kept = Int32Array.of(5);
        return kept;
      },
    };
    const s = start(ECHO, { caps: ["t.echo"], handlers: { "t.echo": echo } });
    const r = s.run();
    expect(r.value).toBe(7);
    (kept as unknown as Int32Array)[0] = 123;
    expect(Array.from(s.root.inbox ?? [])).toEqual([5]);
  });

  it("a handler that returns neither an int nor an array faults the caller cap_failed, not the host", () => {
    const bad = { sig: { args: ["array"], result: "array" }, call: () => ({ not: "words" }) as unknown as CapValue } as CapHandler;
    const r = start(ECHO, { caps: ["t.echo"], handlers: { "t.echo": bad } }).run();
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/cap_failed.*neither an int nor an array/);
  });

  it("tracing can be turned off: no trace, same run", () => {
    const on = start(ECHO, { caps: ["t.echo"], handlers: { "t.echo": { sig: { args: ["array"], result: "int" }, call: () => 1 } } });
    const off = Session.start(on.module, { caps: ["t.echo"], record: false, handlers: { "t.echo": { sig: { args: ["array"], result: "int" }, call: () => 1 } } });
    expect(off.run()).toEqual(on.run());
    expect(off.trace).toBeNull();
    expect(on.session.trace?.length).toBeGreaterThan(0);
  });
});
