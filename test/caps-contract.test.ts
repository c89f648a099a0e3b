// The machine-readable contract (issue 14 item 5): `rar caps [--json]` and the
// table of spec/capabilities.md come from the one signature table, and what
// they say is what the runtime does: the gas a call costs, the scopes a policy
// takes, the calls that are host effects, the handlers the host registers.

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { capsText } from "../src/cli/caps-command.js";
import { HOST_EFFECTS, builtinRegistry } from "../src/caps/builtins.js";
import { capsContract, type CapContract } from "../src/caps/contract.js";
import { loadPolicy, type Policy } from "../src/caps/policy.js";
import { BUILTIN_NAMES, BUILTIN_SIGNATURES } from "../src/caps/signatures.js";
import { capsContract as apiCapsContract } from "../src/index.js";
import { GAS, Op, WORDS_PER_GAS } from "../src/vm/opcodes.js";
import { capsMarkdown, specWithCaps } from "../scripts/gen-caps.js";
import { run } from "./helpers/asm.js";
import { ensureBuilt, rarIn, type Out } from "./helpers/cli.js";
import { rarErrorOf } from "./helpers/errors.js";

const SPEC = new URL("../spec/capabilities.md", import.meta.url);

let dir = "";
const rar = (...args: string[]): Out => rarIn(dir, ...args);

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-caps-contract-"));
}, 120_000);

/** The value of a gas formula (`100 + ⌈(len(a) + len(b))/16⌉`) for argument lengths by name. */
function evalGas(formula: string, lengths: Readonly<Record<string, number>>): number {
  const m = /^(\d+)(?: \+ ⌈(.+)\/(\d+)⌉)?$/.exec(formula);
  if (!m) throw new Error(`not a gas formula: ${formula}`);
  if (m[2] === undefined) return Number(m[1]);
  const sum = m[2].startsWith("(") ? m[2].slice(1, -1) : m[2];
  const words = sum.split(" + ").reduce((n, term) => {
    const len = /^len\((\w+)\)$/.exec(term);
    return n + (len ? lengths[len[1]] : Number(term));
  }, 0);
  return Number(m[1]) + Math.ceil(words / Number(m[3]));
}

/** A policy that grants `name` as a mock (no host resource is touched): the k-th call returns 0 or []. */
function mockPolicy(name: string): Policy {
  const spec = BUILTIN_SIGNATURES[name];
  return { grants: [name], denials: [], mocks: { [name]: { sig: spec, results: [spec.result === "int" ? 0 : new Int32Array(0)] } }, seed: 0 };
}

/** Gas of a run that calls `name` once with arrays of the given lengths (ints 0), or replaces the call with POPs and a PUSH. */
function gasOfCall(c: CapContract, lengths: Record<string, number>, call: boolean): number {
  const mem = Math.max(1, ...Object.values(lengths));
  const push = c.args.map((a) => (a.type === "int" ? "  PUSH 0" : `  PUSH 0\n  PUSH ${lengths[a.name]}`)).join("\n");
  const words = c.args.reduce((n, a) => n + (a.type === "int" ? 1 : 2), 0);
  const body = call ? `  CAP ${c.name} ${words}` : `${"  POP\n".repeat(words)}  PUSH 0`;
  const src = `.cap ${c.name}\n.func main 0 0\n  PUSH ${mem}\n  MGROW\n  POP\n${push}\n${body}\n  RET`;
  const r = run(src, { policy: mockPolicy(c.name), gas: 1_000_000, mem: 100_000 });
  expect(r.status).toBe("done");
  return r.gasUsed;
}

