// Attacks on what a recording session says its host offers (the start event's
// `host`, computed before the handlers are built) and on the host handlers'
// check: whatever the host passes (aliased names, getters, Proxies, holes,
// too many or too long), the session either refuses it with a RarError or
// offers exactly what it registers, and the image it makes restores and
// audits valid.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CapHandler, CapSignature } from "../src/caps/registry.js";
import type { Policy } from "../src/caps/policy.js";
import type { StartEvent } from "../src/trace/events.js";
import type { Trace } from "../src/trace/trace.js";
import { readFileSync } from "node:fs";
import { RarError, Session, auditImage, compileProgram } from "../src/index.js";
import { verifyBundle } from "../src/vm/verify.js";
import { load } from "./helpers/asm.js";
import { thrown } from "./helpers/errors.js";
import { BUILTIN_SIGNATURES } from "../src/caps/signatures.js";

const MAIN = load(".func main 0 0\n  PUSH 0\n  RET\n");
/** Calls h.x with one int. */
const CALL_HX = load(".cap h.x\n.func main 0 0\n  PUSH 41\n  CAP h.x 1\n  RET\n");
const quiet = { stdout: () => {}, stderr: () => {} };
const handler = (args: ("int" | "array")[], result: "int" | "array", call: CapHandler["call"] = () => 0): CapHandler => ({ sig: { args, result }, call });
const offeredAt = (s: Session) => ((s.trace as Trace).at(0) as StartEvent).host;


/** The session's offer is what it registers (reading the registry fills it), and its image restores and audits valid. */
function consistent(s: Session): void {
  const offered = offeredAt(s);
  expect(s.machine.caps.get("io.print")).toBeDefined();
  expect(s.machine.caps.offered()).toEqual(offered);
  s.run();
  const bytes = s.snapshot();
  expect(auditImage(bytes).valid).toBe(true);
  expect(Session.fromImage(bytes, quiet).root.status).toBe(s.root.status);
}

describe("the host's offer against aliased names", () => {
  it("a handler and its @1 alias with different signatures: the same one is offered and registered (was: internal error)", () => {
    // "h.x@1" comes first in the object but last in sorted order: it is the one registered.
    const s = Session.start(CALL_HX, {
      ...quiet,
      caps: ["h.x"],
      handlers: { "h.x@1": handler(["int"], "int", (a) => (a[0] as number) + 1), "h.x": handler([], "array") },
    });
    expect(offeredAt(s).find((h) => h.name === "h.x")?.sig).toEqual({ args: ["int"], result: "int" });
    expect(offeredAt(s).some((h) => h.name === "h.x@1")).toBe(false);
    const r = s.run();
    expect(r.status).toBe("done");
    expect(r.value).toBe(42);
    expect(s.machine.caps.offered()).toEqual(offeredAt(s));
    expect(auditImage(s.snapshot()).valid).toBe(true);
  });

  it("a policy's mocks of a family and its @1 alias: the same one is offered and registered (was: internal error)", () => {
    const policy: Policy = {
      grants: [],
      denials: [],
      seed: 0,
      mocks: { "m.x@1": { sig: { args: [], result: "int" }, results: [1] }, "m.x": { sig: { args: [], result: "array" }, results: [Int32Array.of(1)] } },
    };
    const s = Session.start(MAIN, { ...quiet, policy });
    expect(offeredAt(s).find((h) => h.name === "m.x")?.sig).toEqual({ args: [], result: "int" });
    consistent(s);
  });

  it("for any handler names, aliases, scopes and odd case, and any mocks over them: offered is registered, the image restores and audits", () => {
    const names = fc.constantFrom("h.x", "h.x@1", "io.print", "io.print@1", "IO.Print", "fs.read:/x", "fs.read", "h.x@2", "__proto__", "1", "constructor", "toString", "h.\uD800");
    const valueType = fc.constantFrom<"int" | "array">("int", "array");
    const signature = fc.record({ args: fc.array(valueType, { maxLength: 3 }), result: valueType });
    fc.assert(
      fc.property(fc.array(fc.tuple(names, signature), { maxLength: 6 }), fc.array(fc.tuple(fc.constantFrom("m.y", "m.y@1", "clock.now", "h.x", "h.x@1"), signature), { maxLength: 3 }), (hs, ms) => {
        const handlers: Record<string, CapHandler> = {};
        // defineProperty: "__proto__" an own key, as JSON.parse makes it.
        for (const [n, sig] of hs) Object.defineProperty(handlers, n, { value: handler(sig.args, sig.result), enumerable: true, configurable: true, writable: true });
        const mocks: Record<string, { sig: CapSignature; results: (number | Int32Array)[] }> = {};
        // A built-in's mock has the built-in's signature (a policy file refuses another; see the report).
        for (const [n, given] of ms) {
          const sig: CapSignature = BUILTIN_SIGNATURES[n] ?? given;
          mocks[n] = { sig, results: [sig.result === "int" ? 7 : Int32Array.of(7)] };
        }
        const s = Session.start(MAIN, { ...quiet, handlers, policy: { grants: [], denials: [], seed: 0, mocks } });
        consistent(s);
      }),
      { numRuns: 80 },
    );
  });
});

