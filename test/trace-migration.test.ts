// A trace travels inside the image (DESIGN §5, §6): a run that makes
// capability calls, is suspended, migrated to a new OS process twice (rar
// resume) and finishes audits valid, and the audit lists every call of all
// three legs — the same calls, outputs and final digest as an uninterrupted
// run. The virtual clock and generator continue across the migrations.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadPolicy, type Policy } from "../src/caps/policy.js";
import { Session } from "../src/session.js";
import { auditImage } from "../src/trace/audit.js";
import { ensureBuilt, rarIn, type Out } from "./helpers/cli.js";
import { start } from "./helpers/asm.js";

let dir = "";

function rar(...args: string[]): Out {
  return rarIn(dir, ...args);
}

const PROGRAM = `cap clock.now;
cap random.u32;

fn worker(n) {
  let sum = 0;
  for i in 0..n { sum = sum + (random.u32() & 255); }
  print("worker", sum);
  return sum;
}

fn main() {
  let total = 0;
  for i in 0..10 {
    let t = clock.now();
    let r = random.u32() & 1023;
    print("tick", i, t, r);
    total = total + r;
  }
  let h = spawn worker(5) with { gas: 100000, mem: 4096, caps: [io.print, random.u32] };
  resume(h);
  return total + result(h);
}
`;

const GRANTS = ["--allow", "clock.now", "--allow", "random.u32"];

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-migrate-"));
  writeFileSync(join(dir, "ticks.ent"), PROGRAM);
});

interface AuditJson {
  valid: boolean;
  digest: string;
  outcome: { status: string; result?: number };
  trace: { events: number; host: Record<string, number>; resumes: number[] };
  capabilities: { cap: string; calls: number; paths: string[] }[];
  calls: { index: number; path: string; cap: string; text: string }[];
}

describe("a run migrated twice", () => {
  it("audits valid and lists every call from all three legs, as an uninterrupted run makes them", () => {
    const whole = rar("run", "ticks.ent", ...GRANTS, "--out", "whole.rimg");
    expect(whole.code).toBe(0);

    const leg1 = rar("run", "ticks.ent", ...GRANTS, "--gas", "1500", "--out", "moved.rimg");
    expect(leg1.code).toBe(3);
    const leg2 = rar("resume", "moved.rimg", ...GRANTS, "--gas", "1500");
    expect(leg2.code).toBe(3);
    const leg3 = rar("resume", "moved.rimg", ...GRANTS, "--gas", "1000000");
    expect(leg3.code).toBe(0);
    expect(leg1.stdout + leg2.stdout + leg3.stdout).toBe(whole.stdout);
    for (const leg of [leg1, leg2, leg3]) expect(leg.stdout).toMatch(/tick/);

    const audit = rar("audit", "moved.rimg");
    expect(audit.code).toBe(0);
    expect(audit.stdout.split("\n")[0]).toBe("audit: valid");

    const moved = JSON.parse(rar("audit", "moved.rimg", "--json").stdout) as AuditJson;
    const reference = JSON.parse(rar("audit", "whole.rimg", "--json").stdout) as AuditJson;
    expect(moved.valid).toBe(true);
    expect(moved.trace.host.resume).toBe(3);
    // Every call, in order, with the same arguments and results as the uninterrupted run.
    expect(moved.calls.map((c) => c.text)).toEqual(reference.calls.map((c) => c.text));
    expect(moved.calls).toHaveLength(10 * 3 + 5 + 1);
    expect(moved.capabilities.map((c) => [c.cap, c.calls, c.paths])).toEqual([
      ["clock.now", 10, ["0"]],
      ["io.print", 11, ["0", "0.1"]],
      ["random.u32", 15, ["0", "0.1"]],
    ]);
    // Each leg made calls: split the calls at the host's resumes.
    const [r1, r2, r3] = moved.trace.resumes;
    const legCalls = [
      moved.calls.filter((c) => c.index > r1 && c.index < r2),
      moved.calls.filter((c) => c.index > r2 && c.index < r3),
      moved.calls.filter((c) => c.index > r3),
    ];
    for (const calls of legCalls) expect(calls.length).toBeGreaterThan(0);
    expect(legCalls.flat()).toEqual(moved.calls);
    expect(moved.digest).toBe(reference.digest);
    expect(moved.outcome).toEqual(reference.outcome);

    // The audit text lists the calls of every leg.
    for (const c of moved.calls) expect(audit.stdout).toContain(`#${c.index} ${c.text}`);
  });

  it("rar replay re-executes all three legs without the host and prints the program's output", () => {
    const r = rar("replay", "moved.rimg");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(rar("run", "ticks.ent", ...GRANTS).stdout);
    expect(r.stderr).toMatch(/rar replay: reproduced \d+ events/);
  });
});

describe("resuming an image through the API", () => {
  const ROLLS = `.cap random.u32
.func main 0 2
  PUSH 5
  LSET 0
top:
  CAP random.u32 0
  YIELD
  LINC 0 -1
  LGET 0
  JNZ top
  PUSH 0
  RET`;

  function policyWithMock(): Policy {
    const f = join(dir, "mock-rolls.json");
    writeFileSync(f, JSON.stringify({ mock: { "random.u32": { results: [1, 2, 3] } } }));
    return loadPolicy({ file: f });
  }

  it("keeps the recorded policy: a mock continues its sequence in a new session", () => {
    const s = start(ROLLS, { policy: policyWithMock() });
    const seen = [s.run().value, s.session.run().value];
    const moved = Session.fromImage(s.session.snapshot(), { stdout: () => undefined });
    let r = moved.run();
    while (r.status === "yielded") {
      seen.push(r.value);
      r = moved.run();
    }
    expect(seen).toEqual([1, 2, 3, 1, 2]);
    expect(auditImage(moved.snapshot()).valid).toBe(true);
  });

  it("a narrowing on resume is recorded and replayed: the root loses the capability, the audit stays valid", () => {
    const s = start(ROLLS, { policy: policyWithMock() });
    s.run();
    const moved = Session.fromImage(s.session.snapshot(), { stdout: () => undefined });
    moved.narrow([]);
    expect(moved.root.caps).toEqual([]);
    const r = moved.run();
    expect(r.status).toBe("fault");
    expect(r.fault).toContain("cap_denied");
    expect(moved.trace?.events().some((e) => e.kind === "narrow")).toBe(true);
    const audit = auditImage(moved.snapshot());
    expect(audit.problem).toBeNull();
  });
});
