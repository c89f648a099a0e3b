// Migration across OS processes through the CLI (CLI.md): `rar run --out`
// suspends into an image, `rar resume` continues it in fresh processes until
// it finishes, and the output and total gas are those of one uninterrupted
// run; `rar inspect` shows it; writes are atomic and never clobber the input.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SAMPLE, renderProg } from "./image-programs.js";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

/** The TypeScript loader, by absolute URL so the CLI runs from any directory (no build needed). */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

const ROOT = process.cwd();

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function rar(cwd: string, ...args: string[]): Ran {
  const r = spawnSync(process.execPath, ["--import", TSX, join(ROOT, "src/cli/main.ts"), ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The root's gas used, from the one-line summary on stderr. */
const gasOf = (stderr: string): number => Number(/gas=(\d+)\//.exec(stderr)?.[1]);

describe("images across OS processes", () => {
  const dir = mkdtempSync(join(tmpdir(), "rar-images-"));
  writeFileSync(join(dir, "prog.rasm"), renderProg(SAMPLE));

  it("run --gas SMALL --out, then resume in fresh processes until done: the same stdout, gas and digest as one run", () => {
    const whole = rar(dir, "run", "prog.rasm", "--out", "whole.rimg");
    expect(whole.status).toBe(0);

    const first = rar(dir, "run", "prog.rasm", "--gas", "1500", "--out", "x.rimg");
    expect(first.status).toBe(3);
    expect(first.stderr).toContain("x.rimg");
    let out = first.stdout;
    let last = first;
    let legs = 1;
    while (last.status === 3) {
      last = rar(dir, "resume", "x.rimg", "--gas", "1500");
      out += last.stdout;
      legs++;
      expect(legs).toBeLessThan(30);
    }
    expect(last.status).toBe(0);
    expect(legs).toBeGreaterThan(2);
    expect(out).toBe(whole.stdout);
    expect(gasOf(last.stderr)).toBe(gasOf(whole.stderr));

    const a = JSON.parse(rar(dir, "inspect", "x.rimg", "--json").stdout);
    const b = JSON.parse(rar(dir, "inspect", "whole.rimg", "--json").stdout);
    expect(a.root.status).toBe("done");
    expect(a.root.gasUsed).toBe(b.root.gasUsed);
    expect(a.root.result).toBe(b.root.result);
    expect(a.digest).toBe(b.digest);
    expect(a.imageDigest).not.toBe(b.imageDigest);
    // Atomic writes leave no temporary files behind.
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("run of an image continues it without refuel and never overwrites its input", () => {
    const first = rar(dir, "run", "prog.rasm", "--gas", "1000", "--out", "y.rimg");
    expect(first.status).toBe(3);
    const before = readFileSync(join(dir, "y.rimg"));
    const again = rar(dir, "run", "y.rimg");
    expect(again.status).toBe(3);
    expect(again.stderr).toContain("y.out.rimg");
    expect(readFileSync(join(dir, "y.rimg"))).toEqual(before);
    expect(rar(dir, "run", "y.rimg", "--out", "y.rimg").status).toBe(2);
  });

  it("inspect shows the tree with status, budgets, function and source line per process", () => {
    rar(dir, "run", "prog.rasm", "--gas", "900", "--out", "z.rimg");
    const text = rar(dir, "inspect", "z.rimg");
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^0 {2}out_of_gas need=\d+ {2}gas \d+\/900 {2}mem \d+\/\d+ at main \(prog\.rasm:\d+:\d+\) pc \d+ waiting on 1/m);
    expect(text.stdout).toMatch(/^ {2}0\.1 {2}ready {2}gas \d+\/\d+ .* at w1 \(prog\.rasm:\d+:\d+\)/m);
    const json = JSON.parse(rar(dir, "inspect", "z.rimg", "--json").stdout);
    expect(json).toMatchObject({
      root: { status: "out_of_gas", gasLimit: 900, function: "main", children: [{ handle: 1, status: "ready", function: "w1" }] },
      trace: { events: expect.any(Number) },
    });
    expect(json.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(json.imageDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(json.trace.head).toMatch(/^[0-9a-f]{64}$/);
  });

  it("resume --out writes elsewhere and leaves the image as it was", () => {
    rar(dir, "run", "prog.rasm", "--gas", "1000", "--out", "w.rimg");
    const before = readFileSync(join(dir, "w.rimg"));
    const r = rar(dir, "resume", "w.rimg", "--out", "w2.rimg");
    expect(r.status).toBe(0);
    expect(readFileSync(join(dir, "w.rimg"))).toEqual(before);
    expect(JSON.parse(rar(dir, "inspect", "w2.rimg", "--json").stdout).root.status).toBe("done");
  });
});