describe("the offer before the registry is filled", () => {
  it("what the registry's offered() returns, changed by the host, changes neither what is recorded nor what fill checks", () => {
    for (const handlers of [undefined, { "h.x": handler(["int"], "int", (a) => (a[0] as number) + 1) }]) {
      const s = Session.start(CALL_HX, { ...quiet, caps: ["h.x", "io.print"], ...(handlers ? { handlers } : {}) });
      const recorded = JSON.stringify(offeredAt(s));
      const o = s.machine.caps.offered();
      o.length = 0;
      const err = thrown(() => s.run());
      if (handlers) expect(err).toBeNull();
      expect(err === null || err instanceof RarError).toBe(true);
      expect(JSON.stringify(offeredAt(s))).toBe(recorded);
      expect(s.machine.caps.offered()).toEqual(offeredAt(s));
    }
  });
});

describe("host handlers are read once: what is checked is what is kept", () => {
  it("a getter for sig that changes after the first read: no TypeError, the first read is what is offered", () => {
    let reads = 0;
    const h = {
      get sig() {
        return reads++ === 0 ? { args: ["int"], result: "int" } : undefined;
      },
      call: () => 0,
    };
    const s = Session.start(MAIN, { ...quiet, handlers: { "h.x": h as unknown as CapHandler } });
    expect(offeredAt(s).find((x) => x.name === "h.x")?.sig).toEqual({ args: ["int"], result: "int" });
    consistent(s);
  });

  it("a Proxy of handlers whose keys change between reads: refused or consistent, never a TypeError", () => {
    let keysRead = 0;
    const p = new Proxy(
      {},
      {
        ownKeys: () => (keysRead++ === 0 ? [] : ["h.y"]),
        getOwnPropertyDescriptor: () => ({ value: 5, enumerable: true, configurable: true }),
        get: () => 5,
      },
    );
    const err = thrown(() => consistent(Session.start(MAIN, { ...quiet, handlers: p as unknown as Record<string, CapHandler> })));
    expect(err === null || err instanceof RarError).toBe(true);
  });

  it("sig.args as a Proxy whose items change between reads: what is offered is what was checked", () => {
    let reads = 0;
    const args = new Proxy(["int"], { get: (t, k) => (k === "0" ? (reads++ === 0 ? "int" : "bogus") : Reflect.get(t, k)) });
    const s = Session.start(MAIN, { ...quiet, handlers: { "h.x": { sig: { args: args as ("int" | "array")[], result: "int" }, call: () => 0 } } });
    expect(offeredAt(s).find((x) => x.name === "h.x")?.sig).toEqual({ args: ["int"], result: "int" });
    consistent(s);
  });

  it("a signature with holes, a lying length, too many arguments, or a name too long for a trace is refused (was: accepted, or an image no session restores)", () => {
    const holes = ["int"] as ("int" | "array")[];
    holes[2] = "int";
    const liar = new Proxy([] as ("int" | "array")[], { get: (t, k) => (k === "length" ? 1e9 : Reflect.get(t, k)) });
    const bad: Record<string, CapHandler>[] = [
      { "h.x": handler(holes, "int") },
      { "h.x": handler(liar, "int") },
      { "h.x": handler(new Array<"int">(17).fill("int"), "int") },
      { ["h." + "a".repeat(300)]: handler([], "int") },
      Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`h.a${i}`, handler([], "int")])),
    ];
    for (const handlers of bad) {
      const err = thrown(() => Session.start(MAIN, { ...quiet, handlers }));
      expect(err).toBeInstanceOf(RarError);
      expect((err as RarError).key).toBe("usage.bad_options");
    }
    // At the bounds: accepted, and the image restores.
    consistent(Session.start(MAIN, { ...quiet, handlers: { ["h." + "a".repeat(254)]: handler(new Array<"int">(16).fill("int"), "int") } }));
  });

  it("a policy with more mocked families than a trace holds is refused when recording (was: an image no session restores)", () => {
    const mocks: Policy["mocks"] = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`m.a${i}`, { sig: { args: [], result: "int" as const }, results: [1] }]));
    const err = thrown(() => Session.start(MAIN, { ...quiet, policy: { grants: [], denials: [], seed: 0, mocks } }));
    expect(err).toBeInstanceOf(RarError);
    expect((err as RarError).key).toBe("usage.bad_options");
    // Not recorded: nothing to hold.
    expect(Session.start(MAIN, { ...quiet, record: false, policy: { grants: [], denials: [], seed: 0, mocks } }).run().status).toBe("done");
  });

  it("a policy whose mocks hold what structuredClone refuses (a Proxy, a function beside the spec) still starts (was: a DOMException)", () => {
    const spec = { sig: { args: [], result: "int" as const }, results: [3], note: () => 0 };
    const mocks = new Proxy({ "m.x": spec }, {}) as Policy["mocks"];
    const s = Session.start(load(".cap m.x\n.func main 0 0\n  CAP m.x 0\n  RET\n"), { ...quiet, policy: { grants: ["m.x"], denials: [], seed: 0, mocks } });
    expect(s.run().value).toBe(3);
    expect(auditImage(s.snapshot()).valid).toBe(true);
  });

  it("a handler named __proto__ (an own key, as JSON.parse makes it) is registered and offered, as before", () => {
    const handlers = JSON.parse('{"__proto__": {"sig": {"args": [], "result": "int"}}}') as Record<string, CapHandler & { call?: unknown }>;
    (handlers["__proto__"] as { call: CapHandler["call"] }).call = () => 0;
    const s = Session.start(MAIN, { ...quiet, handlers });
    expect(offeredAt(s).some((x) => x.name === "__proto__")).toBe(true);
    consistent(s);
  });
});

