// The host surface through the CLI: examples/host-surface.ent under --allow
// grants, guest stderr before the CLI's own summary, env.get values recorded
// so that replay and audit never read the host's environment.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI, ROOT, ensureBuilt } from "./helpers/cli.js";

let dir = "";

function rar(env: Record<string, string>, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const GRANTS = ["--allow", "io.eprint", "--allow", "random.bytes", "--allow", "clock.mono", "--allow", "clock.sleep", "--allow", "env.get:RAR_GREETING", "--allow", "log.write"];

const jsonLines = (f: string): { type: string; event?: string; level?: string; text?: string }[] =>
  readFileSync(f, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as { type: string });

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-host-"));
});

describe("host surface from the CLI", () => {
  it("host-surface.ent runs as its comment says: guest stderr lines, then the summary last", () => {
    const img = join(dir, "host.rimg");
    const r = rar({ RAR_GREETING: "hi there" }, "run", "examples/host-surface.ent", ...GRANTS, "--out", img);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^slept 251 virtual ms\nbytes \[\d+, \d+, \d+, \d+\]\nhi there\n$/);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines.slice(0, 2)).toEqual(["starting", "done"]);
    expect(lines.at(-1)).toMatch(/^rar: done result=0 /);
    // Replay and audit use the recorded value, not the environment they run in.
    const again = rar({ RAR_GREETING: "changed" }, "replay", img);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("hi there");
    const audit = JSON.parse(rar({}, "audit", img, "--json").stdout) as { valid: boolean };
    expect(audit.valid).toBe(true);
  });

  it("the same run gives the same virtual bytes", () => {
    const a = rar({}, "run", "examples/host-surface.ent", ...GRANTS);
    const b = rar({}, "run", "examples/host-surface.ent", ...GRANTS);
    expect(a.stdout).toBe(b.stdout);
  });

  it("an unscoped env.get is a policy error, nothing run", () => {
    const r = rar({}, "run", "examples/host-surface.ent", ...GRANTS.slice(0, 8), "--allow", "env.get");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/env.get' needs a variable name: env.get:KEY/);
    expect(r.stdout).toBe("");
  });

  it("a capability of the manifest left out stops the run before it starts", () => {
    const r = rar({}, "run", "examples/host-surface.ent", ...GRANTS.slice(2));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/io.eprint/);
  });

  it("--log writes log records and lifecycle events as JSON lines, on run and on resume", () => {
    const img = join(dir, "log.rimg");
    const first = join(dir, "first.log");
    const r = rar({}, "run", "examples/host-surface.ent", ...GRANTS, "--gas", "300", "--out", img, "--log", first);
    expect(r.code).not.toBe(0);
    expect(jsonLines(first).map((e) => e.event ?? e.type)).toEqual(["started", "suspended"]);
    const second = join(dir, "second.log");
    const again = rar({}, "resume", img, ...GRANTS, "--log", second);
    expect(again.code).toBe(0);
    const events = jsonLines(second);
    expect(events.map((e) => e.event ?? e.type)).toEqual(["resumed", "log", "finished"]);
    expect(events[1]).toEqual({ type: "log", level: "info", path: "0", text: "greeted" });
  });

  it("rar trace --log writes the same events as run", () => {
    const f = join(dir, "trace.log");
    const r = rar({}, "trace", "examples/host-surface.ent", ...GRANTS, "--out", join(dir, "trace.rimg"), "--log", f);
    expect(r.code).toBe(0);
    expect(jsonLines(f).map((e) => e.event ?? e.type)).toEqual(["started", "log", "finished"]);
  });

  it("--log refuses the image's own path and an unwritable place before anything runs", () => {
    const img = join(dir, "same.rimg");
    const r = rar({}, "run", "examples/host-surface.ent", ...GRANTS, "--out", img, "--log", img);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--log .* is also the image/);
    expect(existsSync(img)).toBe(false);
    const bad = rar({}, "run", "examples/host-surface.ent", ...GRANTS, "--log", join(dir, "no", "such", "dir.log"));
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toBe("");
  });
});

