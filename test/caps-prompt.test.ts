// The prompt verdict: a policy names grants the host asks about at their
// first use; the embedding host answers through onPrompt, the CLI on the
// terminal (tested here with an injected one). Each answer is a trace event
// before the call it decided, and a replay reproduces it without asking.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileSource } from "../lang/ent/compile.js";
import { loadPolicy, policyToJson, type PolicySources } from "../src/caps/policy.js";
import { terminalAsker, type Terminal } from "../src/cli/prompt-tty.js";
import { Session, type SessionOptions } from "../src/session.js";
import { replay } from "../src/trace/replay.js";
import { traceFromWire, traceToWire, type Trace, type TraceEvent } from "../src/trace/trace.js";
import { verifyBundle } from "../src/vm/verify.js";

/** Reads RAR_PROMPTED twice (printing it) and RAR_OTHER once; returns the lengths. */
const ENV = `cap env.get;
fn main() {
  let a = env.get("RAR_PROMPTED");
  puts(a);
  let b = env.get("RAR_PROMPTED");
  return len(a) + len(b);
}
`;

// env.get reads the host's environment: the test's.
process.env.RAR_PROMPTED = "yes";
process.env.RAR_OTHER = "other";

function started(src: string, policy: PolicySources, opts: SessionOptions = {}): { s: Session; out: () => string } {
  const [module, ...linked] = verifyBundle(compileSource(src, "main.ent").modules);
  let out = "";
  const s = Session.start(module, { linked, stdout: (t) => void (out += t), policy: loadPolicy({ defaults: ["io.print"], ...policy }), ...opts });
  return { s, out: () => out };
}

const kinds = (s: Session): string[] => (s.trace?.events() ?? []).filter((e) => e.kind !== "start" && e.kind !== "refuel" && e.kind !== "resume").map(show);

function show(e: TraceEvent): string {
  if (e.kind === "prompt") return `prompt ${e.cap} ${e.allowed}`;
  if (e.kind === "cap" || e.kind === "cap_error") return `${e.kind} ${e.cap}`;
  return e.kind;
}

const replayOf = (s: Session): ReturnType<typeof replay> => replay({ trace: s.trace as Trace, module: (d) => s.machine.modules.get(d) });

