// The fs family is scoped to directories (DESIGN §4): a guest path is relative
// to its grant's directory, and `..`, absolute paths and symlinks that lead
// out of the scope are all refused (the caller faults cap_failed), checked on
// the resolved real path. Inside the scope, every operation works.

import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { codePointsToText } from "../src/caps/registry.js";
import { STAT_DIRECTORY, STAT_MISSING } from "../src/caps/fs.js";
import { start } from "./helpers/asm.js";

let top = "";
let scope = "";

beforeEach(() => {
  top = realpathSync(mkdtempSync(join(tmpdir(), "rar-fs-")));
  scope = join(top, "scope");
  mkdirSync(join(scope, "sub"), { recursive: true });
  writeFileSync(join(scope, "a.txt"), "inside");
  writeFileSync(join(scope, "sub", "b.txt"), "deeper");
  writeFileSync(join(top, "secret.txt"), "secret");
  mkdirSync(join(top, "scope2"));
  symlinkSync(join(top, "secret.txt"), join(scope, "link-out"));
  symlinkSync(top, join(scope, "dirlink"));
  symlinkSync("/nonexistent/x", join(scope, "dangling"));
  symlinkSync("a.txt", join(scope, "inlink"));
});

type Arg = string | number[];

const words = (a: Arg): number[] => (typeof a === "string" ? [...a].map((c) => c.codePointAt(0) as number) : a);

/** Runs one fs call with `args` (each an array argument) under `grants`. */
function call(cap: string, args: Arg[], grants = [`${cap}:${scope}`]): { status: string; value?: number; fault?: string; out: number[] } {
  const ws = args.map(words);
  const total = ws.reduce((n, w) => n + w.length, 0);
  const lines = [`.cap ${cap}`, ".func main 0 1", `  PUSH ${total}`, "  MGROW", "  POP"];
  let at = 1;
  const ptrs: [number, number][] = [];
  for (const w of ws) {
    ptrs.push([at, w.length]);
    for (const v of w) lines.push(`  PUSH ${at++}`, `  PUSH ${v}`, "  STORE 0");
  }
  for (const [p, n] of ptrs) lines.push(`  PUSH ${p}`, `  PUSH ${n}`);
  lines.push(`  CAP ${cap} ${2 * ws.length}`, "  RET");
  const s = start(lines.join("\n"), { caps: grants });
  const r = s.run();
  return { status: r.status, value: r.value, fault: r.fault, out: Array.from(s.root.inbox ?? []) };
}

function refused(r: ReturnType<typeof call>): void {
  expect(r.status).toBe("fault");
  expect(r.fault).toContain("cap_failed");
}

const text = (ws: number[]): string => codePointsToText(Int32Array.from(ws));

describe("inside the scope", () => {
  it("fs.read returns a file's bytes, through relative paths, './', '//' and inner symlinks", () => {
    for (const p of ["a.txt", "./a.txt", ".//a.txt", "inlink"]) {
      const r = call("fs.read", [p]);
      expect(r.status, p).toBe("done");
      expect(text(r.out)).toBe("inside");
    }
    expect(text(call("fs.read", ["sub/b.txt"]).out)).toBe("deeper");
  });

  it("fs.write creates and replaces files; fs.stat, fs.list, fs.mkdir, fs.remove, fs.rename work", () => {
    expect(call("fs.write", ["new.txt", [104, 105]]).value).toBe(2);
    expect(readFileSync(join(scope, "new.txt"), "utf8")).toBe("hi");
    expect(call("fs.stat", ["new.txt"]).value).toBe(2);
    expect(call("fs.stat", ["sub"]).value).toBe(STAT_DIRECTORY);
    expect(call("fs.stat", ["missing"]).value).toBe(STAT_MISSING);
    expect(text(call("fs.list", [""]).out)).toBe(["a.txt", "dangling", "dirlink", "inlink", "link-out", "new.txt", "sub/"].join("\n"));
    expect(call("fs.mkdir", ["m/n"]).status).toBe("done");
    expect(existsSync(join(scope, "m", "n"))).toBe(true);
    expect(call("fs.rename", ["new.txt", "m/n/moved.txt"]).status).toBe("done");
    expect(readFileSync(join(scope, "m", "n", "moved.txt"), "utf8")).toBe("hi");
    expect(call("fs.remove", ["m/n/moved.txt"]).status).toBe("done");
    expect(existsSync(join(scope, "m", "n", "moved.txt"))).toBe(false);
  });

  it("fs.write refuses words that are not bytes", () => {
    refused(call("fs.write", ["x.txt", [300]]));
    expect(existsSync(join(scope, "x.txt"))).toBe(false);
  });
});