describe("virtual and real clocks and generators from the CLI", () => {
  const CLOCKS = `cap clock.now;\ncap clock.mono;\ncap clock.sleep;\ncap random.u32;\ncap random.bytes;\nfn main() {\n  let a = clock.now();\n  let b = clock.now();\n  let m0 = clock.mono();\n  clock.sleep(20);\n  let m1 = clock.mono();\n  print(a, b, m0, m1, m1 - m0 >= 20, random.u32(), random.bytes(3));\n  return 0;\n}\n`;
  const NAMES = ["clock.now", "clock.mono", "clock.sleep", "random.u32", "random.bytes"];
  const allow = (suffix: string): string[] => NAMES.flatMap((n) => ["--allow", n + suffix]);

  it("virtual: the clocks count calls and sleeps without waiting, the generator follows the seed: the same output every run", () => {
    const prog = join(dir, "clocks.ent");
    writeFileSync(prog, CLOCKS);
    const a = rar({}, "run", prog, ...allow(""));
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^0 1 0 21 1 -?\d+ \[\d+, \d+, \d+\]\n$/);
    expect(rar({}, "run", prog, ...allow("")).stdout).toBe(a.stdout);
  });

  it(":real: the host's clocks (slept for real) and generator, recorded, so the replay prints the same without reading them", () => {
    const prog = join(dir, "clocks-real.ent");
    writeFileSync(prog, CLOCKS);
    const img = join(dir, "clocks-real.rimg");
    const r = rar({}, "run", prog, ...allow(":real"), "--out", img);
    expect(r.code).toBe(0);
    const [a, b, , , slept] = r.stdout.trim().split(" ");
    expect(Number(b) - Number(a)).toBeGreaterThanOrEqual(0);
    expect(slept).toBe("1");
    const again = rar({}, "replay", img);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(r.stdout);
    // :real is its own grant: the image asks for it, and a virtual grant does not cover it.
    const virtualOnly = rar({}, "resume", img, ...allow(""));
    expect(virtualOnly.code).toBe(2);
    expect(virtualOnly.stderr).toMatch(/the image asks for clock.(mono|now):real, which this host does not grant/);
  });

  it("a prompt for env.get:KEY without a terminal refuses the variable, and says so on stderr", () => {
    const r = rar({ RAR_GREETING: "hi" }, "run", "examples/host-surface.ent", ...GRANTS.slice(0, 8), "--allow", "log.write", "--prompt", "env.get:RAR_GREETING");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/rar: refused env.get:RAR_GREETING for process 0: stdin is not a terminal/);
    expect(r.stdout).not.toMatch(/hi/);
  });
});

describe("an output a flag names is never a file the command reads or writes", () => {
  it("--log, and view's and trace-slice's --out, refuse the program, the image and the policy, and leave them as they were", () => {
    const prog = join(dir, "keep.ent");
    const policy = join(dir, "keep.json");
    const img = join(dir, "keep.rimg");
    writeFileSync(prog, "fn main() -> int { return 7; }\n");
    writeFileSync(policy, '{"allow":["io.print"]}\n');
    expect(rar({}, "trace", prog, "--out", img).code).toBe(0);
    const before = [prog, policy, img].map((f) => readFileSync(f));
    const refused = [
      ["run", prog, "--log", prog],
      ["run", prog, "--policy", policy, "--log", policy],
      ["run", prog, "--out", join(dir, "other.rimg"), "--log", join(dir, "other.rimg")],
      ["resume", img, "--log", img],
      ["view", img, "--out", img],
      ["trace-slice", img, "--from", "0", "--to", "1", "--out", img],
    ];
    for (const args of refused) {
      const r = rar({}, ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(/^rar: error: .* is also the (program|image|policy) the command (runs|reads|writes); give another file/);
    }
    expect([prog, policy, img].map((f) => readFileSync(f))).toEqual(before);
  });
});
