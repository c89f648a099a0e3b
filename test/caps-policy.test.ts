// Policies and negotiation (DESIGN §4, CLI.md): a policy file and flags grant,
// deny and mock capabilities for the root; validation names the file and the
// field; a capability the entry module needs that the policy does not grant
// stops everything before the first instruction (CLI exit 2, nothing written).

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { assemble } from "../lang/asm.js";
import { loadPolicy, negotiate, negotiateImage } from "../src/caps/policy.js";
import { Session } from "../src/session.js";
import { verify } from "../src/vm/verify.js";
import { load, start } from "./helpers/asm.js";
import { CLI, ensureBuilt } from "./helpers/cli.js";
import { rarErrorOf } from "./helpers/errors.js";

let dir = "";

function rar(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd: dir });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function policyFile(name: string, doc: unknown): string {
  const f = join(dir, name);
  writeFileSync(f, typeof doc === "string" ? doc : JSON.stringify(doc));
  return f;
}

const policyError = rarErrorOf;

const CLOCK_PRINT = `.cap clock.now
.cap io.print
.func main 0 1
  CAP clock.now 0
  RET`;

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-policy-"));
  mkdirSync(join(dir, "data"));
  writeFileSync(join(dir, "clock.rasm"), CLOCK_PRINT);
  writeFileSync(
    join(dir, "hello.rasm"),
    `.cap io.print
.func main 0 0
  PUSH 0
  PUSH 0
  CAP io.print 2
  RET`,
  );
});

describe("policy files are validated and errors name the file and field", () => {
  const cases: [string, unknown, RegExp][] = [
    ["not JSON", "{ allow: ", /not valid JSON/],
    ["not an object", [1, 2], /a policy is a JSON object/],
    ["unknown field", { allow: [], grants: [] }, /: grants: unknown field 'grants'/],
    ["allow not a list", { allow: "io.print" }, /: allow: must be a list/],
    ["bad name", { allow: ["io.print", "IO PRINT"] }, /: allow\[1\]: 'IO PRINT' is not a capability name/],
    ["unknown capability", { allow: ["net.connect"] }, /: allow\[0\]: unknown capability 'net.connect'/],
    ["fs without a directory", { allow: ["fs.read"] }, /: allow\[0\]: 'fs.read' needs a directory/],
    ["fs directory missing", { allow: ["fs.read:./nope"] }, /: allow\[0\]: 'fs.read:.\/nope': no such directory/],
    ["clock scope", { allow: ["clock.now:fast"] }, /: allow\[0\]: .*only scope of clock.now is ':real'/],
    ["io.print scoped", { allow: ["io.print:x"] }, /: allow\[0\]: .*io.print takes no scope/],
    ["version 2", { allow: ["io.print@2"] }, /only version 1 exists/],
    ["seed", { seed: 1.5 }, /: seed: seed must be a 32-bit integer/],
    ["mock result type", { mock: { "clock.now": { results: ["x"] } } }, /: mock.clock.now.results\[0\]: an int result/],
    ["mock empty", { mock: { "random.u32": { results: [] } } }, /: mock.random.u32.results: "results" must be a non-empty list/],
    ["unknown mock without signature", { mock: { "geo.find": { results: [1] } } }, /: mock.geo.find: unknown capability 'geo.find'/],
  ];
  for (const [what, doc, re] of cases)
    it(`rejects ${what}`, () => {
      const f = policyFile(`bad-${what.replace(/\W+/g, "-")}.json`, doc);
      const e = policyError(() => loadPolicy({ file: f }));
      expect(e.phase).toBe("policy");
      expect(e.message).toContain(f);
      expect(e.message).toMatch(re);
    });

  it("names a bad flag and its value", () => {
    const e = policyError(() => loadPolicy({ allow: ["fs.write"] }));
    expect(e.message).toMatch(/^--allow fs.write: 'fs.write' needs a directory/);
  });
});

