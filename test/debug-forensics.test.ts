// `rar inspect IMAGE --process PATH` (CLI.md "Inspecting a run"): the memory
// of any process of a faulted, suspended or finished image, as words, strings
// and matches of a word sequence, as text or JSON; bad paths and addresses
// are one line and exit 2; huge counts are cut.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, rarIn } from "./helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "rar-forensics-"));
const rar = (...args: string[]) => rarIn(dir, ...args);

// A parent keeps a secret in memory and runs a child that writes a marker
// sequence and a string, then faults (or, in `slow`, runs out of gas).
const PROGRAM = `
fn child(mode) {
  let marker = [0x7eadbeef, 42, -1];
  let note = "child was here";
  if mode == 1 { while true { } }
  return marker[1] / (mode - mode);
}
fn main(args) {
  let secret = "open sesame";
  let h = spawn child(args[0]) with { gas: 5000, mem: 4096 };
  let st = resume(h);
  print("child status", st);
  let spin = 0;
  while spin < args[1] { spin = spin + 1; }
  return st;
}
`;

beforeAll(() => {
  ensureBuilt();
  writeFileSync(join(dir, "f.ent"), PROGRAM);
  expect(rar("run", "f.ent", "0", "0", "--out", "faulted.rimg").code).toBe(0);
  expect(rar("run", "f.ent", "1", "0", "--out", "done.rimg").code).toBe(0);
  expect(rar("run", "f.ent", "0", "1000000", "--gas", "20000", "--out", "suspended.rimg").code).toBe(3);
}, 120_000);

describe("rar inspect --process", () => {
  it("shows a faulted child's memory words as hex and decimal with their addresses", () => {
    const r = rar("inspect", "faulted.rimg", "--process", "0.1", "--mem", "0:64");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^process 0\.1 {2}fault/);
    expect(r.stdout).toContain("div_by_zero");
    expect(r.stdout).toMatch(/ 0x7eadbeef 2125315823\n/);
    expect(r.stdout).toMatch(/: 0xffffffff -1\n/);
  });

  it("finds a word sequence at every address, and the same address the words view shows", () => {
    const r = rar("inspect", "faulted.rimg", "--process", "0.1", "--find", "0x7eadbeef,42,-1", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.find.found).toBe(1);
    const at = j.find.addresses[0];
    const words = JSON.parse(rar("inspect", "faulted.rimg", "--process", "0.1", "--mem", `${at}:3`, "--json").stdout).mem.words;
    expect(words).toEqual([0x7eadbeef, 42, -1]);
    expect(JSON.parse(rar("inspect", "faulted.rimg", "--process", "0.1", "--find", "42,43", "--json").stdout).find.found).toBe(0);
  });

  it("lists printable runs like strings(1), each process its own", () => {
    const child = rar("inspect", "faulted.rimg", "--process", "0.1", "--strings");
    expect(child.stdout).toContain('"child was here"');
    expect(child.stdout).not.toContain("open sesame");
    const root = JSON.parse(rar("inspect", "faulted.rimg", "--process", "0", "--strings", "--json").stdout);
    expect(root.strings.items.some((s: { text: string }) => s.text.includes("open sesame"))).toBe(true);
    const long = JSON.parse(rar("inspect", "faulted.rimg", "--process", "0", "--strings", "--min", "1000", "--json").stdout);
    expect(long.strings.found).toBe(0);
  });

  it("works on suspended and finished images too", () => {
    const s = JSON.parse(rar("inspect", "suspended.rimg", "--process", "0", "--strings", "--json").stdout);
    expect(s.status).toBe("out_of_gas");
    expect(s.strings.items.some((x: { text: string }) => x.text.includes("open sesame"))).toBe(true);
    const d = JSON.parse(rar("inspect", "done.rimg", "--process", "0.1", "--find", "0x7eadbeef", "--json").stdout);
    expect(d.status).toBe("out_of_gas");
    expect(d.find.found).toBe(1);
  });

  it("cuts a huge count at the end of memory and says so", () => {
    const r = rar("inspect", "faulted.rimg", "--process", "0.1", "--mem", "0:4000000000");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/more word\(s\) not shown \(past the end of memory\)/);
    expect(r.stdout.length).toBeLessThan(1 << 20);
    const j = JSON.parse(rar("inspect", "faulted.rimg", "--process", "0.1", "--mem", "0:4000000000", "--json").stdout);
    expect(j.mem.shown).toBe(j.memSize);
  });

  it("refuses a missing process, a malformed path or an address outside memory: one line, exit 2", () => {
    for (const args of [
      ["--process", "0.7"],
      ["--process", "1"],
      ["--process", "0..1"],
      ["--process", "0.1", "--mem", "99999:1"],
      ["--process", "0.1", "--mem", "x:1"],
      ["--process", "0.1", "--find", "1,zz"],
    ]) {
      const r = rar("inspect", "faulted.rimg", ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^rar: error: .+\n/);
      expect(r.stderr).not.toMatch(/\n {4}at /);
      expect(r.stdout).toBe("");
    }
  });

  it("without forensic flags, inspect is the tree view as before", () => {
    const r = rar("inspect", "faulted.rimg");
    expect(r.stdout).toMatch(/^image faulted\.rimg/);
    expect(JSON.parse(rar("inspect", "faulted.rimg", "--json").stdout).root.children[0].status).toBe("fault");
  });
});