describe("prompt: the embedding host's callback", () => {
  it("an allowed grant is asked about once, at its first use, and the answer precedes the call in the trace", () => {
    const asked: string[] = [];
    const { s, out } = started(ENV, { prompt: ["env.get:RAR_PROMPTED"] }, { onPrompt: (cap, path) => (asked.push(`${cap} ${path}`), true) });
    expect(asked).toEqual([]); // nothing asked before the run
    const r = s.run();
    expect(r.status).toBe("done");
    expect(r.value).toBe(6);
    expect(out()).toBe("yes\n");
    expect(asked).toEqual(["env.get:RAR_PROMPTED 0"]);
    expect(kinds(s)).toEqual(["prompt env.get:RAR_PROMPTED 1", "cap env.get", "cap io.print", "cap env.get"]);
  });

  it("a refused grant faults the call cap_failed, is not asked about again, and is recorded", () => {
    let asked = 0;
    const src = `cap env.get;\nfn main() {\n  let a = spawn f() with { gas: 100000, mem: 1000, caps: [env.get] };\n  resume(a);\n  let b = spawn f() with { gas: 100000, mem: 1000, caps: [env.get] };\n  return resume(b) == FAULT;\n}\nfn f() { return len(env.get("RAR_PROMPTED")); }\n`;
    const { s } = started(src, { prompt: ["env.get:RAR_PROMPTED"] }, { onPrompt: () => (asked++, false) });
    const r = s.run();
    expect(r.status).toBe("done");
    expect(r.value).toBe(1); // FAULT: the second child was refused too
    expect(asked).toBe(1);
    expect(kinds(s)).toEqual(["prompt env.get:RAR_PROMPTED 0", "cap_error env.get", "cap_error env.get"]);
    const err = s.trace?.events().find((e) => e.kind === "cap_error");
    expect(err?.kind === "cap_error" && err.error).toBe("the host refused env.get:RAR_PROMPTED at the prompt");
  });

  it("without onPrompt every prompt is refused", () => {
    const r = started(ENV, { prompt: ["env.get:RAR_PROMPTED"] }).s.run();
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/cap_failed.*env.get: the host refused env.get:RAR_PROMPTED at the prompt/);
  });

  it("a grant not prompted for is not asked about; a granted one wins over its prompt", () => {
    let asked = 0;
    const onPrompt = (): boolean => (asked++, false);
    const other = started(ENV, { prompt: ["env.get:RAR_OTHER"], allow: ["env.get:RAR_PROMPTED"] }, { onPrompt });
    expect(other.s.run().value).toBe(6);
    const both = started(ENV, { prompt: ["env.get:RAR_PROMPTED"], allow: ["env.get:RAR_PROMPTED"] }, { onPrompt });
    expect(both.s.run().value).toBe(6);
    expect(asked).toBe(0);
    expect(both.s.policy?.prompts).toBeUndefined();
  });

  it("an asynchronous answer makes the call async: runAsync waits for it", async () => {
    const { s } = started(ENV, { prompt: ["env.get:RAR_PROMPTED"] }, { onPrompt: () => Promise.resolve(true) });
    const r = await s.runAsync();
    expect(r.value).toBe(6);
    const refused = started(ENV, { prompt: ["env.get:RAR_PROMPTED"] }, { onPrompt: () => Promise.reject(new Error("gone")) });
    expect((await refused.s.runAsync()).fault).toMatch(/refused env.get:RAR_PROMPTED at the prompt/);
    const sync = started(ENV, { prompt: ["env.get:RAR_PROMPTED"] }, { onPrompt: () => Promise.resolve(true) });
    expect(() => sync.s.run()).toThrow(/async/);
  });

  it("a host that throws refuses", () => {
    const r = started(ENV, { prompt: ["env.get:RAR_PROMPTED"] }, {
      onPrompt: () => {
        throw new Error("no");
      },
    }).s.run();
    expect(r.fault).toMatch(/refused env.get:RAR_PROMPTED at the prompt/);
  });

  it("replay reproduces both answers without asking, also from the image's decoded trace", () => {
    for (const answer of [true, false]) {
      let asked = 0;
      const { s } = started(ENV, { prompt: ["env.get:RAR_PROMPTED"] }, { onPrompt: () => (asked++, answer) });
      s.run();
      expect(asked).toBe(1);
      const rep = replayOf(s);
      expect(rep.divergence).toBeNull();
      expect(rep.root?.statusName).toBe(answer ? "done" : "fault");
      const decoded = traceFromWire(traceToWire(s.trace as Trace));
      expect(decoded.events().map(show)).toEqual((s.trace as Trace).events().map(show));
      expect(replay({ trace: decoded, module: (d) => s.machine.modules.get(d) }).divergence).toBeNull();
      expect(asked).toBe(1);
    }
  });

  it("a resumed image is asked about again by the host resuming it: an answer is authority, which never travels", () => {
    const src = `cap env.get;\nfn main() {\n  let a = env.get("RAR_PROMPTED");\n  yield(len(a));\n  return len(env.get("RAR_PROMPTED"));\n}\n`;
    let asked = 0;
    const policy = loadPolicy({ defaults: ["io.print"], prompt: ["env.get:RAR_PROMPTED"] });
    const { s } = started(src, { prompt: ["env.get:RAR_PROMPTED"] }, { onPrompt: () => (asked++, true) });
    expect(s.run().status).toBe("yielded");
    const t = Session.fromImage(s.snapshot(), { policy, onPrompt: () => (asked++, false), stdout: () => undefined });
    const r = t.run();
    expect(asked).toBe(2);
    expect(r.fault).toMatch(/refused env.get:RAR_PROMPTED at the prompt/);
    expect(replayOf(t).divergence).toBeNull();
  });
});

