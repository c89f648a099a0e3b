// The file tree through the CLI (issue: the host bridge): a run that keeps
// files in its own tree is suspended, moved to new working directories and
// resumed in new OS processes, and reads them back; `rar fs` reads, exports
// and imports the tree; mounts bring host directories in, are recorded, and
// must be mounted again on resume.

import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI, ROOT, ensureBuilt } from "./helpers/cli.js";

let dir = "";

function rar(cwd: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function fresh(name: string): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  return d;
}

const NOTES = ["--allow", "fs.*:tree:/notes"];

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-vfs-"));
});

describe("a file tree that travels with the process", () => {
  it("agent-notes.ent keeps its journal across three suspensions, each resumed in another directory", () => {
    const a = fresh("machine-a");
    const r1 = rar(ROOT, "run", "examples/agent-notes.ent", ...NOTES, "--out", join(a, "agent.rimg"));
    expect(r1.code).toBe(3);
    let at = a;
    for (const [i, name] of ["machine-b", "machine-c"].entries()) {
      const next = fresh(name);
      cpSync(join(at, "agent.rimg"), join(next, "agent.rimg"));
      rmSync(at, { recursive: true });
      const r = rar(next, "resume", "agent.rimg", ...NOTES);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(`yielded result=${i + 2}`);
      at = next;
    }
    const last = rar(at, "resume", "agent.rimg", ...NOTES);
    expect(last.code, last.stderr).toBe(0);
    const journal = "day 1: looked around\nday 2: looked around\nday 3: looked around\n";
    expect(last.stdout).toBe(journal + "\n");
    expect(rar(at, "fs", "agent.rimg", "cat", "/notes/journal.txt").stdout).toBe(journal);
    expect(rar(at, "fs", "agent.rimg", "ls", "/notes").stdout).toMatch(/^f 0644 +63 journal\.txt\n$/);
    const ex = join(at, "exported");
    expect(rar(at, "fs", "agent.rimg", "export", ex).code).toBe(0);
    expect(readFileSync(join(ex, "notes", "journal.txt"), "utf8")).toBe(journal);
    expect(rar(at, "audit", "agent.rimg").stdout).toContain("audit: valid");
  });

  it("a run suspended out of gas and resumed ends with the same files and digest as an uninterrupted one", () => {
    const d = fresh("digest");
    const src = join(d, "w.ent");
    writeFileSync(
      src,
      `cap fs.write; cap fs.mkdir; cap fs.read;
fn main() {
  fs.mkdir("/out/deep");
  let i = 0;
  while i < 40 { let b = array(100); b[0] = i; fs.write("/out/deep/f" , b); i = i + 1; }
  fs.write("/out/last.txt", "end");
  return len(fs.read("/out/deep/f"));
}`,
    );
    const whole = rar(d, "run", src, ...["--allow", "fs.*:tree:/"], "--out", join(d, "whole.rimg"));
    expect(whole.code, whole.stderr).toBe(0);
    const cut = rar(d, "run", src, "--allow", "fs.*:tree:/", "--gas", "600", "--out", join(d, "cut.rimg"));
    expect(cut.code).toBe(3);
    let legs = 0;
    for (;;) {
      const r = rar(d, "resume", "cut.rimg", "--allow", "fs.*:tree:/", "--gas", "600");
      legs++;
      if (r.code !== 3) {
        expect(r.code, r.stderr).toBe(0);
        break;
      }
    }
    expect(legs).toBeGreaterThan(1);
    const digest = (f: string): string => (JSON.parse(rar(d, "inspect", "--json", f).stdout) as { digest: string }).digest;
    expect(digest(join(d, "cut.rimg"))).toBe(digest(join(d, "whole.rimg")));
    expect(rar(d, "fs", "cut.rimg", "cat", "/out/last.txt").stdout).toBe("end");
  });

  it("an absolute path without any view of the tree faults, as before the tree existed", () => {
    const d = fresh("noview");
    writeFileSync(join(d, "p.ent"), `cap fs.read; fn main() { return len(fs.read("/etc/passwd")); }`);
    const r = rar(d, "run", "p.ent", "--allow", `fs.read:${d}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no view of the file tree");
  });
});

describe("mounts", () => {
  it("mounted-data.ent reads a read-only mount; writes there are EROFS; replay never reads the directory again", () => {
    const d = fresh("mount");
    const data = join(d, "table");
    cpSync(join(ROOT, "examples", "data", "table"), data, { recursive: true });
    const r = rar(ROOT, "run", "examples/mounted-data.ent", "--mount", `/data=${data}:ro`, "--out", join(d, "m.rimg"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("f numbers.txt\nsum 31\nwrite -30\n");
    rmSync(data, { recursive: true });
    const again = rar(d, "replay", "m.rimg");
    expect(again.code, again.stderr).toBe(0);
    expect(rar(d, "audit", "m.rimg").stdout).toContain("audit: valid");
  });

  it("a suspended run with a mount resumes only where the host mounts the same guest path again", () => {
    const d = fresh("remount");
    const one = fresh("remount/one");
    const two = fresh("remount/two");
    writeFileSync(join(one, "v.txt"), "1");
    writeFileSync(join(two, "v.txt"), "2");
    writeFileSync(join(d, "p.ent"), `cap fs.read; fn main() { let a = fs.read("/in/v.txt"); yield(0); let b = fs.read("/in/v.txt"); return a[0] * 100 + b[0]; }`);
    expect(rar(d, "run", "p.ent", "--mount", `/in=${one}:ro`, "--out", "p.rimg").code).toBe(3);
    const missing = rar(d, "resume", "p.rimg");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--mount /in=DIR");
    const extra = rar(d, "resume", "p.rimg", "--mount", `/in=${two}:ro`, "--mount", `/more=${one}`);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain("/more");
    const ok = rar(d, "resume", "p.rimg", "--mount", `/in=${two}:ro`);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain(`result=${49 * 100 + 50}`);
    expect(rar(d, "audit", "p.rimg").stdout).toContain("audit: valid");
  });

  it("bad mounts are usage errors naming the flag", () => {
    const d = fresh("badmount");
    writeFileSync(join(d, "p.ent"), `fn main() { return 0; }`);
    for (const [m, text] of [
      ["data=.", "absolute guest path"],
      ["/=.", "absolute guest path"],
      ["/d", "GUEST=HOST"],
      ["/d=./missing", "no such directory"],
    ] as const) {
      const r = rar(d, "run", "p.ent", "--mount", m);
      expect(r.code, m).toBe(2);
      expect(r.stderr).toContain(text);
    }
    const overlap = rar(d, "run", "p.ent", "--mount", "/a=.", "--mount", "/a/b=.");
    expect(overlap.code).toBe(2);
    expect(overlap.stderr).toContain("overlap");
  });
});

describe("rar fs", () => {
  it("import replaces the tree of a suspended image, is recorded, and the resumed run reads the new files", () => {
    const d = fresh("import");
    writeFileSync(
      join(d, "p.ent"),
      `cap fs.read; cap fs.write; fn main() { fs.write("/box/a.txt", "old"); yield(0); puts(fs.read("/box/a.txt")); puts(fs.read("/box/sub/b.txt")); return 0; }`,
    );
    const grant = ["--allow", "fs.*:tree:/"];
    expect(rar(d, "run", "p.ent", ...grant, "--out", "p.rimg").code).toBe(3);
    // /box does not exist yet: the write failed with ENOENT, and the tree is empty.
    expect(rar(d, "fs", "p.rimg", "ls").stdout).toBe("");
    const src = fresh("import/src");
    mkdirSync(join(src, "box", "sub"), { recursive: true });
    writeFileSync(join(src, "box", "a.txt"), "new");
    writeFileSync(join(src, "box", "sub", "b.txt"), "deep");
    const imp = rar(d, "fs", "p.rimg", "import", src, "--out", "q.rimg");
    expect(imp.code, imp.stderr).toBe(0);
    expect(rar(d, "fs", "q.rimg", "ls", "/box").stdout).toMatch(/^f 0644 +3 a\.txt\nd 0755 +1 sub\n$/);
    const r = rar(d, "resume", "q.rimg", ...grant);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("new\ndeep\n");
    expect(rar(d, "audit", "q.rimg").stdout).toContain("audit: valid");
    // The original image is untouched.
    expect(rar(d, "fs", "p.rimg", "ls").stdout).toBe("");
  });

  it("refuses what it cannot do with one line and exit 2, writing nothing", () => {
    const d = fresh("errors");
    writeFileSync(join(d, "p.ent"), `cap fs.write; fn main() { fs.write("/a", "x"); return 0; }`);
    expect(rar(d, "run", "p.ent", "--allow", "fs.write:tree:/", "--out", "p.rimg").code).toBe(0);
    const cases: [string[], string][] = [
      [["fs", "p.rimg", "frob"], "unknown action"],
      [["fs", "p.rimg", "cat"], "usage: rar fs IMAGE cat PATH"],
      [["fs", "p.rimg", "cat", "/nope"], "no such file"],
      [["fs", "p.rimg", "export", "."], "already exists"],
      [["fs", "missing.rimg", "ls"], "no such file"],
      [["fs", "p.ent", "ls"], "not a rar image"],
    ];
    for (const [args, text] of cases) {
      const r = rar(d, ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(text);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const abs = fresh("errors/abs");
    symlinkSync("/etc/passwd", join(abs, "l"));
    const r = rar(d, "fs", "p.rimg", "import", abs);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("absolute link");
    expect(rar(d, "fs", "p.rimg", "cat", "/a").stdout).toBe("x");
  });
});