describe("the contract comes from the one signature table", () => {
  it("lists every built-in capability once, sorted, with every field; the API gives the same", () => {
    const caps = capsContract();
    expect(caps.map((c) => c.name)).toEqual(BUILTIN_NAMES);
    expect([...BUILTIN_NAMES].sort()).toEqual(Object.keys(BUILTIN_SIGNATURES).sort());
    for (const c of caps) {
      expect(Object.keys(c)).toEqual(["name", "version", "args", "result", "call", "scope", "real", "gas", "effect", "doc"]);
      expect(c.version).toBe(1);
      expect(["sync", "async"]).toContain(c.call);
      expect(c.args.map((a) => a.type)).toEqual(BUILTIN_SIGNATURES[c.name].args);
      expect(c.result.type).toBe(BUILTIN_SIGNATURES[c.name].result);
      expect(c.gas.base).toBe(GAS[Op.CAP]);
      expect(c.gas.wordsPerGas).toBe(WORDS_PER_GAS);
      expect(c.doc.length).toBeGreaterThan(0);
    }
    expect(apiCapsContract()).toEqual(caps);
  });

  it("the host registers a handler for exactly the capabilities of the table, with the table's signatures", () => {
    const reg = builtinRegistry({ io: { stdout: () => {} } });
    expect(reg.names()).toEqual(BUILTIN_NAMES);
    for (const n of BUILTIN_NAMES) {
      expect(reg.get(n)?.sig.args).toEqual(BUILTIN_SIGNATURES[n].args);
      expect(reg.get(n)?.sig.result).toBe(BUILTIN_SIGNATURES[n].result);
    }
  });

  it("the host effects are the capabilities whose contract says effect", () => {
    expect([...HOST_EFFECTS].sort()).toEqual(capsContract().filter((c) => c.effect).map((c) => c.name));
  });
});

describe("the contract says what the runtime does", () => {
  it("a call costs the gas its formula gives, for any argument lengths (property)", () => {
    for (const c of capsContract()) {
      const arrays = c.args.filter((a) => a.type === "array").map((a) => a.name);
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: 80 }), { minLength: arrays.length, maxLength: arrays.length }), (ls) => {
          const lengths = Object.fromEntries(arrays.map((n, i) => [n, ls[i]]));
          const pops = GAS[Op.POP] * c.args.reduce((n, a) => n + (a.type === "int" ? 1 : 2), 0) + GAS[Op.PUSH];
          expect(gasOfCall(c, lengths, true) - gasOfCall(c, lengths, false) + pops).toBe(evalGas(c.gas.formula, lengths));
        }),
        { numRuns: 8 },
      );
    }
  });

  it("a policy takes each capability's grant as its scope syntax writes it, and refuses the other forms", () => {
    const allow = (...names: string[]): readonly string[] => loadPolicy({ allow: names, cwd: dir }).grants;
    for (const c of capsContract()) {
      if (c.scope === null) {
        expect(allow(c.name)).toEqual([c.name]);
        expect(rarErrorOf(() => allow(`${c.name}:x`)).message).toMatch(/takes no scope/);
      } else if (c.real) {
        expect(c.scope).toBe(`${c.name}[:real]`);
        expect(allow(c.name, `${c.name}:real`)).toEqual([c.name, `${c.name}:real`]);
        expect(rarErrorOf(() => allow(`${c.name}:x`)).message).toMatch(/only scope/);
      } else if (c.scope.endsWith(":DIR | :tree:/PATH")) {
        expect(allow(`${c.name}:.`)).toHaveLength(1);
        expect(allow(`${c.name}:tree:/notes/../a`)).toEqual([`${c.name}:tree:/a`]);
        expect(rarErrorOf(() => allow(`${c.name}:tree:notes`)).message).toMatch(/absolute guest path/);
        expect(rarErrorOf(() => allow(c.name)).message).toMatch(/needs a directory/);
      } else if (c.scope.endsWith(":KEY")) {
        expect(allow(`${c.name}:HOME`)).toEqual([`${c.name}:HOME`]);
        expect(rarErrorOf(() => allow(c.name)).message).toMatch(/needs a variable name/);
        expect(rarErrorOf(() => allow(`${c.name}:a/b`)).message).toMatch(/letters, digits/);
      } else if (c.scope.endsWith(":ORIGIN")) {
        expect(allow(`${c.name}:http://127.0.0.1:8080/`)).toEqual([`${c.name}:http://127.0.0.1:8080`]);
        expect(rarErrorOf(() => allow(c.name)).message).toMatch(/needs an origin/);
        expect(rarErrorOf(() => allow(`${c.name}:http://127.0.0.1:8080/path`)).message).toMatch(/no path/);
      } else {
        expect(c.scope).toBe(`${c.name}[:PREFIX]`);
        expect(allow(c.name, `${c.name}:app`)).toEqual([c.name, `${c.name}:app`]);
      }
    }
  });
});

