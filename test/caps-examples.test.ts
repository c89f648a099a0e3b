// The capability examples in examples/ run as their comments say.

import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI, ROOT, ensureBuilt } from "./helpers/cli.js";

let out = "";

function rar(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd: ROOT });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  ensureBuilt();
  out = mkdtempSync(join(tmpdir(), "rar-examples-"));
});

describe("examples", () => {
  it("policy-demo.ent runs under examples/policy.json, and not without it", () => {
    const img = join(out, "demo.rimg");
    const r = rar("run", "examples/policy-demo.ent", "--policy", "examples/policy.json", "--out", img);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      "Hello from a file the policy lets this program read.\nroll 0 4\nroll 1 8\nroll 2 15\nstored [27] after 1 virtual ms\n",
    );
    expect(rar("audit", img).stdout).toMatch(/^audit: valid\n/);
    const denied = rar("run", "examples/policy-demo.ent");
    expect(denied.code).toBe(2);
    expect(denied.stdout).toBe("");
  });

  it("trap-mock.ent mocks and filters a child's calls; the host's clock is never called", () => {
    const img = join(out, "trap.rimg");
    const r = rar("run", "examples/trap-mock.ent", "--allow", "clock.now", "--out", img);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("[child] I measured 250 ms\nchild finished with 250\n");
    const audit = JSON.parse(rar("audit", img, "--json").stdout) as { valid: boolean; capabilities: { cap: string }[] };
    expect(audit.valid).toBe(true);
    expect(audit.capabilities.map((c) => c.cap)).toEqual(["io.print"]);
  });

  it("host-capability.ts registers an async capability, runs, and audits valid", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "examples/host-capability.ts"], { encoding: "utf8", cwd: ROOT });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Oslo\n {2}degrees: 4\nLima\n {2}degrees: 19\nPerth\n {2}degrees: 27\nresult 16 \(done\)/);
    expect(r.stdout).toMatch(/\naudit: valid\n/);
  });
});
