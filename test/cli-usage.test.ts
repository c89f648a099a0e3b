// How the CLI reports mistakes (CLI.md, "Output and exit codes"): a usage
// error is `rar: error: MESSAGE` and one hint line naming the command's help,
// exit 2, nothing else; any other error is one line, exit 2, never a stack
// trace; --out is checked before anything runs; --version prints the
// package's version.

import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { checkWritable, writeFileAtomic } from "../src/cli/atomic.js";
import { RarError } from "../src/vm/errors.js";
import { ROOT, ensureBuilt, expectUsage, rarIn, type Out } from "./helpers/cli.js";

const HELLO = join(ROOT, "examples", "asm", "hello.rasm");
const FIB = join(ROOT, "examples", "asm", "fib.rasm");
const HELLO_ENT = join(ROOT, "examples", "hello.ent");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const IS_ROOT = process.getuid?.() === 0;
let dir = "";

function rar(...args: string[]): Out {
  return rarIn(dir, ...args);
}

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-cli-usage-"));
  writeFileSync(join(dir, "empty.rimg"), "");
  writeFileSync(join(dir, "empty.ent"), "");
  writeFileSync(join(dir, "empty.rasm"), "");
  writeFileSync(join(dir, "empty.rmod"), "");
  // Every byte value once, control characters (ESC, NUL, CR) included.
  const junk = Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 167 + 13) & 0xff));
  for (const ext of ["rimg", "ent", "rasm", "rmod"]) {
    writeFileSync(join(dir, `junk.${ext}`), junk);
    mkdirSync(join(dir, `folder.${ext}`));
  }
  writeFileSync(join(dir, "afile"), "not a directory");
  mkdirSync(join(dir, "outdir"));
}, 120_000);

/** Any other error: exactly one `rar: error:` line, exit 2, nothing on stdout. */
function expectOneLineError(r: Out, message?: RegExp): void {
  expect(r.stderr).toMatch(/^rar: error: [^\n]+\n$/);
  if (message) expect(r.stderr).toMatch(message);
  expect(r.stdout).toBe("");
  expect(r.code).toBe(2);
}

describe("usage errors are one line and a hint to the command's help", () => {
  const cases: [string[], string | null, RegExp][] = [
    [["run", "--bogus", HELLO], "run", /^rar: error: unknown option '--bogus'$/],
    [["run"], "run", /^rar: error: missing required argument 'file'$/],
    [["run", HELLO, "--gas", "abc"], "run", /^rar: error: --gas: 'abc' is not an integer$/],
    [["run", HELLO, "--gas"], "run", /^rar: error: option '--gas <n>' argument missing$/],
    [["run", HELLO, "--gass", "5"], "run", /^rar: error: unknown option '--gass' \(did you mean --gas\?\)$/],
    [["run", FIB, "twenty"], "run", /^rar: error: program argument: 'twenty' is not an integer$/],
    [["run", "prog.txt"], "run", /^rar: error: prog\.txt: unsupported file type '\.txt'/],
    [["frobnicate"], null, /^rar: error: unknown command 'frobnicate'$/],
    [["rn", HELLO], null, /^rar: error: unknown command 'rn' \(did you mean run\?\)$/],
    [["--bogus"], null, /^rar: error: unknown option '--bogus'$/],
    [["help", "frobnicate"], null, /^rar: error: unknown command 'frobnicate'$/],
    [["inspect"], "inspect", /^rar: error: missing required argument 'image'$/],
    [["inspect", "a.rimg", "b.rimg"], "inspect", /^rar: error: too many arguments for 'inspect'/],
    [["resume", "x.rimg", "--mem", "-1"], "resume", /^rar: error: --mem: -1 is out of range/],
    [["audit", "--jsn", "x.rimg"], "audit", /^rar: error: unknown option '--jsn'/],
    [["replay"], "replay", /^rar: error: missing required argument 'image'$/],
    [["disasm", "--x", HELLO], "disasm", /^rar: error: unknown option '--x'$/],
    [["disasm", "prog.txt"], "disasm", /^rar: error: prog\.txt: unsupported file type '\.txt'/],
    [["compile"], "compile", /^rar: error: missing required argument 'src'$/],
    [["gp", "--pop", "1"], "gp", /^rar: error: --pop: 1 is out of range 2\.\.1000000$/],
    [["gp", "--select", "best"], "gp", /^rar: error: option '--select <kind>' argument 'best' is invalid\. Allowed choices are lexicase, tournament\.$/],
    [["gp"], "gp", /^rar: error: give one of --problem NAME or --cases FILE\.json$/],
  ];
  for (const [args, command, message] of cases)
    it(`rar ${args.map((a) => a.replace(ROOT + "/", "")).join(" ")}`, () => expectUsage(rar(...args), command, message));

  for (const bad of ["1e400", "-1", "1.5", "NaN", "0x10", "", "99999999999999999999", "Infinity", " 5"]) {
    it(`run --gas '${bad}' and resume --gas '${bad}' are usage errors, nothing run`, () => {
      expectUsage(rar("run", HELLO, "--gas", bad), "run", /^rar: error: --gas: /);
      expectUsage(rar("resume", join(dir, "none.rimg"), "--gas", bad), "resume", /^rar: error: --gas: /);
    });
    it(`gp --gas '${bad}' and --mem '${bad}' are usage errors`, () => {
      expectUsage(rar("gp", "--problem", "smallest", "--gas", bad), "gp", /^rar: error: --gas: /);
      expectUsage(rar("run", HELLO, "--mem", bad), "run", /^rar: error: --mem: /);
    });
  }

  it("--help, COMMAND --help and help COMMAND print help on stdout, exit 0", () => {
    for (const args of [["--help"], ["run", "--help"], ["help", "run"], ["gp", "--help"], ["resume", "--help"]]) {
      const r = rar(...args);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/^Usage: rar/);
    }
  });
});

