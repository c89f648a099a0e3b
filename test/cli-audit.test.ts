// What a contract audit of the CLI against CLI.md found, pinned down: each
// test is a place where the built `rar` and the document disagreed.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { assemble } from "../lang/asm.js";
import { CLI, ROOT, ensureBuilt, expectUsage, rarIn, type Out } from "./helpers/cli.js";

const FIB = join(ROOT, "examples", "asm", "fib.rasm");
const HELLO = join(ROOT, "examples", "hello.ent");
let dir = "";

function rar(...args: string[]): Out {
  return rarIn(dir, ...args);
}

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-cli-audit-"));
}, 120_000);

describe("rar disasm FILE takes a .rimg (CLI.md: 'human-readable code of a .rmod, .rimg or .ent')", () => {
  it("prints the root's module first, as text that assembles back to the module's code", () => {
    const run = rar("run", FIB, "10", "--gas", "50", "--out", "fib.rimg");
    expect(run.code).toBe(3);
    const r = rar("disasm", "fib.rimg");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^; module 1 of 1 \(the root's\): [0-9a-f]{64}\n\.module /);
    const original = assemble(readFileSync(FIB, "utf8"), FIB);
    const back = assemble(r.stdout, "out.rasm");
    expect(Array.from(back.code)).toEqual(Array.from(original.code));
    expect(back.functions).toEqual(original.functions);
  });

  it("a malformed image: one line naming the file, exit 2", () => {
    writeFileSync(join(dir, "junk.rimg"), "not an image");
    const r = rar("disasm", "junk.rimg");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^rar: error: junk\.rimg: [^\n]+\n$/);
  });
});

describe("rar fs IMAGE import DIR of a missing directory", () => {
  it("is one line naming the directory, exit 2 (not an internal error), the image untouched", () => {
    expect(rar("run", HELLO, "--out", "h.rimg").code).toBe(0);
    const before = readFileSync(join(dir, "h.rimg"));
    const r = rar("fs", "h.rimg", "import", "no-such-dir");
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("rar: error: no-such-dir: cannot import: no such file or directory\n");
    expect(r.code).toBe(2);
    expect(readFileSync(join(dir, "h.rimg")).equals(before)).toBe(true);
  });

  it("of a file: one line, exit 2", () => {
    writeFileSync(join(dir, "plain"), "x");
    const r = rar("fs", "h.rimg", "import", "plain");
    expect(r.stderr).toBe("rar: error: plain: cannot import: not a directory\n");
    expect(r.code).toBe(2);
  });
});

describe("usage errors are one line and a hint, not the whole help (CLI.md)", () => {
  it("rar with no command", () => {
    expectUsage(rar(), null, /^rar: error: no command given$/);
  });

  for (const bad of ["_1", "1_", "1__0", "_"])
    it(`--gas '${bad}': underscores only between digits`, () => {
      expectUsage(rar("run", HELLO, "--gas", bad), "run", /^rar: error: --gas: '.*' is not an integer$/);
    });

  it("--gas 1_000_000 is a count", () => {
    const r = rar("run", HELLO, "--gas", "1_000_000");
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/ gas=\d+\/1000000 /);
  });

  for (const command of ["run", "resume"])
    it(`${command} --policy '': names the flag`, () => {
      expectUsage(rar(command, command === "run" ? HELLO : "none.rimg", "--policy", ""), command, /^rar: error: --policy: an empty file name was given/);
    });

  it("a program argument past 32 bits is out of range, not 'not an integer'", () => {
    expectUsage(rar("run", FIB, "2147483648"), "run", /^rar: error: program argument: 2147483648 is out of range \(a signed 32-bit integer/);
  });
});

