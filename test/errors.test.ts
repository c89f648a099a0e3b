// The error catalogue (src/vm/errors.ts): every host error kind is declared
// once with its phase and message, every declared kind is raised somewhere,
// every raised key is declared, messages render, the CLI's exit code comes
// from the phase, and spec/errors.md is generated from it.

import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { errorsMarkdown } from "../scripts/gen-errors.js";
import { EXIT, PHASE_EXIT, UsageError, reportError } from "../src/cli/exit.js";
import { ERRORS, RarError, errorKeys, errorText, isErrorKey, type Phase } from "../src/vm/errors.js";

const ROOT = new URL("..", import.meta.url).pathname;
const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");

/** The source files that may raise host errors (not the catalogue itself). */
function sources(): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(join(ROOT, dir))) return;
    for (const name of readdirSync(join(ROOT, dir)).sort()) {
      const path = `${dir}/${name}`;
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (path.endsWith(".ts") && path !== "src/vm/errors.ts") out.push({ path, text: read(path) });
    }
  };
  for (const dir of ["src", "lang", "gp"]) walk(dir);
  return out;
}

describe("the error catalogue", () => {
  const code = sources();

  it("declares each key once, as phase.kind, with a one-line message", () => {
    const keys = errorKeys();
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) {
      expect(isErrorKey(key)).toBe(true);
      expect(errorText(key)).toMatch(/^[a-z"'.(].*[^.\s]$/);
      expect(errorText(key)).not.toContain("\n");
    }
    for (const phase of Object.keys(ERRORS) as Phase[]) expect(Object.keys(ERRORS[phase].kinds).length).toBeGreaterThan(0);
  });

  it("has every declared kind raised somewhere in the code (a kind raised through a phase parameter, `${phase}.kind`, counts for its phases)", () => {
    const all = code.map((f) => f.text).join("\n");
    const unused = errorKeys().filter((key) => {
      const kind = key.slice(key.indexOf(".") + 1);
      return !all.includes(`"${key}"`) && !all.includes(`}.${kind}\``);
    });
    expect(unused).toEqual([]);
  });

  it("has every key the code raises declared (what the type checker also enforces)", () => {
    const undeclared: string[] = [];
    for (const { path, text } of code)
      for (const m of text.matchAll(/new RarError\(\s*"([^"]*)"/g)) if (!isErrorKey(m[1])) undeclared.push(`${path}: ${m[1]}`);
    expect(undeclared).toEqual([]);
  });

  it("has no call site stating a phase and a kind apart, and no helper that only forwards to RarError", () => {
    const old: string[] = [];
    for (const { path, text } of code) {
      for (const m of text.matchAll(/(?:new RarError|super)\(\s*"(usage|decode|verify|compile|image|policy|trace|io)"\s*,/g)) old.push(`${path}: ${m[0]}`);
      for (const m of text.matchAll(/function \w+\([^)]*\): never \{\s*throw new RarError\(\w+(?:, \w+)*\);\s*\}/g)) old.push(`${path}: ${m[0]}`);
    }
    expect(old).toEqual([]);
  });

  it("renders every message: the catalogue's text, or the detail, after the location", () => {
    for (const key of errorKeys()) {
      const plain = new RarError(key);
      expect(plain.message).toBe(errorText(key));
      expect(`${plain.phase}.${plain.kind}`).toBe(key);
      expect(plain.key).toBe(key);
      expect(plain.where).toBeUndefined();
      const placed = new RarError(key, undefined, "prog.ent:3:7");
      expect(placed.message).toBe(`prog.ent:3:7: ${errorText(key)}`);
      const detailed = new RarError(key, "local 9 out of range (nlocals 2)", "function f at pc 12");
      expect(detailed.message).toBe("function f at pc 12: local 9 out of range (nlocals 2)");
      expect(detailed).toBeInstanceOf(Error);
      expect(detailed.name).toBe("RarError");
    }
  });

  it("keeps a subclass's phase and kind (a usage error of the CLI is usage.cli)", () => {
    const e = new UsageError("--gas: 'x' is not an integer");
    expect([e.key, e.phase, e.kind, e.message]).toEqual(["usage.cli", "usage", "cli", "--gas: 'x' is not an integer"]);
  });

  it("gives the CLI's exit code from the error's phase, 2 for every phase as CLI.md says", () => {
    for (const key of errorKeys()) {
      const lines: string[] = [];
      const e = new RarError(key, undefined, "x");
      expect(reportError(e, (s) => void lines.push(s))).toBe(PHASE_EXIT[e.phase]);
      expect(lines.join("")).toMatch(/^rar: error: x: /);
    }
    for (const phase of Object.keys(ERRORS) as Phase[]) expect(PHASE_EXIT[phase]).toBe(EXIT.usage);
    expect(reportError(new Error("bug"), () => {})).toBe(EXIT.internal);
  });

  it("spec/errors.md is exactly what scripts/gen-errors.ts generates from the catalogue (run `npx tsx scripts/gen-errors.ts`)", () => {
    expect(read("spec/errors.md")).toBe(errorsMarkdown());
  });
});