describe("prompts", () => {
  it("a Policy object prompting for a host handler's family: the host is asked, no TypeError (was: reading 'scope' of undefined at the first call)", () => {
    for (const answer of [true, false]) {
      const asked: string[] = [];
      const s = Session.start(CALL_HX, {
        ...quiet,
        handlers: { "h.x": handler(["int"], "int", (a) => (a[0] as number) + 1) },
        policy: { grants: ["h.x"], denials: [], seed: 0, mocks: {}, prompts: ["h.x"] },
        onPrompt: (cap: string) => (asked.push(cap), answer),
      });
      const r = s.run();
      expect(asked).toEqual(["h.x"]);
      expect(r.status).toBe(answer ? "done" : "fault");
      if (answer) expect(r.value).toBe(42);
      expect(s.machine.caps.offered()).toEqual(offeredAt(s));
      expect(auditImage(s.snapshot()).valid).toBe(true);
    }
  });
});

describe("prompts of a Policy object are those a call is asked about", () => {
  const CLOCK = load(".cap clock.now\n.func main 0 0\n  CAP clock.now 0\n  RET\n");
  const start = (module: typeof MAIN, prompts: string[], grants: string[], asked: string[], handlers = {}): Session =>
    Session.start(module, { ...quiet, handlers, policy: { grants, denials: [], seed: 0, mocks: {}, prompts }, onPrompt: (cap: string) => (asked.push(cap), false) });

  it("a prompt no call would be asked about is refused at the start (was: the call ran without asking)", () => {
    const cases: [typeof MAIN, string, Record<string, CapHandler>][] = [
      [CLOCK, "clock.now:later", {}], // a scope clock.now does not take: the call's grant is clock.now
      [MAIN, "io.print:x", {}], // io.print takes no scope
      [MAIN, "net.fetch:http://127.0.0.1:8080/", {}], // an origin not in canonical form
      [MAIN, "env.get:1BAD", {}], // not a variable name
      [CALL_HX, "h.x:y", { "h.x": handler(["int"], "int") }], // a host capability is asked about unscoped
    ];
    for (const [module, prompt, handlers] of cases) {
      const asked: string[] = [];
      const err = thrown(() => start(module, [prompt], [prompt], asked, handlers).run());
      expect(err, prompt).toBeInstanceOf(RarError);
      expect((err as RarError).key, prompt).toMatch(/^policy\.bad_(prompt|scope)$/);
      expect((err as RarError).message).toContain(prompt);
    }
  });

  it("prompts in the forms calls are asked about still start and ask", () => {
    const asked: string[] = [];
    const r = start(CLOCK, ["clock.now"], ["clock.now"], asked).run();
    expect(asked).toEqual(["clock.now"]);
    expect(r.status).toBe("fault");
    for (const p of ["clock.now:real", "env.get:HOME", "net.fetch:http://127.0.0.1:8080"]) expect(() => start(MAIN, [p], [p], []).run()).not.toThrow();
  });
});