describe("SIGINT before the first instruction (CLI.md: during run, resume or trace it suspends and writes the image)", () => {
  // Finishes in about 3M gas (over one slice, under the default refuel) when nothing stops it; an interrupt stops it at its first slice.
  const COUNT = `fn main() {
  let x = 0;
  for i in 0..300_000 { x = (x * 31 + i) & 65535; }
  print("x", x);
  return x;
}
`;
  /**
   * Runs `rar ARGS` with SIGINT sent to itself as the command opens its input
   * (`input`: the program or image), before anything runs: a process with no
   * SIGINT listener at that moment dies of it.
   */
  function interruptedEarly(input: string, ...args: string[]): Out {
    const preload = join(dir, "sigint-early.cjs");
    writeFileSync(
      preload,
      `const fs = require("node:fs");
const open = fs.openSync;
let sent = false;
fs.openSync = function (path, ...rest) {
  if (!sent && String(path).endsWith(${JSON.stringify(input)})) {
    sent = true;
    process.kill(process.pid, "SIGINT");
  }
  return open.call(this, path, ...rest);
};
`,
    );
    const r = spawnSync(process.execPath, ["--require", preload, CLI, ...args], { encoding: "utf8", cwd: dir, timeout: 60_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  for (const command of ["run", "trace"])
    it(`rar ${command}: exit 3, the image written, and resumed it ends as an uninterrupted run`, () => {
      writeFileSync(join(dir, "count.ent"), COUNT);
      const whole = rar("run", "count.ent");
      expect(whole.code).toBe(0);
      const image = `early-${command}.rimg`;
      const r = interruptedEarly("count.ent", command, "count.ent", "--out", image);
      expect(r.stderr).toMatch(new RegExp(`^rar: suspended; image written to ${image}`));
      expect(r.code).toBe(3);
      expect(r.stdout).toBe("");
      const resumed = rar("resume", image);
      expect(resumed.code).toBe(0);
      expect(resumed.stdout).toBe(whole.stdout);
    });

  it("rar resume: exit 3, the image replaced by one that still resumes", () => {
    writeFileSync(join(dir, "count.ent"), COUNT);
    expect(rar("run", "count.ent", "--gas", "1000", "--out", "r.rimg").code).toBe(3);
    const r = interruptedEarly("r.rimg", "resume", "r.rimg");
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^rar: suspended; image written to r\.rimg/);
    expect(rar("resume", "r.rimg").code).toBe(0);
  });

  it("another command still stops at once (the launcher's notes are released)", () => {
    const r = interruptedEarly("hello.ent", "disasm", HELLO);
    expect(r.code).toBe(-1);
    expect(existsSync(join(dir, "hello.rimg"))).toBe(false);
  });
});

describe("rar run checks where its image would go before anything runs (CLI.md: exit 2, nothing ran; 3, the image written)", () => {
  // Prints, then needs far more than 5000 gas: run with --gas 5000 it would suspend after printing.
  const SPEAKS = `fn main() {
  print("started");
  let x = 0;
  for i in 0..1_000_000 { x = x + i; }
  return x;
}
`;

  it("./STEM.rimg in the way (a directory): exit 2 before the program runs, not a lost suspension", () => {
    const sub = mkdtempSync(join(dir, "way-"));
    writeFileSync(join(sub, "speaks.ent"), SPEAKS);
    mkdirSync(join(sub, "speaks.rimg"));
    const r = rarIn(sub, "run", "speaks.ent", "--gas", "5000");
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("rar: error: ./speaks.rimg: cannot write: is a directory\n");
    expect(r.code).toBe(2);
  });

  it("rar run IMAGE: the default ./STEM.out.rimg is checked too", () => {
    const sub = mkdtempSync(join(dir, "way-"));
    writeFileSync(join(sub, "speaks.ent"), SPEAKS);
    expect(rarIn(sub, "run", "speaks.ent", "--gas", "10", "--out", "speaks.rimg").code).toBe(3);
    mkdirSync(join(sub, "speaks.out.rimg"));
    const r = rarIn(sub, "run", "speaks.rimg");
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("rar: error: ./speaks.out.rimg: cannot write: is a directory\n");
    expect(r.code).toBe(2);
  });
});

describe("rar run/trace IMAGE --gas/--mem (an image keeps the limits it ran under)", () => {
  it("is a usage error naming the flag and pointing at resume; the image is untouched and nothing runs", () => {
    expect(rar("run", FIB, "20", "--gas", "50", "--out", "lim.rimg").code).toBe(3);
    const before = readFileSync(join(dir, "lim.rimg"));
    for (const command of ["run", "trace"])
      for (const flag of ["--gas", "--mem"]) {
        const r = rar(command, "lim.rimg", flag, "5", "--out", "lim2.rimg");
        expectUsage(r, command, new RegExp(`^rar: error: lim\\.rimg: ${flag} sets a new program's limit; an image keeps its own \\(rar resume IMAGE ${flag} N adds to it\\)$`));
        expect(existsSync(join(dir, "lim2.rimg"))).toBe(false);
      }
    expect(readFileSync(join(dir, "lim.rimg")).equals(before)).toBe(true);
    // Without them, run IMAGE continues the image as it is.
    expect(rar("run", "lim.rimg", "--out", "lim2.rimg").code).toBe(3);
  });
});
