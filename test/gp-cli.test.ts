// `rar gp` end to end, through the built CLI.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI, ensureBuilt } from "./helpers/cli.js";

let dir = "";

function rar(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd: dir });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function withoutTiming(json: string): unknown {
  const { evals_per_s: _e, seconds: _s, ...rest } = JSON.parse(json) as Record<string, unknown>;
  return rest;
}

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-gp-"));
});

describe("rar gp", () => {
  it("--json prints one object with the contract's fields, writes the best .rmod, and stays quiet on stderr", () => {
    const r = rar("gp", "--problem", "smallest", "--seed", "1", "--pop", "40", "--gens", "3", "--json", "--out", "best.rmod");
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    const j = JSON.parse(r.stdout);
    for (const k of ["problem", "seed", "generations", "evaluations", "evals_per_s", "solved", "best", "per_generation"]) expect(j).toHaveProperty(k);
    for (const k of ["train_error", "test_error", "size", "gas"]) expect(j.best).toHaveProperty(k);
    expect(j.problem).toBe("smallest");
    expect(j.per_generation).toHaveLength(j.generations);
    expect(j.best.program).toMatch(/^\.module smallest/);
    expect(existsSync(join(dir, "best.rmod"))).toBe(true);
    const run = rar("run", "best.rmod", "3", "1", "4", "1");
    expect(run.stderr).toMatch(/rar: (done|fault)/);
  });

  it("the same seed twice prints the same report but for timing", () => {
    const args = ["gp", "--problem", "median", "--seed", "5", "--pop", "30", "--gens", "2", "--json", "--out", "m.rmod"];
    expect(withoutTiming(rar(...args).stdout)).toEqual(withoutTiming(rar(...args).stdout));
  });

  it("prints a human summary and the disassembly without --json, and writes the SVG plot", () => {
    const r = rar("gp", "--problem", "even-parity", "--pop", "30", "--gens", "2", "--out", "p.rmod", "--plot", "p.svg");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^rar gp: even-parity seed 1 \(preset tuned\): /);
    expect(r.stdout).toMatch(/evaluations\/s/);
    expect(r.stdout).toMatch(/\.func main 0/);
    expect(readFileSync(join(dir, "p.svg"), "utf8")).toMatch(/^<svg/);
  });

  it("resumes from a checkpoint to exactly the report of an uninterrupted run", () => {
    const base = ["--problem", "smallest", "--seed", "3", "--pop", "30", "--json", "--out", "r.rmod"];
    const whole = rar("gp", ...base, "--gens", "4");
    const part = rar("gp", ...base, "--gens", "2", "--checkpoint", "ck.json", "--checkpoint-every", "1");
    expect(part.code).toBe(0);
    const resumed = rar("gp", "--resume", "ck.json", "--gens", "4", "--json", "--out", "r.rmod");
    expect(resumed.code).toBe(0);
    expect(withoutTiming(resumed.stdout)).toEqual(withoutTiming(whole.stdout));
  });

  it("runs a custom problem from a JSON cases file (examples/gp)", () => {
    const file = join(__dirname, "..", "examples", "gp", "sum-of-squares.json");
    const r = rar("gp", "--cases", file, "--pop", "40", "--gens", "2", "--json", "--out", "v.rmod");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).problem).toBe("sum-of-squares");
  });

  for (const [what, content, message] of [
    ["not JSON", "{", /not JSON/],
    ["without train cases", '{"test": []}', /"train" must be an array/],
    ["with a bad input", '{"train": [{"input": ["x"], "output": 1}]}', /train\[0\]\.input\[0\] is not a 32-bit integer/],
  ] as const)
    it(`refuses a cases file ${what}: one line on stderr, exit 2, nothing written`, () => {
      writeFileSync(join(dir, "bad.json"), content);
      const r = rar("gp", "--cases", "bad.json", "--out", "never.rmod");
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(existsSync(join(dir, "never.rmod"))).toBe(false);
    });

  it("refuses bad usage with exit 2: no problem, an unknown problem, a bad number", () => {
    expect(rar("gp").code).toBe(2);
    const unknown = rar("gp", "--problem", "nope");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown problem 'nope'/);
    expect(rar("gp", "--problem", "smallest", "--pop", "many").code).toBe(2);
    expect(rar("gp", "--resume", "missing.json").stderr).toMatch(/missing\.json: no such file/);
  });
});

describe("rar gp --preset", () => {
  it("--psb runs the faithful preset: the report says so, one program tried on the held-out cases, the same seed twice gives the same report", () => {
    const args = ["gp", "--problem", "median", "--psb", "--seed", "3", "--pop", "30", "--gens", "2", "--json", "--out", "m.rmod"];
    const a = rar(...args);
    expect(a.code).toBe(0);
    const j = JSON.parse(a.stdout);
    expect(j.preset).toBe("faithful");
    expect(j.config.preset).toBe("faithful");
    expect(j.held_out_tests).toBe(1);
    expect(j.config.gas).toBe(800);
    expect(withoutTiming(rar(...args).stdout)).toEqual(withoutTiming(a.stdout));
    const text = rar("gp", "--problem", "median", "--preset", "pressure", "--seed", "3", "--pop", "20", "--gens", "1", "--out", "p.rmod");
    expect(text.stdout).toMatch(/^rar gp: median seed 3 \(preset pressure\)/);
  });

  it("refuses a contradictory or unknown preset with one line and exit 2", () => {
    const both = rar("gp", "--problem", "smallest", "--psb", "--preset", "tuned");
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--psb is --preset faithful/);
    const bad = rar("gp", "--problem", "smallest", "--preset", "psb2");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--preset/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });
});