describe("rar --version", () => {
  it("--version and -V print the package's version on stdout, exit 0", () => {
    for (const flag of ["--version", "-V"]) {
      const r = rar(flag);
      expect(r).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: "" });
    }
  });

  it("the help lists it", () => {
    expect(rar("--help").stdout).toMatch(/-V, --version/);
  });
});

describe("--out is checked before anything runs", () => {
  /** An image whose root yielded before it prints: continued (by run or resume), it would print on stdout. */
  function suspendedImage(name: string): { path: string; bytes: Buffer } {
    const path = join(dir, name);
    const src = join(dir, "yields.ent");
    writeFileSync(src, 'fn main() {\n  yield(1);\n  print("after");\n}\n');
    const r = rar("run", src, "--out", path);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    return { path, bytes: readFileSync(path) };
  }

  it("run PROGRAM --out into a missing directory: exit 2 naming the user's path, the program never ran", () => {
    const r = rar("run", HELLO, "--out", "nodir/x.rimg");
    expectOneLineError(r, /^rar: error: nodir\/x\.rimg: cannot write: no such directory 'nodir'\n$/);
  });

  it("run PROGRAM --out a directory: exit 2, nothing ran", () => {
    expectOneLineError(rar("run", HELLO, "--out", "outdir"), /^rar: error: outdir: cannot write: is a directory\n$/);
  });

  it("run PROGRAM --out under a file: exit 2, nothing ran", () => {
    expectOneLineError(rar("run", HELLO, "--out", "afile/x.rimg"), /^rar: error: afile\/x\.rimg: cannot write: 'afile' is not a directory\n$/);
  });

  it("run PROGRAM --out '' or --out DIR/: refused before the program runs", () => {
    expectUsage(rar("run", HELLO, "--out", ""), "run", /^rar: error: an empty file name was given for a file to write$/);
    expectOneLineError(rar("run", HELLO, "--out", "newdir/"), /^rar: error: newdir\/: cannot write: a file name cannot end with a slash\n$/);
  });

  it("run .ent --out into a missing directory: exit 2 before compiling or running", () => {
    expectOneLineError(rar("run", HELLO_ENT, "--out", "nodir/x.rimg"), /^rar: error: nodir\/x\.rimg: /);
  });

  it("run IMAGE --out into a missing directory: exit 2, the image untouched", () => {
    const { path, bytes } = suspendedImage("run-in.rimg");
    expectOneLineError(rar("run", path, "--out", "nodir/x.rimg"), /^rar: error: nodir\/x\.rimg: cannot write: no such directory 'nodir'\n$/);
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it("resume IMAGE --out into a missing directory or onto a directory: exit 2, the image untouched", () => {
    const { path, bytes } = suspendedImage("resume-in.rimg");
    expectOneLineError(rar("resume", path, "--out", "nodir/x.rimg"), /^rar: error: nodir\/x\.rimg: cannot write: no such directory 'nodir'\n$/);
    expectOneLineError(rar("resume", path, "--out", "outdir"), /^rar: error: outdir: cannot write: is a directory\n$/);
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it.skipIf(IS_ROOT)("resume IMAGE in a read-only directory: exit 2 naming the image, nothing ran", () => {
    const ro = join(dir, "ro");
    mkdirSync(ro);
    const { bytes } = suspendedImage("ro/in.rimg");
    chmodSync(ro, 0o555);
    try {
      const r = rar("resume", "ro/in.rimg");
      expectOneLineError(r, /^rar: error: ro\/in\.rimg: cannot write: /);
      expect(readFileSync(join(ro, "in.rimg")).equals(bytes)).toBe(true);
    } finally {
      chmodSync(ro, 0o755);
    }
  });

  it("compile -o into a missing directory: one line naming the user's path, no temporary file named", () => {
    expectOneLineError(rar("compile", HELLO_ENT, "-o", "nodir/h.rmod"), /^rar: error: nodir\/h\.rmod: cannot write: no such directory 'nodir'\n$/);
  });

  for (const flag of ["--out", "--plot", "--checkpoint"])
    it(`gp ${flag} into a missing directory: exit 2 before evolving anything`, () => {
      const r = rar("gp", "--problem", "smallest", "--pop", "10", "--gens", "1", flag, "nodir/f");
      expectOneLineError(r, /^rar: error: nodir\/f: cannot write: no such directory 'nodir'\n$/);
    });
});

describe("a command never writes over its input", () => {
  it("compile -o SRC: a usage error, the source untouched", () => {
    const src = join(dir, "keep.ent");
    writeFileSync(src, readFileSync(HELLO_ENT));
    expectUsage(rar("compile", "keep.ent", "-o", "./keep.ent"), "compile", /^rar: error: \.\/keep\.ent: rar compile never overwrites its source/);
    expect(readFileSync(src).equals(readFileSync(HELLO_ENT))).toBe(true);
  });

  it("run FILE --out FILE: a usage error, nothing ran", () => {
    const src = join(dir, "keep.rasm");
    writeFileSync(src, readFileSync(HELLO));
    expectUsage(rar("run", "keep.rasm", "--out", "keep.rasm"), "run", /^rar: error: keep\.rasm: rar run never overwrites its input/);
    expect(readFileSync(src).equals(readFileSync(HELLO))).toBe(true);
  });
});

describe("checkWritable and writeFileAtomic name the target, never a temporary file", () => {
  it("checkWritable accepts a new file or an existing one in a writable directory", () => {
    const d = mkdtempSync(join(tmpdir(), "rar-check-"));
    expect(() => checkWritable(join(d, "new.rimg"))).not.toThrow();
    writeFileSync(join(d, "old.rimg"), "x");
    expect(() => checkWritable(join(d, "old.rimg"))).not.toThrow();
  });

  it("checkWritable refuses a missing directory, a file as directory and a directory as target", () => {
    const d = mkdtempSync(join(tmpdir(), "rar-check-"));
    writeFileSync(join(d, "f"), "x");
    mkdirSync(join(d, "sub"));
    for (const p of [join(d, "no", "x.rimg"), join(d, "f", "x.rimg"), join(d, "sub")]) {
      expect(() => checkWritable(p)).toThrow(RarError);
      expect(() => checkWritable(p)).toThrow(p);
    }
  });

  it("writeFileAtomic's error names the target and not its temporary file", () => {
    const d = mkdtempSync(join(tmpdir(), "rar-check-"));
    mkdirSync(join(d, "busy"));
    writeFileSync(join(d, "busy", "inside"), "kept");
    for (const p of [join(d, "no", "x.rimg"), join(d, "busy")]) {
      let message = "";
      try {
        writeFileAtomic(p, new Uint8Array(1));
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message.startsWith(`${p}: cannot write: `)).toBe(true);
      expect(message).not.toMatch(/\.tmp/);
    }
  });
});

describe("bad input files: one line, exit 2, never a stack trace", () => {
  const imageCommands = ["inspect", "audit", "replay", "resume", "run"];
  for (const file of ["none.rimg", "empty.rimg", "junk.rimg", "folder.rimg"])
    for (const command of imageCommands)
      it(`rar ${command} ${file}`, () => {
        expectOneLineError(rar(command, file), new RegExp(`^rar: error: ${file.replace(".", "\\.")}: `));
      });

  for (const command of [...imageCommands, "disasm", "compile"])
    it(`rar ${command} '': a usage error`, () => {
      expectUsage(rar(command, ""), command, /^rar: error: (an empty file name was given for a file to (read|write)|unsupported file type)/);
    });

  for (const file of ["none.rasm", "empty.rasm", "junk.rasm", "folder.rasm", "none.rmod", "empty.rmod", "junk.rmod", "folder.rmod", "none.ent", "folder.ent"])
    for (const command of ["run", "disasm"])
      it(`rar ${command} ${file}`, () => {
        expectOneLineError(rar(command, file), new RegExp(`^rar: error: ${file.replace(".", "\\.")}`));
      });

  for (const command of ["run", "disasm", "compile"])
    it(`rar ${command} on Ent source that is binary junk: the error and its excerpt carry no control characters`, () => {
      const r = rar(command, "junk.ent");
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^rar: error: junk\.ent:\d+:\d+: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stderr).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    });

  it("a verifier error names the file", () => {
    // A local index beyond the function's locals: the verifier refuses it.
    const asm = join(dir, "badlocal.rasm");
    writeFileSync(asm, ".func main 0 1\n LGET 7\n RET\n");
    expectOneLineError(rar("run", asm), /^rar: error: [^\n]*badlocal\.rasm: function main at pc \d+: /);
  });
});
