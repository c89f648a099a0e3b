// Attacks on the day's changes (4e0fa16..): SHA-256 in one place with two
// implementations (src/vm/sha256.ts), the prompts of a Policy object
// (caps/policy.ts recordedPrompt), the CLI bundle (scripts/build-cli.ts) and
// the evaluator's batches (gp/evaluate.ts plan).

import { describe, expect, it } from "vitest";
import type { Policy } from "../src/caps/policy.js";
import type { CapHandler } from "../src/caps/registry.js";
import { RarError, Session } from "../src/index.js";
import { compileSource } from "../lang/ent/compile.js";
import { verifyBundle } from "../src/vm/verify.js";
import { load } from "./helpers/asm.js";

const quiet = { stdout: () => {}, stderr: () => {} };
const handler = (args: ("int" | "array")[], result: "int" | "array", call: CapHandler["call"] = () => 0): CapHandler => ({ sig: { args, result }, call });
const policyOf = (grants: string[], prompts?: string[]): Policy => ({ grants, denials: [], seed: 0, mocks: {}, ...(prompts ? { prompts } : {}) });

/** What f threw (null if nothing). */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return null;
}

/** Calls clock.now. */
const CLOCK = load(".cap clock.now\n.func main 0 0\n  CAP clock.now 0\n  RET\n");
/** Calls h.x with one int. */
const CALL_HX = load(".cap h.x\n.func main 0 0\n  PUSH 41\n  CAP h.x 1\n  RET\n");
/** Calls env.get with one int (a host's own env.get of another signature). */
const ENV_INT = load(".cap env.get\n.func main 0 0\n  PUSH 5\n  CAP env.get 1\n  RET\n");
/** Calls net.fetch with one int (a host's own net.fetch of another signature). */
const FETCH_INT = load(".cap net.fetch\n.func main 0 0\n  PUSH 5\n  CAP net.fetch 1\n  RET\n");
/** Calls env.get("HOME") (the built-in's signature: an array). */
const [ENV_HOME] = verifyBundle(compileSource('cap env.get;\nfn main() { return len(env.get("HOME")); }\n', "main.ent").modules);

describe("a host's Policy object given to Session.fromImage: its prompts are those calls are asked about, as for Session.start", () => {
  // Each prompt is in a form no call is asked about while its grant lets the call run (Session.start refuses each).
  const cases: [typeof CLOCK, string, Record<string, CapHandler>][] = [
    [CLOCK, "clock.now:later", {}],
    [CLOCK, "clock.now@1", {}],
    [CALL_HX, "h.x:y", { "h.x": handler(["int"], "int") }],
  ];

  it("a prompt no call would be asked about is refused at the restore (was: the call ran without asking)", () => {
    for (const [module, prompt, handlers] of cases) {
      const image = Session.start(module, { ...quiet, handlers, policy: policyOf([prompt]) }).snapshot();
      const asked: string[] = [];
      let ran = false;
      const err = thrown(() => {
        const s = Session.fromImage(image, { ...quiet, handlers, policy: policyOf([prompt], [prompt]), onPrompt: (cap) => (asked.push(cap), false) });
        ran = s.run().status === "done";
      });
      expect({ prompt, ran, asked }).toEqual({ prompt, ran: false, asked: [] });
      expect(err, prompt).toBeInstanceOf(RarError);
      expect((err as RarError).key, prompt).toMatch(/^policy\.bad_(prompt|scope)$/);
      expect((err as RarError).message).toContain(prompt);
      // The same policy is refused by Session.start, with the same key.
      const atStart = thrown(() => Session.start(module, { ...quiet, handlers, policy: policyOf([prompt], [prompt]) }));
      expect((atStart as RarError).key).toBe((err as RarError).key);
    }
  });

  it("prompts in the forms calls are asked about still restore and ask", () => {
    const image = Session.start(CLOCK, { ...quiet, policy: policyOf(["clock.now"]) }).snapshot();
    const asked: string[] = [];
    const r = Session.fromImage(image, { ...quiet, policy: policyOf(["clock.now"], ["clock.now"]), onPrompt: (cap) => (asked.push(cap), false) }).run();
    expect(asked).toEqual(["clock.now"]);
    expect(r.status).toBe("fault");
  });
});

