// `rar run` and `rar disasm` end to end through the compiled CLI: exit codes,
// the stderr summary, one-line errors without JavaScript stack traces.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { assemble } from "../lang/asm.js";
import { Session } from "../src/session.js";
import { verify } from "../src/vm/verify.js";
import { CLI, ROOT, ensureBuilt, rarIn, type Out } from "./helpers/cli.js";

const FIB = join(ROOT, "examples", "asm", "fib.rasm");
const HELLO = join(ROOT, "examples", "asm", "hello.rasm");
let dir = "";

function rar(...args: string[]): Out {
  return rarIn(dir, ...args);
}

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-cli-run-"));
}, 120_000);

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** An error reported the CLI way: exactly one line, no JavaScript stack trace. */
function oneLine(stderr: string): string {
  expect(stderr).not.toMatch(/\n\s+at /);
  const lines = stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  return lines[0];
}

describe("rar run", () => {
  it("runs fib: exit 0, nothing on stdout, a one-line summary on stderr that agrees with the API", () => {
    const r = rar("run", FIB, "20");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    const line = oneLine(r.stderr);
    const m = /^rar: done result=6765 gas=(\d+)\/10000000 mem=(\d+)\/1048576$/.exec(line);
    expect(m).not.toBeNull();
    const api = Session.start(verify(assemble(readFileSync(FIB, "utf8"), FIB)), { args: [20] }).run();
    expect(Number(m![1])).toBe(api.gasUsed);
    expect(Number(m![2])).toBe(api.memUsed);
  });

  it("writes the program's own output, and only that, to stdout", () => {
    const r = rar("run", HELLO);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("hello\n");
    expect(oneLine(r.stderr)).toMatch(/^rar: done result=0 /);
  });

  it("accepts --gas and --mem with underscores", () => {
    const r = rar("run", FIB, "10", "--gas", "1_000_000", "--mem", "4_096");
    expect(r.code).toBe(0);
    expect(oneLine(r.stderr)).toMatch(/result=55 gas=\d+\/1000000 mem=\d+\/4096$/);
  });

  it("a file that does not exist: exit 2, one line naming it", () => {
    const r = rar("run", "nosuch.rasm");
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/nosuch\.rasm: no such file/);
  });

  it("a file of an unsupported type: exit 2, a usage error with the hint to run's help", () => {
    const r = rar("run", write("x.txt", "hi"));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^rar: error: [^\n]*unsupported file type[^\n]*\nsee 'rar run --help'\n$/);
  });

  it("a program argument that is not an integer: exit 2 for a main that takes integers (assembly, an Ent [int] main); a [[int]] main gets every argument as text", () => {
    const r = rar("run", FIB, "twenty");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^rar: error: program argument: 'twenty' is not an integer\nsee 'rar run --help'\n$/);
    expect(rar("run", FIB, "4294967296").code).toBe(2);
    const ints = write("ints.ent", "fn main(args) { return len(args); }\n");
    expect(rar("run", ints, "1", "twenty").code).toBe(2);
    expect(rar("run", ints, "1", "-2", "3_000").stderr).toMatch(/result=3 /);
    const texts = rar("run", join(ROOT, "examples", "args.ent"), "hello", "wörld", "4294967296", "-7");
    expect(texts.code).toBe(0);
    expect(texts.stdout).toBe("hello\nwörld\n4294967296\n-7\n");
    const numbers = rar("run", join(ROOT, "examples", "args.ent"), "1", "-22");
    expect(numbers.stdout).toBe("1\n-22\n");
    expect(numbers.stderr).toMatch(/result=2 /);
  });

  it("a bad --gas value: exit 2, nothing run", () => {
    for (const v of ["lots", "-5", "1.5"]) {
      const r = rar("run", HELLO, "--gas", v);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("an unknown command or option: exit 2", () => {
    expect(rar("frobnicate").code).toBe(2);
    const r = rar("run", FIB, "--frob");
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("a .rasm the verifier rejects: exit 2, one line naming function and pc", () => {
    const f = write("underflow.rasm", ".func main 0 0\n PUSH 1\n ADD\n RET\n");
    const r = rar("run", f);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/function main at pc 2: ADD needs 2 operands, stack has 1/);
  });

  it("a .rasm the assembler rejects: exit 2, one line with FILE:LINE:COLUMN", () => {
    const f = write("typo.rasm", ".func main 0 0\n  PUSH 1\n  ADDD\n  RET\n");
    const r = rar("run", f);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/typo\.rasm:3:3: unknown instruction 'ADDD'/);
  });

  it("a guest fault: exit 1, naming the process path, function, source line and callers", () => {
    const f = write("div.rasm", ".func main 0 0\n PUSH 7\n CALL f\n RET\n.func f 1 1\n LGET 0\n PUSH 0\n DIV\n RET\n");
    const r = rar("run", f);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const [fault, summary] = r.stderr.trimEnd().split("\n");
    expect(fault).toMatch(/fault div_by_zero .*process 0 in f \(.*div\.rasm:8:2\); called from main \(.*div\.rasm:3:2\)/);
    expect(summary).toMatch(/^rar: fault gas=\d+\/10000000 mem=\d+\/1048576$/);
  });

  it("out of gas at the root: exit 3, suspended, the image path on stderr", () => {
    const r = rar("run", FIB, "20", "--gas", "100");
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).toMatch(/suspended/);
    expect(r.stderr).toMatch(/rar: out_of_gas gas=\d+\/100 /);
    expect(r.stderr).toMatch(/fib\.rimg/);
    expect(existsSync(join(dir, "fib.rimg"))).toBe(true);
  });

  it("out of memory at the root: exit 3", () => {
    const r = rar("run", FIB, "20", "--mem", "40", "--out", join(dir, "mem.rimg"));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/rar: out_of_mem gas=\d+\/10000000 mem=\d+\/40/);
  });

  it("a capability the module needs but the root is denied: exit 2, nothing run", () => {
    const r = rar("run", HELLO, "--deny", "io.print");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(oneLine(r.stderr)).toMatch(/io\.print/);
  });

  it("--help and run --help exit 0 and describe the commands", () => {
    const top = rar("--help");
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/run .*<file>/);
    expect(top.stdout).toMatch(/disasm/);
    const run = rar("run", "--help");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--gas/);
    expect(run.stdout).toMatch(/--mem/);
  });
});

describe("rar disasm", () => {
  it("prints assembly that assembles back to the same code, with source lines", () => {
    const r = rar("disasm", FIB);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/; .*fib\.rasm:\d+: /);
    const original = assemble(readFileSync(FIB, "utf8"), FIB);
    const back = assemble(r.stdout, "out.rasm");
    expect(Array.from(back.code)).toEqual(Array.from(original.code));
    expect(back.functions).toEqual(original.functions);
  });

  it("a verifier-rejected file: exit 2, one line", () => {
    const r = rar("disasm", write("bad.rasm", ".func main 0 0\n RET\n"));
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/function main at pc 0/);
  });
});

describe("where generating code from strings is forbidden", () => {
  it("runs hot loops in the interpreter with the same output", () => {
    const LONG = join(ROOT, "examples", "long.ent");
    const plain = rar("run", LONG);
    const r = spawnSync(process.execPath, ["--disallow-code-generation-from-strings", CLI, "run", LONG], { encoding: "utf8", cwd: dir });
    expect(plain.code).toBe(0);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(plain.stdout);
    expect(r.stderr).toBe(plain.stderr);
  });
});