describe("prompt: any sequence of calls and answers (property)", () => {
  const EACH = `cap env.get;
fn get(k: [int]) { return len(env.get(k)); }
fn main(args: [[int]]) {
  for i in 0..len(args) {
    let h = spawn get(args[i]) with { gas: 100000, mem: 10000, caps: [env.get] };
    print(resume(h) == DONE);
  }
  return 0;
}
`;
  const KEYS = ["RAR_PA", "RAR_PB", "RAR_PC"];
  for (const k of KEYS) process.env[k] = k.toLowerCase();

  it("each prompted grant is asked about once, at its first call; every call follows its answer; replay agrees without asking", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 8 }), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), (calls, answers) => {
        const answer = new Map(KEYS.map((k, i) => [`env.get:${k}`, answers[i]]));
        const asked: string[] = [];
        const { s, out } = started(EACH, { prompt: KEYS.map((k) => `env.get:${k}`) }, { args: calls, onPrompt: (cap) => (asked.push(cap), answer.get(cap) === true) });
        expect(s.run().status).toBe("done");
        expect(asked).toEqual([...new Set(calls)].map((k) => `env.get:${k}`));
        expect(out()).toBe(calls.map((k) => (answer.get(`env.get:${k}`) ? "1\n" : "0\n")).join(""));
        const prompts = (s.trace?.events() ?? []).filter((e) => e.kind === "prompt");
        expect(prompts.length).toBe(asked.length);
        expect(replayOf(s).divergence).toBeNull();
      }),
      { numRuns: 40 },
    );
  });
});

describe("prompt: the policy", () => {
  it("takes prompts from the file's prompt field and --prompt, grants them, and keeps a policy without prompts as it was", () => {
    const p = loadPolicy({ prompt: ["env.get:HOME", "clock.now:real", "io.eprint", "net.fetch:http://127.0.0.1:8080/"] });
    expect(p.prompts).toEqual(["clock.now:real", "env.get:HOME", "io.eprint", "net.fetch:http://127.0.0.1:8080"]);
    for (const g of p.prompts ?? []) expect(p.grants).toContain(g);
    expect(policyToJson(loadPolicy({ allow: ["io.eprint"] }))).not.toMatch(/prompt/);
    expect(policyToJson(p)).toMatch(/"prompts":\["clock.now:real"/);
  });

  it("refuses a prompt for something unknown, a directory or prefix scope, or a malformed name", () => {
    expect(() => loadPolicy({ prompt: ["geo.lookup"] })).toThrow(/unknown capability 'geo.lookup'/);
    expect(() => loadPolicy({ prompt: ["fs.read:."] })).toThrow(/cannot prompt for 'fs.read:.*a directory or prefix/);
    expect(() => loadPolicy({ prompt: ["kv.get"] })).toThrow(/cannot prompt for 'kv.get'/);
    expect(() => loadPolicy({ prompt: ["env.get"] })).toThrow(/needs a variable name/);
    expect(() => loadPolicy({ prompt: ["net.fetch"] })).toThrow(/needs an origin/);
    expect(() => loadPolicy({ prompt: ["Not a name"] })).toThrow(/not a capability name/);
  });

  it("a denial removes a prompt", () => {
    const p = loadPolicy({ prompt: ["env.get:HOME"], deny: ["env.get"] });
    expect(p.prompts).toBeUndefined();
    expect(p.grants).not.toContain("env.get:HOME");
  });
});

describe("prompt: the CLI's terminal", () => {
  function terminal(isTTY: boolean, answers: (string | null)[]): Terminal & { said: string } {
    const t = {
      isTTY,
      said: "",
      write: (s: string) => void (t.said += s),
      readLine: () => answers.shift() ?? null,
    };
    return t;
  }

  it("asks on a terminal: y or yes allows, anything else (or end of input) refuses", () => {
    for (const [answer, allowed] of [["y\n", true], ["YES\n", true], ["n\n", false], ["\n", false], ["yess\n", false], [null, false]] as const) {
      const t = terminal(true, [answer]);
      expect(terminalAsker(t)("net.fetch:http://127.0.0.1:8080", "0.1")).toBe(allowed);
      expect(t.said).toMatch(/^rar: allow net.fetch:http:\/\/127.0.0.1:8080 for process 0.1\? \[y\/N\] /);
    }
  });

  it("refuses without asking when stdin is not a terminal, and says which flag grants it", () => {
    const t = terminal(false, ["y\n"]);
    expect(terminalAsker(t)("env.get:HOME", "0")).toBe(false);
    expect(t.said).toBe("rar: refused env.get:HOME for process 0: stdin is not a terminal to ask on (grant it with --allow env.get:HOME)\n");
  });

  it("an answer too long to read refuses", () => {
    const t: Terminal = {
      isTTY: true,
      write: () => undefined,
      readLine: () => {
        throw new Error("line too long");
      },
    };
    expect(terminalAsker(t)("io.eprint", "0")).toBe(false);
  });
});