describe("rar caps", () => {
  it("--json prints one object {capabilities: [...]} equal to the API's contract", () => {
    const r = rar("caps", "--json");
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout.endsWith("}\n")).toBe(true);
    expect(JSON.parse(r.stdout)).toEqual({ capabilities: JSON.parse(JSON.stringify(capsContract())) });
  });

  it("prints an aligned table: a header and one line per capability, every column starting at the same offset", () => {
    const r = rar("caps");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(capsText(capsContract()));
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(BUILTIN_NAMES.length + 1);
    const header = lines[0];
    for (const col of ["signature", "call", "scope", "real", "gas", "effect", "doc"]) {
      const at = header.indexOf(` ${col} `.trimEnd()) + 1;
      for (const line of lines.slice(1)) {
        expect([...line][at - 1]).toBe(" ");
        expect([...line][at]).not.toBe(" ");
      }
    }
    for (const [i, n] of BUILTIN_NAMES.entries()) expect(lines[i + 1].startsWith(`${n}@1 `)).toBe(true);
  });

  it.each([["--jsn"], ["--json", "extra"], ["-x"]])("rar caps %s is a usage error: one line and a hint, exit 2, nothing on stdout", (...args) => {
    const r = rar("caps", ...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^rar: error: [^\n]+\nsee 'rar caps --help'\n$/);
  });
});

describe("spec/capabilities.md", () => {
  const spec = (): string => readFileSync(SPEC, "utf8");

  it("holds exactly the table scripts/gen-caps.ts generates (run `npm run gen:caps`)", () => {
    expect(spec()).toBe(specWithCaps(spec()));
    expect(spec()).toContain(capsMarkdown());
  });

  it("says what `rar caps --json` says, capability by capability", () => {
    const json = JSON.parse(rar("caps", "--json").stdout) as { capabilities: CapContract[] };
    const rows = spec()
      .split("\n")
      .filter((l) => /^\| `[a-z]/.test(l))
      .map((l) => l.slice(2, -2).split(/ (?<!\\)\| /).map((cell) => cell.replace(/\\\|/g, "|")));
    expect(rows).toHaveLength(json.capabilities.length);
    json.capabilities.forEach((c, i) => {
      const [name, version, signature, call, scope, real, gas, effect, doc] = rows[i];
      expect(name).toBe(`\`${c.name}\``);
      expect(Number(version)).toBe(c.version);
      expect(signature).toBe(`\`(${c.args.map((a) => `${a.name}:${a.type}`).join(", ")}) -> ${c.result.name}:${c.result.type}\``);
      expect(call).toBe(c.call);
      expect(scope).toBe(c.scope === null ? "-" : `\`${c.scope}\``);
      expect(real).toBe(c.real ? "yes" : "no");
      expect(gas).toBe(c.gas.formula);
      expect(effect).toBe(c.effect ? "host" : "-");
      expect(doc).toBe(c.doc);
    });
  });
});

describe("the caps command loads lazily", () => {
  it("main.ts reaches caps-command.ts only through a dynamic import (rar run does not load it)", () => {
    const main = readFileSync(new URL("../src/cli/main.ts", import.meta.url), "utf8");
    expect(main).not.toMatch(/^import .*caps-command/m);
    expect(main).toMatch(/import\("\.\/caps-command\.js"\)/);
  });
});