describe("resolving a policy", () => {
  it("resolves directories against the policy file's directory, as real paths", () => {
    const f = policyFile("dirs.json", { allow: ["fs.read:./data", "io.print@1"] });
    const p = loadPolicy({ file: f });
    expect(p.grants).toEqual([`fs.read:${realpathSync(join(dir, "data"))}`, "io.print"]);
  });

  it("denials win over grants from the file, the flags and the defaults", () => {
    const f = policyFile("deny.json", { allow: ["clock.now", "random.u32"], deny: ["random.u32"] });
    const p = loadPolicy({ file: f, allow: ["kv.get"], deny: ["io.print", "kv.get"], defaults: ["io.print"] });
    expect(p.grants).toEqual(["clock.now"]);
    expect(p.denials).toEqual(["io.print", "kv.get", "random.u32"]);
  });

  it("refuses a denial that would cut a hole into a wider grant", () => {
    const e = policyError(() => loadPolicy({ cwd: dir, allow: ["fs.read:."], deny: ["fs.read:./data"] }));
    expect(e.message).toMatch(/cannot deny .* while granting/);
  });

  it("a mocked capability is granted and answers with its results in turn", () => {
    const f = policyFile("mock.json", { mock: { "random.u32": { results: [4, 8, 15] }, "io.read": { results: ["a\n", [104, 105]] } } });
    const p = loadPolicy({ file: f });
    expect(p.grants).toEqual(["io.read", "random.u32"]);
    const s = start(
      `.cap random.u32
.func main 0 1
  CAP random.u32 0
  CAP random.u32 0
  ADD
  CAP random.u32 0
  ADD
  CAP random.u32 0
  ADD
  RET`,
      { policy: p },
    );
    expect(s.run().value).toBe(4 + 8 + 15 + 4);
  });

  it("an image's grants are requests: each must be covered by a host grant, a scoped one by a containing scope", () => {
    const yes = (f: string): boolean => f !== "geo.lookup";
    expect(() => negotiateImage(["fs.read:/d/in", "io.print"], ["fs.read:/d", "io.print"], yes, new Set(), "img")).not.toThrow();
    expect(() => negotiateImage(["fs.read:/"], ["fs.read:/d"], yes, new Set(), "img")).toThrow(/asks for fs.read:\/, which this host does not grant/);
    expect(() => negotiateImage(["clock.now"], [], yes, new Set(), "img")).toThrow(/clock.now/);
    expect(() => negotiateImage(["random.u32"], [], yes, new Set(["random.u32"]), "img")).not.toThrow();
    expect(() => negotiateImage(["geo.lookup"], ["geo.lookup"], yes, new Set(), "img")).toThrow(/no handler/);
  });
});

describe("negotiation", () => {
  it("a capability of the manifest that is not granted throws before anything runs", () => {
    let out = "";
    const module = load(CLOCK_PRINT);
    const e = policyError(() => Session.start(module, { policy: loadPolicy({ defaults: ["io.print"] }), stdout: (t) => void (out += t) }));
    expect(e.phase).toBe("policy");
    expect(e.kind).toBe("not_granted");
    expect(e.message).toContain("clock.now");
    expect(out).toBe("");
  });

  it("granted or mocked capabilities pass", () => {
    const module = load(CLOCK_PRINT);
    expect(() => negotiate(module, loadPolicy({ allow: ["clock.now", "io.print"] }).grants)).not.toThrow();
    const f = policyFile("mock-clock.json", { mock: { "clock.now": { results: [7] } } });
    expect(Session.start(module, { policy: loadPolicy({ file: f, defaults: ["io.print"] }) }).run().value).toBe(7);
  });

  it("skips manifest entries the module only traps for children", () => {
    const def = { ...assemble(CLOCK_PRINT.replace("CAP clock.now 0", "PUSH 0")), trapOnly: ["clock.now"] };
    expect(() => negotiate(verify(def), ["io.print"])).not.toThrow();
  });

  it("rar run exits 2 naming the capability; nothing runs and no image is written", () => {
    const r = rar("run", "clock.rasm", "--out", "never.rimg");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/capability clock.now is not granted/);
    expect(r.stderr).not.toMatch(/at |Error:/);
    expect(existsSync(join(dir, "never.rimg"))).toBe(false);
  });

  it("rar run --allow, --policy and --deny decide what the root holds", () => {
    expect(rar("run", "clock.rasm", "--allow", "clock.now").code).toBe(0);
    policyFile("clock.json", { allow: ["clock.now"] });
    expect(rar("run", "clock.rasm", "--policy", "clock.json").code).toBe(0);
    const denied = rar("run", "clock.rasm", "--policy", "clock.json", "--deny", "clock.now");
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(/clock.now is not granted/);
    const noPrint = rar("run", "hello.rasm", "--deny", "io.print");
    expect(noPrint.code).toBe(2);
    expect(noPrint.stderr).toMatch(/io.print is not granted/);
  });

  it("rar run with a bad policy file exits 2 with one line naming the file and field", () => {
    policyFile("broken.json", { allow: ["fs.read"] });
    const r = rar("run", "hello.rasm", "--policy", "broken.json");
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/broken.json: allow\[0\]: 'fs.read' needs a directory/);
  });
});
