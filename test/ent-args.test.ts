// Program arguments as text: a main(args: [[int]]) receives one string (an
// array of code points) per argument; integers given to it arrive as their
// decimal text; an [int] main given texts traps. Recorded in the start event,
// so replay, images and audit rebuild the same initial memory.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileSource } from "../lang/ent/compile.js";
import { textArgsMemory } from "../src/process/process.js";
import { ARGS_WORDS_MAX, Session, type SessionOptions } from "../src/session.js";
import { replay } from "../src/trace/replay.js";
import { traceFromWire, traceToWire, type Trace } from "../src/trace/trace.js";
import { verifyBundle } from "../src/vm/verify.js";
import { RarError } from "../src/vm/errors.js";

const ECHO = "fn main(args: [[int]]) {\n  for i in 0..len(args) { puts(args[i]); }\n  return len(args);\n}\n";
const COUNT = "fn main(args) {\n  let s = 0;\n  for i in 0..len(args) { s = s + args[i]; }\n  return s;\n}\n";

function started(src: string, opts: SessionOptions = {}): { s: Session; out: () => string } {
  const [module, ...linked] = verifyBundle(compileSource(src, "main.ent").modules);
  let out = "";
  const s = Session.start(module, { linked, stdout: (t) => void (out += t), ...opts });
  return { s, out: () => out };
}

describe("text arguments", () => {
  it("a [[int]] main gets each string as its code points", () => {
    const { s, out } = started(ECHO, { args: ["hello", "wörld", "😀 x", ""] });
    const r = s.run();
    expect(r.value).toBe(4);
    expect(out()).toBe("hello\nwörld\n😀 x\n\n");
  });

  it("integers given to a [[int]] main arrive as their decimal text", () => {
    const { s, out } = started(ECHO, { args: [0, -1, 42, -2147483648, 2147483647] });
    expect(s.run().value).toBe(5);
    expect(out()).toBe("0\n-1\n42\n-2147483648\n2147483647\n");
    const none = started(ECHO, { args: [] });
    expect(none.s.run().value).toBe(0);
  });

  it("any string makes every argument a text; an [int] main then traps saying why", () => {
    const mixed = started(ECHO, { args: [7, "x"] });
    mixed.s.run();
    expect(mixed.out()).toBe("7\nx\n");
    const r = started(COUNT, { args: [1, "2"] }).s.run();
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/main\(args\) takes integers but was given text arguments \(declare args: \[\[int\]\]\)/);
    expect(started(COUNT, { args: [1, 2, 3] }).s.run().value).toBe(6);
  });

  it("the memory layout is [n, offsets..., texts...], longer than n + 1 words whenever n > 0", () => {
    const mem = textArgsMemory([Int32Array.of(104, 105), Int32Array.of()]);
    expect(Array.from(mem)).toEqual([2, 3, 6, 2, 104, 105, 0]);
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer(), { maxLength: 5 }).map((a) => Int32Array.from(a)), { minLength: 1, maxLength: 6 }), (texts) => {
        const m = textArgsMemory(texts);
        expect(m.length).toBeGreaterThan(texts.length + 1);
        texts.forEach((t, i) => expect(Array.from(m.subarray(m[1 + i] + 1, m[1 + i] + 1 + m[m[1 + i]]))).toEqual(Array.from(t)));
      }),
    );
  });

  it("any strings come back as given, through the guest", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "grapheme", maxLength: 12 }).filter((x) => !x.includes("\n")), { maxLength: 5 }), (args) => {
        const { s, out } = started(ECHO, { args: ["first", ...args] });
        expect(s.run().status).toBe("done");
        expect(out()).toBe(["first", ...args].map((a) => a + "\n").join(""));
      }),
      { numRuns: 30 },
    );
  });

  it("are recorded in the start event: replay, and the trace read back from an image, rebuild the same memory", () => {
    const { s } = started(ECHO, { args: ["a", "bc"] });
    s.run();
    const start = s.trace?.at(0);
    expect(start?.kind === "start" && start.texts?.map((t) => Array.from(t))).toEqual([[97], [98, 99]]);
    expect(start?.kind === "start" && start.args.length).toBe(0);
    const decoded = traceFromWire(traceToWire(s.trace as Trace));
    for (const trace of [s.trace as Trace, decoded]) {
      const rep = replay({ trace, module: (d) => s.machine.modules.get(d) });
      expect(rep.divergence).toBeNull();
      expect(rep.root?.value).toBe(2);
    }
    // An integer run's start event is encoded as before (no texts field).
    const ints = started(COUNT, { args: [1] });
    ints.s.run();
    expect(traceToWire(ints.s.trace as Trace).events[0]).toHaveLength(11);
  });

  it("an image taken after the start carries them: resumed, the run goes on", () => {
    const src = "fn main(args: [[int]]) {\n  yield(len(args[0]));\n  puts(args[1]);\n  return len(args);\n}\n";
    const { s } = started(src, { args: ["abc", "tail"] });
    expect(s.run().value).toBe(3);
    let out = "";
    const t = Session.fromImage(s.snapshot(), { stdout: (x) => void (out += x) });
    expect(t.run().value).toBe(2);
    expect(out).toBe("tail\n");
  });

  it("refuses more than ARGS_WORDS_MAX words of arguments with a usage error, before building them", () => {
    const big = "x".repeat(ARGS_WORDS_MAX);
    let e: unknown;
    try {
      started(ECHO, { args: [big] });
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(RarError);
    expect((e as RarError).key).toBe("usage.bad_args");
    expect((e as RarError).message).toMatch(new RegExp(`the program arguments take ${ARGS_WORDS_MAX + 3} words: at most ${ARGS_WORDS_MAX}`));
    expect(() => started(ECHO, { args: [1.5] as never })).toThrow(/args\[0\] must be a signed 32-bit integer or a string, not 1.5/);
    expect(() => started(ECHO, { args: [{}] as never })).toThrow(/not object/);
  });

  it("main's parameter is [int] or [[int]]: anything deeper is a compile error", () => {
    expect(() => compileSource("fn main(args: [[[int]]]) { return 0; }\n", "main.ent")).toThrow(/main's parameter is the argument array: \[int\], or \[\[int\]\] for text arguments/);
    expect(() => compileSource("fn main(args) { let x = args[0][0][0]; return x; }\n", "main.ent")).toThrow(/main's parameter/);
    expect(() => compileSource("fn main(args: int) { return 0; }\n", "main.ent")).toThrow(/main's parameter is the argument array/);
  });
});