describe("escapes are refused", () => {
  const outside = (): string => readFileSync(join(top, "secret.txt"), "utf8");

  it("'..' anywhere in the path", () => {
    for (const p of ["../secret.txt", "sub/../../secret.txt", "..", "sub/.."]) refused(call("fs.read", [p]));
    refused(call("fs.write", ["../secret.txt", [120]]));
    refused(call("fs.stat", ["../secret.txt"]));
    refused(call("fs.list", [".."]));
    refused(call("fs.mkdir", ["../made"]));
    refused(call("fs.remove", ["../secret.txt"]));
    refused(call("fs.rename", ["a.txt", "../moved.txt"]));
    expect(outside()).toBe("secret");
    expect(existsSync(join(top, "made"))).toBe(false);
    expect(existsSync(join(top, "moved.txt"))).toBe(false);
  });

  it("absolute paths, also ones that point inside the scope, drive letters, backslashes and NUL", () => {
    for (const p of [join(top, "secret.txt"), join(scope, "a.txt"), "/etc/passwd", "C:/x", "sub\\b.txt", "a.txt\0"]) refused(call("fs.read", [p]));
    refused(call("fs.write", [join(top, "secret.txt"), [120]]));
    expect(outside()).toBe("secret");
  });

  it("symlinks that lead out of the scope, to a file or through a directory, and dangling ones", () => {
    refused(call("fs.read", ["link-out"]));
    refused(call("fs.read", ["dirlink/secret.txt"]));
    refused(call("fs.stat", ["link-out"]));
    refused(call("fs.list", ["dirlink"]));
    refused(call("fs.write", ["link-out", [120]]));
    refused(call("fs.write", ["dirlink/secret.txt", [120]]));
    refused(call("fs.write", ["dangling", [120]]));
    refused(call("fs.mkdir", ["dirlink/made"]));
    refused(call("fs.rename", ["dirlink/secret.txt", "stolen.txt"]));
    refused(call("fs.remove", ["dirlink/secret.txt"]));
    expect(outside()).toBe("secret");
    expect(existsSync(join(top, "made"))).toBe(false);
    expect(existsSync("/nonexistent/x")).toBe(false);
  });

  it("the scope directory itself cannot be removed or renamed", () => {
    refused(call("fs.remove", [""]));
    refused(call("fs.rename", [".", "x"]));
    expect(existsSync(scope)).toBe(true);
  });

  it("a grant of another family or another directory does not reach", () => {
    refused(call("fs.read", ["a.txt"], [`fs.read:${join(top, "scope2")}`]));
    const r = call("fs.read", ["a.txt"], [`fs.write:${scope}`]);
    expect(r.fault).toContain("cap_denied");
  });

  it("a narrowed scope cannot read its parent's files", () => {
    refused(call("fs.read", ["../a.txt"], [`fs.read:${join(scope, "sub")}`]));
    expect(text(call("fs.read", ["b.txt"], [`fs.read:${join(scope, "sub")}`]).out)).toBe("deeper");
  });
});

describe("what is not a regular file", () => {
  /**
   * Runs one fs call in a separate node process, so that a host that blocks
   * fails this test instead of hanging it (the timeout is only that guard).
   */
  function callElsewhere(cap: string, args: Arg[], dir: string): { status: string; fault?: string } {
    const code = `
      import { start } from "./test/helpers/asm.ts";
      const ws = ${JSON.stringify(args.map(words))};
      const lines = [".cap ${cap}", ".func main 0 1", "  PUSH " + ws.flat().length, "  MGROW", "  POP"];
      let at = 1;
      const ptrs = [];
      for (const w of ws) {
        ptrs.push([at, w.length]);
        for (const v of w) lines.push("  PUSH " + at++, "  PUSH " + v, "  STORE 0");
      }
      for (const [p, n] of ptrs) lines.push("  PUSH " + p, "  PUSH " + n);
      lines.push("  CAP ${cap} " + 2 * ws.length, "  RET");
      const r = start(lines.join("\\n"), { caps: [${JSON.stringify(`${cap}:${dir}`)}] }).run();
      process.stdout.write(JSON.stringify({ status: r.status, fault: r.fault }));`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { encoding: "utf8", timeout: 20_000 });
    expect(r.signal, `the host blocked (stderr: ${r.stderr})`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { status: string; fault?: string };
  }

  it("fs.read of a FIFO faults cap_failed at once instead of blocking the host", () => {
    execFileSync("mkfifo", [join(scope, "pipe")]);
    const r = callElsewhere("fs.read", ["pipe"], scope);
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/cap_failed.*FIFO/);
  });

  it("fs.write to a FIFO faults cap_failed without blocking, also when a reader holds it open", () => {
    execFileSync("mkfifo", [join(scope, "pipe")]);
    expect(callElsewhere("fs.write", ["pipe", [120]], scope).fault).toContain("cap_failed");
    // O_RDWR never blocks on Linux: the FIFO then has a reader, and the write must still be refused.
    const fd = openSync(join(scope, "pipe"), constants.O_RDWR | constants.O_NONBLOCK);
    try {
      const r = call("fs.write", ["pipe", [120]]);
      refused(r);
      expect(r.fault).toContain("FIFO");
    } finally {
      closeSync(fd);
    }
  });

  it("fs.read of a directory faults cap_failed", () => {
    const r = call("fs.read", ["sub"]);
    refused(r);
    expect(r.fault).toContain("directory");
  });
});
