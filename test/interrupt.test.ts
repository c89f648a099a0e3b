// Nothing is lost (DESIGN §6, CLI.md): SIGINT, SIGTERM or a wall-clock budget
// suspend a run at an instruction boundary; the image is written like any
// suspension (exit 3) and the stop is a recorded host event, so the run
// stays transparent: resumed, it ends exactly as an uninterrupted run.

import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compileSource } from "../lang/ent/compile.js";
import { Session } from "../src/session.js";
import { auditImage } from "../src/trace/audit.js";
import { verify } from "../src/vm/verify.js";
import { CLI, ensureBuilt, rarIn, type Out } from "./helpers/cli.js";

let dir = "";

function rar(...args: string[]): Out {
  return rarIn(dir, ...args);
}

const SPIN = `cap clock.now;
fn main(args) {
  print("start", clock.now());
  let x = 0;
  for i in 0..args[0] { x = (x * 31 + i) & 65535; }
  print("end", x, clock.now());
  return x;
}
`;

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-interrupt-"));
  writeFileSync(join(dir, "spin.ent"), SPIN);
});

describe("interrupts through the API", () => {
  const m = verify(compileSource(SPIN).modules[0]);
  const CAPS = ["io.print", "clock.now"];

  function whole(): { out: string; gasUsed: number; digest: string } {
    let out = "";
    const s = Session.start(m, { caps: CAPS, args: [400_000], stdout: (t) => void (out += t) });
    const r = s.run();
    return { out, gasUsed: r.gasUsed, digest: s.digest() };
  }

  it("a spent timeout stops run() at an instruction boundary; each leg resumed in a fresh session ends as one uninterrupted run", () => {
    const want = whole();
    let out = "";
    const stdout = (t: string): void => void (out += t);
    let s = Session.start(m, { caps: CAPS, args: [400_000], stdout });
    let r = s.run({ timeout: 0 });
    let legs = 1;
    while (r.status === "out_of_gas") {
      s = Session.fromImage(s.snapshot(), { caps: CAPS, stdout });
      r = s.run({ timeout: 0 });
      legs++;
    }
    expect(legs).toBeGreaterThan(2);
    expect(r.status).toBe("done");
    expect(out).toBe(want.out);
    expect(r.gasUsed).toBe(want.gasUsed);
    expect(s.digest()).toBe(want.digest);
    const audit = auditImage(s.snapshot());
    expect(audit.problem).toBeNull();
    expect(audit.host.interrupt).toBe(legs - 1);
  });

  it("an aborted signal suspends runAsync(); the limits are untouched and a resume needs no refuel", async () => {
    const controller = new AbortController();
    controller.abort();
    const s = Session.start(m, { caps: CAPS, args: [400_000], stdout: () => undefined });
    const r = await s.runAsync({ signal: controller.signal });
    expect(r.status).toBe("out_of_gas");
    expect(r.gasLimit).toBe(10_000_000);
    expect(r.gasUsed).toBeLessThan(r.gasLimit);
    const done = await s.runAsync();
    expect(done.status).toBe("done");
    expect(done.gasUsed).toBe(whole().gasUsed);
    expect(s.digest()).toBe(whole().digest);
  });
});