describe("a prompt for a built-in family the host's own handler replaces with another signature", () => {
  // The gate reads the key or URL from the first argument as the built-in takes it (an array): an int gives
  // no subject, so the prompt was never asked while the handler ran under the grant.
  const shadows: [typeof CLOCK, string, CapHandler][] = [
    [ENV_INT, "env.get:HOME", handler(["int"], "int", () => 9)],
    [FETCH_INT, "net.fetch:http://127.0.0.1:8080", handler(["int"], "int", () => 9)],
  ];

  it("is refused at the start and at the restore (was: the handler ran without asking)", () => {
    for (const [module, prompt, h] of shadows) {
      const family = prompt.slice(0, prompt.indexOf(":"));
      const asked: string[] = [];
      let ran = false;
      const err = thrown(() => {
        const s = Session.start(module, { ...quiet, handlers: { [family]: h }, policy: policyOf([prompt], [prompt]), onPrompt: (cap) => (asked.push(cap), false) });
        ran = s.run().status === "done";
      });
      expect({ prompt, ran, asked }).toEqual({ prompt, ran: false, asked: [] });
      expect((err as RarError).key, prompt).toBe("policy.bad_prompt");
      expect((err as RarError).message).toContain(prompt);
      const image = Session.start(module, { ...quiet, handlers: { [family]: h }, policy: policyOf([prompt]) }).snapshot();
      const again = thrown(() => Session.fromImage(image, { ...quiet, handlers: { [family]: h }, policy: policyOf([prompt], [prompt]) }).run());
      expect((again as RarError).key, prompt).toBe("policy.bad_prompt");
    }
  });

  it("a host's env.get of the built-in's signature is still asked about by key", () => {
    const asked: string[] = [];
    let called = 0;
    const h = handler(["array"], "array", () => (called++, new Int32Array(0)));
    const s = Session.start(ENV_HOME, { ...quiet, handlers: { "env.get": h }, policy: policyOf(["env.get:HOME"], ["env.get:HOME"]), onPrompt: (cap) => (asked.push(cap), true) });
    expect(s.run().status).toBe("done");
    expect(asked).toEqual(["env.get:HOME"]);
    expect(called).toBe(1);
  });

  it("a host's io.print of another signature is asked about unscoped, as before", () => {
    const PRINT_INT = load(".cap io.print\n.func main 0 0\n  PUSH 5\n  CAP io.print 1\n  RET\n");
    const asked: string[] = [];
    const s = Session.start(PRINT_INT, { ...quiet, handlers: { "io.print": handler(["int"], "int", () => 3) }, policy: policyOf(["io.print"], ["io.print"]), onPrompt: (cap) => (asked.push(cap), true) });
    expect(s.run()).toMatchObject({ status: "done", value: 3 });
    expect(asked).toEqual(["io.print"]);
  });
});

describe("a Policy object is read once, at the start", () => {
  it("prompts the host changes after Session.start change nothing: what is asked is what the start event records (was: the handlers, built at the first call, read the changed list)", () => {
    const policy = policyOf(["clock.now"], ["clock.now"]);
    const asked: string[] = [];
    const s = Session.start(CLOCK, { ...quiet, policy, onPrompt: (cap) => (asked.push(cap), false) });
    (policy.prompts as string[]).length = 0; // the host reuses its array
    expect(s.run().status).toBe("fault");
    expect(asked).toEqual(["clock.now"]);
    // And one added after the start is not asked about (the start event does not record it).
    const later = policyOf(["clock.now"], []);
    const asked2: string[] = [];
    const t = Session.start(CLOCK, { ...quiet, policy: later, onPrompt: (cap) => (asked2.push(cap), false) });
    (later.prompts as string[]).push("clock.now");
    expect(t.run().status).toBe("done");
    expect(asked2).toEqual([]);
  });

  it("a Policy object of the wrong shape is refused with a RarError naming it, never a TypeError", () => {
    const bad: unknown[] = [
      {},
      5,
      { grants: ["clock.now"], denials: [], seed: 0, mocks: {}, prompts: new Set(["clock.now"]) },
      { grants: ["clock.now"], denials: [], seed: 0, mocks: null },
      { grants: ["clock.now"], denials: [], seed: 0, mocks: { "clock.now": { results: [1] } } },
      { grants: ["clock.now"], denials: [], seed: 0, mocks: { "clock.now": null } },
      { grants: ["clock.now"], denials: "x", seed: 0, mocks: {} },
      { grants: ["clock.now"], denials: [], seed: 0, mocks: {}, mounts: 7 },
      { grants: ["clock.now"], denials: [], seed: 0, mocks: {}, mounts: [null] },
    ];
    const image = Session.start(CLOCK, { ...quiet, policy: policyOf(["clock.now"]) }).snapshot();
    for (const policy of bad)
      for (const go of [() => Session.start(CLOCK, { ...quiet, policy: policy as Policy }).run(), () => Session.fromImage(image, { ...quiet, policy: policy as Policy }).run()]) {
        const err = thrown(go);
        expect(err, JSON.stringify(policy)).toBeInstanceOf(RarError);
        expect((err as RarError).key).toBe("usage.bad_options");
        expect((err as RarError).message).toContain("policy");
      }
  });
});
