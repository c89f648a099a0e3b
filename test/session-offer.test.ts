// What a recording session says its host offers (the start event's `host`)
// is known before any handler is built: the registry is filled at the first
// capability call, or never. The offer must be exactly what filling then
// registers, whatever the mocks, host handlers, prompts and effects hook.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CapHandler } from "../src/caps/registry.js";
import { BUILTIN_SIGNATURES, type CapSignature } from "../src/caps/signatures.js";
import type { Policy } from "../src/caps/policy.js";
import type { StartEvent } from "../src/trace/events.js";
import type { Trace } from "../src/trace/trace.js";
import { RarError, Session } from "../src/index.js";
import { load } from "./helpers/asm.js";

const MAIN = load(".func main 0 0\n  PUSH 0\n  RET\n");
const BUILTINS = Object.keys(BUILTIN_SIGNATURES).sort();
const valueType = fc.constantFrom<"int" | "array">("int", "array");
const signature = fc.record({ args: fc.array(valueType, { maxLength: 3 }), result: valueType });
const handler = (sig: CapSignature): CapHandler => ({ sig, call: () => 0 });

/** Host handlers: new families and built-in ones overridden, with any signature. */
const handlers = fc.dictionary(fc.oneof(fc.constantFrom(...BUILTINS), fc.stringMatching(/^h\.[a-z]{1,6}$/)), signature, { maxKeys: 4 });
/** Mocks of built-ins (their own signature) and of new families (one given). */
const mocks = fc.dictionary(
  fc.oneof(fc.constantFrom(...BUILTINS), fc.stringMatching(/^m\.[a-z]{1,6}$/)),
  signature,
  { maxKeys: 4 },
);

describe("the host's offer in the start event", () => {
  it("is what the registry holds once filled, for any mocks, handlers, prompts and effects hook", () => {
    fc.assert(
      fc.property(handlers, mocks, fc.boolean(), fc.boolean(), (hs, ms, hook, prompt) => {
        const mocked: Policy["mocks"] = {};
        for (const [family, sig] of Object.entries(ms)) {
          const s = BUILTIN_SIGNATURES[family] ?? sig;
          mocked[family] = { sig: s, results: [s.result === "int" ? 1 : Int32Array.of(1)] };
        }
        const policy: Policy = { grants: [], denials: [], mocks: mocked, seed: 0, ...(prompt ? { prompts: ["env.get:HOME"] } : {}) };
        const start = (): Session =>
          Session.start(MAIN, {
            policy,
            handlers: Object.fromEntries(Object.entries(hs).map(([k, sig]) => [k, handler(sig)])),
            ...(hook ? { beforeEffect: async () => {} } : {}),
          });
        // A prompt by key for the host's own env.get of another signature could never be asked: refused.
        const own = hs["env.get"];
        if (prompt && own !== undefined && (own.result !== "array" || own.args.join() !== "array")) {
          expect(() => start()).toThrow(/cannot prompt for 'env.get:HOME'/);
          return;
        }
        const s = start();
        const offered = ((s.trace as Trace).at(0) as StartEvent).host;
        // Reading the registry fills it (and fill checks its offer against the recorded one).
        expect(s.machine.caps.get("io.print")).toBeDefined();
        expect(s.machine.caps.offered()).toEqual(offered);
        expect(offered.map((h) => h.name)).toEqual([...new Set([...BUILTINS, ...Object.keys(ms), ...Object.keys(hs)])].sort());
        for (const [name, sig] of Object.entries(hs)) expect(offered.find((h) => h.name === name)?.sig).toEqual(sig);
      }),
      { numRuns: 60 },
    );
  });

  it("a run that calls no capability never builds the handlers, and its trace is the same as one that did", () => {
    const lazy = Session.start(MAIN, {});
    lazy.run();
    const eager = Session.start(MAIN, {});
    eager.machine.caps.get("io.print");
    eager.run();
    expect(Buffer.compare(lazy.snapshot(), eager.snapshot())).toBe(0);
  });

  it("what the host changes in its handlers or mocks after the start does not change what is offered", () => {
    const sig: { args: ("int" | "array")[]; result: "int" | "array" } = { args: ["int"], result: "int" };
    const h: CapHandler = { sig, call: (args) => (args[0] as number) + 1 };
    const policy: Policy = { grants: [], denials: [], mocks: { "m.x": { sig: { args: [], result: "int" }, results: [5] } }, seed: 0 };
    const s = Session.start(load(".cap h.x\n.func main 0 0\n  PUSH 41\n  CAP h.x 1\n  RET\n"), { caps: ["h.x"], handlers: { "h.x": h }, policy: { ...policy, grants: ["h.x"] } });
    const offered = ((s.trace as Trace).at(0) as StartEvent).host;
    sig.args.push("array");
    sig.result = "array";
    (policy.mocks["m.x"] as { sig: CapSignature }).sig = { args: ["int"], result: "array" };
    const r = s.run();
    expect(r.status).toBe("done");
    expect(r.value).toBe(42);
    expect(s.machine.caps.offered()).toEqual(offered);
    expect(offered.find((x) => x.name === "h.x")?.sig).toEqual({ args: ["int"], result: "int" });
  });

  it("a policy object whose mock of a built-in has another signature is refused at the start, not in an image nothing restores", () => {
    const policy: Policy = { grants: [], denials: [], mocks: { "clock.now": { sig: { args: ["int"], result: "int" }, results: [1] } }, seed: 0 };
    let err: unknown = null;
    try {
      Session.start(MAIN, { policy });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RarError);
    expect((err as RarError).key).toBe("policy.bad_mock");
    // The same mock with the built-in's own signature starts, and its image restores.
    const ok: Policy = { ...policy, mocks: { "clock.now": { sig: BUILTIN_SIGNATURES["clock.now"], results: [1] } } };
    const s = Session.start(MAIN, { policy: ok });
    s.run();
    expect(Session.fromImage(s.snapshot(), { policy: ok }).root.status).toBe(s.root.status);
  });

  it("a host handler without a signature or a call is refused when the session starts", () => {
    const bad: unknown[] = [null, {}, { call: () => 0 }, { sig: { args: ["int"], result: "int" } }, { sig: { args: ["x"], result: "int" }, call: () => 0 }, { sig: { args: [], result: 1 }, call: () => 0 }];
    for (const h of bad) {
      const err = (() => {
        try {
          Session.start(MAIN, { handlers: { "h.x": h as CapHandler } });
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(RarError);
      expect((err as RarError).key).toBe("usage.bad_options");
      expect((err as RarError).message).toContain("h.x");
    }
  });
});