describe("interrupts inside a tree", () => {
  const TREE = `cap kv.get;
cap kv.put;
fn spin(n) {
  let x = 0;
  for i in 0..n { x = (x * 7 + i) & 4095; }
  kv.put("c", [x]);
  return x;
}
fn main() {
  let total = 0;
  for k in 0..6 {
    let h = spawn spin(150000 + k) with { gas: 100000000, mem: 4096, caps: [kv.put] };
    resume(h);
    total = total + result(h) + kv.get("c")[0];
  }
  print("total", total);
  return total;
}
`;
  const m = verify(compileSource(TREE).modules[0]);
  const CAPS = ["io.print", "kv.get", "kv.put"];

  it("a root interrupted while a child runs resumes into that child, and the run ends as an uninterrupted one (audit valid)", () => {
    let want = "";
    const w = Session.start(m, { caps: CAPS, gas: 1_000_000_000, stdout: (t) => void (want += t) });
    const whole = w.run();
    let out = "";
    const stdout = (t: string): void => void (out += t);
    let s = Session.start(m, { caps: CAPS, gas: 1_000_000_000, stdout });
    let r = s.run({ timeout: 0 });
    let inChild = 0;
    while (r.status === "out_of_gas") {
      if (s.root.waiting !== 0) inChild++;
      s = Session.fromImage(s.snapshot(), { caps: CAPS, stdout });
      r = s.run({ timeout: 0 });
    }
    expect(inChild).toBeGreaterThan(0);
    expect(out).toBe(want);
    expect(r.value).toBe(whole.value);
    expect(r.gasUsed).toBe(whole.gasUsed);
    expect(s.digest()).toBe(w.digest());
    expect(auditImage(s.snapshot()).problem).toBeNull();
  });
});

describe("an instruction that costs more than a slice", () => {
  // array(n) grows memory by n words, one instruction of 2 + n/16 gas: more than a slice of a run
  // that can be interrupted (a signal or timeout; the CLI always gives a signal) runs at once.
  const BIG = `fn main(args) { let a = array(args[0]); a[args[0] - 1] = 7; return a[args[0] - 1]; }\n`;
  const m = verify(compileSource(BIG).modules[0]);
  const N = 20_000_000;

  it("runs when the limits allow it (sync with a timeout, async with a signal), as without slices", async () => {
    const opts = { args: [N], gas: 100_000_000, mem: 30_000_000 };
    const plain = Session.start(m, opts).run();
    expect(plain).toMatchObject({ status: "done", value: 7 });
    expect(Session.start(m, opts).run({ timeout: 600_000 })).toMatchObject({ status: "done", value: 7, gasUsed: plain.gasUsed });
    const r = await Session.start(m, opts).runAsync({ signal: new AbortController().signal });
    expect(r).toMatchObject({ status: "done", value: 7, gasUsed: plain.gasUsed });
  });

  it("stops out_of_mem on the default limits instead of slicing for ever", async () => {
    const r = await Session.start(m, { args: [N] }).runAsync({ signal: new AbortController().signal });
    expect(r.status).toBe("out_of_mem");
    expect(Session.start(m, { args: [N] }).run({ timeout: 600_000 }).status).toBe("out_of_mem");
  });

  it("rar run and rar trace end (exit 3 on the default limits, 0 with room)", () => {
    writeFileSync(join(dir, "big.ent"), BIG);
    expect(rar("run", "big.ent", String(N), "--out", "big.rimg")).toMatchObject({ code: 3 });
    expect(rar("trace", "big.ent", String(N), "--out", "bigt.rimg")).toMatchObject({ code: 3 });
    const ok = rar("trace", "big.ent", String(N), "--gas", "100_000_000", "--mem", "30_000_000", "--out", "bigt2.rimg");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe("");
    expect(ok.stderr).toMatch(/done result=7/);
  });
});