describe("a Policy object's grants and denials", () => {
  it("a grant one of its own denials covers is refused at the start (was: granted, where a policy file's denial wins)", () => {
    const cases: [string[], string[], string][] = [
      [["io.print"], ["io.print"], "policy.denied"],
      [["fs.read:/tmp/x", "io.print"], ["fs.read"], "policy.denied"],
      [["fs.read:/tmp"], ["fs.read:/tmp/x"], "policy.carve"],
    ];
    for (const [grants, denials, key] of cases) {
      const err = thrown(() => Session.start(MAIN, { ...quiet, policy: { grants, denials, seed: 0, mocks: {} } }));
      expect(err, JSON.stringify([grants, denials])).toBeInstanceOf(RarError);
      expect((err as RarError).key).toBe(key);
    }
    expect(() => Session.start(MAIN, { ...quiet, policy: { grants: ["io.print"], denials: ["fs.read"], seed: 0, mocks: {} } })).not.toThrow();
  });
});

describe("a process's module and entry function (the shared Start)", () => {
  const SRC = `import untrusted "vendor/sort.ent" as good;
fn a(n) { let x = 0; while true { x = x + n; } return x; }
fn b(n) { let y = 0; while true { y = y + n; } return y; }
fn main() {
  let t = 0;
  for i in 0..40 {
    let h = spawn a(i) with { gas: 100, mem: 256 };
    resume(h);
    kill(h);
    let k = spawn good.sort([i, 1]) with { gas: 10000, mem: 1024 };
    resume(k);
    t = t + result(k)[0];
    kill(k);
  }
  let x = spawn b(1) with { gas: 100, mem: 256 };
  let y = spawn good.sort([3, 2, 1]) with { gas: 10, mem: 1024 };
  let z = spawn a(2) with { gas: 100, mem: 256 };
  resume(x);
  resume(y);
  resume(z);
  while true { t = t + 1; }
  return t;
}`;
  const program = () => {
    const files: Record<string, string> = { "main.ent": SRC, "vendor/sort.ent": readFileSync(new URL("../examples/vendor/sort.ent", import.meta.url), "utf8") };
    const prog = compileProgram("main.ent", (p: string) => files[p]);
    return verifyBundle(prog.modules, "main.ent");
  };
  const where = (s: Session) => [...s.root.children.values()].map((c) => [c.module.digest, c.module.functions[c.entryFn].name, c.entryFn]);

  it("spawns into two modules through recycled processes, twice with equal-digest module objects: each child reports its own module and function, before and after an image", () => {
    const seen: unknown[] = [];
    for (let k = 0; k < 2; k++) {
      // Fresh module objects each time: equal digests, different objects.
      const [m, ...linked] = program();
      const s = Session.start(m, { ...quiet, linked, gas: 400_000 });
      expect(s.run().status).toBe("out_of_gas");
      const kids = where(s);
      expect(kids.map((x) => x[1])).toEqual(["b", "sort$entry", "a"]);
      expect(kids[0][0]).toBe(m.digest);
      expect(kids[1][0]).toBe(linked[0].digest);
      expect(kids[2][0]).toBe(m.digest);
      const r = Session.fromImage(s.snapshot(), quiet);
      expect(where(r)).toEqual(kids);
      expect(r.root.module.digest).toBe(m.digest);
      expect(r.root.module.functions[r.root.entryFn].name).toBe("main");
      seen.push(kids);
    }
    expect(seen[0]).toEqual(seen[1]);
  });
});