describe("interrupts from the command line", () => {
  it("--timeout suspends and writes the image (exit 3); resuming it ends as the uninterrupted run", () => {
    const want = rar("run", "spin.ent", "3000000", "--allow", "clock.now", "--gas", "1_000_000_000", "--out", "whole.rimg");
    expect(want.code).toBe(0);
    const first = rar("run", "spin.ent", "3000000", "--allow", "clock.now", "--gas", "1_000_000_000", "--timeout", "0.001", "--out", "t.rimg");
    expect(first.code).toBe(3);
    expect(first.stderr).toMatch(/suspended; image written to t\.rimg/);
    let out = first.stdout;
    let last = first;
    for (let i = 0; i < 100 && last.code === 3; i++) {
      last = rar("resume", "t.rimg", "--allow", "clock.now", "--gas", "0");
      out += last.stdout;
    }
    expect(last.code).toBe(0);
    expect(out).toBe(want.stdout);
    const digest = (f: string): string => JSON.parse(rar("inspect", f, "--json").stdout).digest;
    expect(digest("t.rimg")).toBe(digest("whole.rimg"));
    expect(rar("audit", "t.rimg").code).toBe(0);
  });

  it.each(["SIGINT", "SIGTERM"] as const)("%s during rar run writes the image and exits 3; the image audits and resumes", async (SIGNAL) => {
    const { code, stderr } = await interrupted(SIGNAL, "run", "spin.ent", "2000000000", "--allow", "clock.now", "--gas", "100_000_000_000", "--out", "sig.rimg");
    expect(code).toBe(3);
    expect(stderr).toMatch(/suspended; image written to sig\.rimg/);
    expect(rar("audit", "sig.rimg").code).toBe(0);
    // The limits are untouched: the resumed run goes on where it stopped (here until its own timeout).
    const again = rar("resume", "sig.rimg", "--allow", "clock.now", "--gas", "0", "--timeout", "0.2");
    expect(again.code).toBe(3);
    expect(again.stdout).toBe("");
    expect(again.stderr).toMatch(/out_of_gas gas=\d+\/100000000000 /);
  });

  it.each(["SIGINT", "SIGTERM"] as const)("%s during an hour's real clock.sleep suspends at once (exit 3); resumed, the run ends as it would have", async (SIGNAL) => {
    writeFileSync(join(dir, "nap.ent"), NAP);
    const { code, stderr } = await interrupted(SIGNAL, "run", "nap.ent", "--allow", "clock.sleep:real", "--out", "nap.rimg");
    expect(code).toBe(3);
    expect(stderr).toMatch(/suspended; image written to nap\.rimg/);
    expect(rar("audit", "nap.rimg").code).toBe(0);
    // The sleep's answer (0) was delivered, nothing after it ran: resumed, the rest of the program runs.
    const again = rar("resume", "nap.rimg", "--allow", "clock.sleep:real", "--allow", "io.print");
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("woke\n");
    expect(again.stderr).toMatch(/done result=7/);
  }, 30_000);
});

/** Runs `rar ARGS` in the test directory and sends it `signal` once the guest has started (its first line is out). */
async function interrupted(signal: "SIGINT" | "SIGTERM", ...args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: dir });
  let stderr = "";
  child.stderr.on("data", (d) => void (stderr += String(d)));
  await new Promise<void>((ready) => child.stdout.once("data", () => ready()));
  child.kill(signal);
  const code = await new Promise<number | null>((done) => child.on("close", (c) => done(c)));
  return { code, stderr };
}

/** Prints, sleeps an hour of real time, prints. */
const NAP = `cap clock.sleep;
fn main() {
  print("sleeping");
  clock.sleep(3600000);
  print("woke");
  return 7;
}
`;

describe("a real clock.sleep and the run's signal (CapContext.signal)", () => {
  it("runAsync's signal, aborted while the sleep is out, ends it early: the run stops there, out_of_gas, and goes on when resumed", async () => {
    const [m] = compileSource(NAP, "nap.ent").modules.map((d) => verify(d));
    const out: string[] = [];
    const s = Session.start(m, { caps: ["clock.sleep:real", "io.print"], stdout: (t) => void out.push(t) });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const r = await s.runAsync({ signal: controller.signal });
    expect(r.status).toBe("out_of_gas");
    expect(out.join("")).toBe("sleeping\n");
    const done = await s.runAsync();
    expect(done.status).toBe("done");
    expect(done.value).toBe(7);
    expect(out.join("")).toBe("sleeping\nwoke\n");
  });

  it("a signal aborted before the call: the sleep returns at once", async () => {
    const [m] = compileSource(NAP, "nap.ent").modules.map((d) => verify(d));
    const controller = new AbortController();
    controller.abort();
    const r = await Session.start(m, { caps: ["clock.sleep:real", "io.print"], stdout: () => {} }).runAsync({ signal: controller.signal });
    expect(["out_of_gas", "done"]).toContain(r.status);
  });
});
