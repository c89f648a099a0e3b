// Nothing reaches outside a view of the file tree or outside a mounted host
// directory (caps/filetree.ts, process/files.ts, caps/fs.ts): random views
// granted to the root, random paths (with `.` and `..`) through links that
// lead in and out of the view, a child narrowed to part of its parent's view
// (NARROW), host symlinks inside a mount, loops, read-only mounts, renames
// between a mount and the tree; and the tree's growth charged to the root.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { E, KIND, NODE_WORDS, pathWithin, type FileTree, type Node } from "../src/caps/filetree.js";
import { filesOf } from "../src/process/files.js";
import type { Process } from "../src/process/process.js";
import type { Session } from "../src/session.js";
import { start } from "./helpers/asm.js";
import { FS_CAPS, entProgram, guestRes, startEnt, treePolicy, type Op, type Res } from "./helpers/vfs.js";

const tmp = mkdtempSync(join(tmpdir(), "rar-vfs-escape-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The secret: a 13-byte file only outside every view, bytes 250. */
const SECRET = Array<number>(13).fill(250);

/** The fixture: [path, node] parents first. Links lead in and out of the views /a, /a/b, /b. */
function fixture(): [string, Node][] {
  const file = (b: number[]): Node => ({ kind: KIND.file, mode: 0o644, data: Uint8Array.from(b) });
  const dir = (): Node => ({ kind: KIND.dir, mode: 0o755, entries: new Map() });
  const link = (target: string): Node => ({ kind: KIND.link, mode: 0o777, target });
  return [
    ["/a", dir()],
    ["/a/b", dir()],
    ["/a/b/y", file([1, 2])],
    ["/a/b/toS", link("/s/k")],
    ["/a/b/in", link("../x")],
    ["/a/b/l1", link("l2")],
    ["/a/b/l2", link("l1")],
    ["/a/b/upup", link("../../s")],
    ["/a/up", link("../s")],
    ["/a/x", file([1, 3, 3])],
    ["/b", dir()],
    ["/b/z", file([1])],
    ["/b/toA", link("/a/x")],
    ["/loop", link("/loop")],
    ["/s", dir()],
    ["/s/k", file(SECRET)],
  ];
}

function populate(session: Session, entries: [string, Node][]): FileTree {
  const tree = filesOf(session.root);
  const before = tree.words;
  for (const [p, n] of entries) expect(tree.add(p, n)).toBe(true);
  session.root.memUsed += tree.words - before;
  return tree;
}

/** Every node of the tree as comparable text, by path. */
function snapshotTree(tree: FileTree): Map<string, string> {
  const out = new Map<string, string>();
  for (const [p, n] of tree.walk()) out.set(p, n.kind === KIND.file ? `f ${[...n.data]}` : n.kind === KIND.link ? `l ${n.target}` : "d");
  return out;
}

const VIEWS = ["/a", "/a/b", "/b"];
const NAMES = ["a", "b", "x", "y", "z", "s", "k", "toS", "in", "l1", "up", "upup", "toA", "loop", "new", ".", ".."];
/** Names an operation may create (never "k", the secret's name, so a listing showing "k" is a leak). */
const MADE = ["a", "b", "x", "y", "z", "new", "toS", "up"];

/** Paths: random names, or a link that leads out (or in) followed by a few more names. */
const path = fc.oneof(
  fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 4 }).map((s) => "/" + s.join("/")),
  fc.tuple(fc.constantFrom("/a/up", "/a/b/upup", "/a/b/toS", "/b/toA", "/a/b/in", "/s"), fc.array(fc.constantFrom(...NAMES), { maxLength: 2 })).map(([p, s]) => [p, ...s].join("/")),
);
const made = fc.tuple(fc.array(fc.constantFrom(...NAMES), { maxLength: 3 }), fc.constantFrom(...MADE)).map(([s, n]) => "/" + [...s, n].join("/"));
const small = fc.array(fc.integer({ min: 0, max: 199 }), { minLength: 1, maxLength: 6 });
const target = fc.oneof(path, fc.array(fc.constantFrom("..", "a", "b", "s", "k", "x"), { minLength: 1, maxLength: 4 }).map((s) => s.join("/")));

const op: fc.Arbitrary<Op> = fc.oneof(
  path.map((p): Op => ({ k: "read", p })),
  path.map((p): Op => ({ k: "readdir", p })),
  path.map((p): Op => ({ k: "info", p })),
  path.map((p): Op => ({ k: "lstat", p })),
  path.map((p): Op => ({ k: "stat", p })),
  path.map((p): Op => ({ k: "exists", p })),
  path.map((p): Op => ({ k: "remove", p })),
  made.map((p): Op => ({ k: "mkdir", p })),
  fc.tuple(made, small).map(([p, data]): Op => ({ k: "write", p, data })),
  fc.tuple(made, fc.integer({ min: 0, max: 4 }), small).map(([p, off, data]): Op => ({ k: "write_at", p, off, data })),
  fc.tuple(path, fc.integer({ min: 0, max: 10 })).map(([p, n]): Op => ({ k: "truncate", p, n })),
  fc.tuple(path, made).map(([p, to]): Op => ({ k: "rename", p, to })),
  fc.tuple(made, target).map(([p, t]): Op => ({ k: "symlink", p, target: t })),
);

/** Whether a result shows something of the secret: its bytes, its size, or its name in a listing. */
function leaks(o: Op, r: Res): boolean {
  if (o.k === "read") return Array.isArray(r) && r.length > 1 && r[0] === 250;
  if (o.k === "readdir") return typeof r === "string" && r.split("\n").includes("f k");
  if (o.k === "info" || o.k === "lstat") return Array.isArray(r) && r[0] === KIND.file && r[1] === SECRET.length;
  if (o.k === "stat") return r === SECRET.length;
  return false;
}

describe("views of the file tree", () => {
  it("a root granted a random view never reads, lists, sizes or changes anything outside it", () => {
    fc.assert(
      fc.property(fc.constantFrom(...VIEWS), fc.array(op, { minLength: 1, maxLength: 12 }), (view, ops) => {
        const sink = { out: "" };
        const s = startEnt(entProgram(ops), { policy: treePolicy([`fs.*:tree:${view}`]) }, sink);
        const tree = populate(s, fixture());
        const before = snapshotTree(tree);
        const r = s.run();
        expect(r.status, r.fault).toBe("done");
        const lines = sink.out.split("\n").filter((l) => l !== "");
        ops.forEach((o, i) => expect(leaks(o, guestRes(o, lines[i])), `op ${i} ${JSON.stringify(o)} gave ${lines[i]}`).toBe(false));
        const after = snapshotTree(tree);
        for (const [p, v] of before) if (!pathWithin(p, view)) expect(after.get(p), `${p} outside ${view}`).toBe(v);
        for (const p of after.keys()) if (!before.has(p)) expect(pathWithin(p, view), `${p} made outside ${view}`).toBe(true);
        // The footprint stays exact: what the tree holds is what the root is charged for.
        expect(tree.words).toBe([...tree.walk()].reduce((w, [p, n]) => w + NODE_WORDS + ((p.slice(p.lastIndexOf("/") + 1).length + 1) >> 1) + (n.kind === KIND.file ? (n.data.length + 3) >> 2 : n.kind === KIND.link ? (n.target.length + 1) >> 1 : 0), 0));
      }),
      { numRuns: 60 },
    );
  });

  it("what lies outside the view makes no difference to any result (the same ops on trees that differ only outside)", () => {
    const file = (b: number[]): Node => ({ kind: KIND.file, mode: 0o644, data: Uint8Array.from(b) });
    const outside = (): [string, Node][][] => [
      [["/s/k", file(SECRET)]],
      [["/s/k", { kind: KIND.dir, mode: 0o755, entries: new Map() }], ["/s/k/zz", file([5])]],
      [],
      [["/s/k", { kind: KIND.link, mode: 0o777, target: "/a/b/y" }]],
    ];
    const variant = (o: [string, Node][]): [string, Node][] => [...fixture().filter(([p]) => !p.startsWith("/s/")), ...o];
    fc.assert(
      fc.property(fc.constantFrom(...VIEWS), fc.array(op, { minLength: 1, maxLength: 10 }), (view, ops) => {
        const outs = outside().map((o) => {
          const sink = { out: "" };
          const s = startEnt(entProgram(ops), { policy: treePolicy([`fs.*:tree:${view}`]) }, sink);
          populate(s, variant(o));
          expect(s.run().status).toBe("done");
          return sink.out;
        });
        for (const o of outs.slice(1)) expect(o).toBe(outs[0]);
      }),
      { numRuns: Number(process.env.VFS_RUNS ?? 40) },
    );
  });

  it("paths and links leading out of the view are EACCES; loops are ELOOP", () => {
    const ops: Op[] = [
      { k: "read", p: "/a/b/y" },
      { k: "read", p: "/a/b/toS" },
      { k: "read", p: "/a/b/../../s/k" },
      { k: "read", p: "/a/b/upup/k" },
      { k: "read", p: "/a/b/in" },
      { k: "readdir", p: "/a/b/upup" },
      { k: "info", p: "/a/b/toS" },
      { k: "lstat", p: "/a/b/toS" },
      { k: "write", p: "/a/b/toS", data: [1] },
      { k: "write", p: "/a/b/upup/n", data: [1] },
      { k: "symlink", p: "/a/b/n", target: "../x" },
      { k: "symlink", p: "/a/b/n", target: "/s" },
      { k: "symlink", p: "/a/b/n", target: "y/../../.." },
      { k: "symlink", p: "/a/b/n", target: "y" },
      { k: "rename", p: "/a/b/y", to: "/a/b/upup/y" },
      { k: "rename", p: "/a/b/y", to: "/a/y" },
      { k: "remove", p: "/a/b/upup/k" },
      { k: "read", p: "/a/b/l1" },
      { k: "exists", p: "/a/b/toS" },
      { k: "mkdir", p: "/a/b/upup/q" },
      // What lies outside is not told by a failure's code either (ENOTDIR: /s/k is a file; ENOENT: /s/nope is not there).
      { k: "read", p: "/a/b/upup/k/zz" },
      { k: "read", p: "/a/b/upup/nope/zz" },
      { k: "exists", p: "/a/b/upup/k/zz" },
      { k: "rename", p: "/a/b/y", to: "/s/k/zz" },
      { k: "rename", p: "/a/b/y", to: "/a/b/upup/k/zz" },
      { k: "mkdir", p: "/a/b/upup/k/zz/q" },
      { k: "read", p: "/a/b/nope/zz" },
    ];
    const sink = { out: "" };
    const s = startEnt(entProgram(ops), { policy: treePolicy(["fs.*:tree:/a/b"]) }, sink);
    const tree = populate(s, fixture());
    expect(s.run().status).toBe("done");
    const got = sink.out.split("\n").filter((l) => l !== "").map((l, i) => guestRes(ops[i], l));
    const A = E.EACCES;
    expect(got).toEqual([[1, 2], [A], [A], [A], [A], [A], [A], [3, 4], A, A, A, A, A, 0, A, A, A, [E.ELOOP], A, A, [A], [A], A, A, A, A, [E.ENOENT]]);
    expect(snapshotTree(tree).get("/s/k")).toBe(`f ${SECRET}`);
  });
});

/** A child narrowed with NARROW to `scope` (relative to the parent's view "/") calls `cap` on constant arrays and returns the result's first word. */
function narrowedChild(caps: string[], family: string, scope: string, args: string[]): { value: number; child: Process; fault?: string } {
  const code = (s: string) => [...s].map((c) => c.codePointAt(0) as number);
  const stores = (cps: number[], at: number) => cps.flatMap((c, i) => [`PUSH ${at + i}`, `PUSH ${c}`, "STORE 0"]).join("\n  ");
  let at = 0;
  const pushes: string[] = [];
  const writes: string[] = [];
  for (const a of args) {
    const cps = code(a);
    writes.push(stores(cps, at));
    pushes.push(`PUSH ${at}`, `PUSH ${cps.length}`);
    at += cps.length;
  }
  const arrayResult = ["fs.read", "fs.readdir", "fs.info", "fs.lstat", "fs.readlink"].includes(family);
  const sc = code(scope);
  const src = `.cap ${family}
.func main 0 1
  PUSH 64
  MGROW
  POP
  PUSH 0
  PUSH 0
  PUSH 100000
  PUSH 100000
  PUSH 1
  PUSH 0
  SPAWN leaf
  LSET 0
  ${stores(sc, 16)}
  LGET 0
  PUSH 16
  PUSH ${sc.length}
  NARROW 0
  LGET 0
  RESUME
  RET
.func leaf 0 0
  PUSH ${at + 64}
  MGROW
  POP
  ${writes.join("\n  ")}
  ${pushes.join("\n  ")}
  CAP 0 ${args.length * 2}
${arrayResult ? `  POP\n  PUSH ${at}\n  INBOX\n  PUSH ${at}\n  LOAD 0` : ""}
  RET`;
  const s = start(src, { caps });
  populate(s.session, fixture());
  const r = s.run();
  const child = [...s.root.children.values()][0];
  return { value: child?.value ?? NaN, child, fault: r.fault };
}

describe("a child narrowed to part of its parent's view", () => {
  it("NARROW gives the child the narrower tree scope", () => {
    const r = narrowedChild(["fs.read:tree:/"], "fs.read", "a/b", ["/a/b/y"]);
    expect(r.fault).toBeUndefined();
    expect(r.child.caps).toEqual(["fs.read:tree:/a/b"]);
    expect(r.value).toBe(1);
    // A scope outside the parent's view is refused.
    expect(narrowedChild(["fs.read:tree:/a"], "fs.read", "../s", ["/s/k"]).fault).toMatch(/cap_denied/);
  });

  it("the narrowed child reaches nothing outside its view, by path, `..` or link; its links cannot lead out", () => {
    const read = (p: string) => narrowedChild(["fs.read:tree:/"], "fs.read", "/a/b", [p]).value;
    expect(read("/a/b/y")).toBe(1);
    expect(read("/a/x")).toBe(E.EACCES);
    expect(read("/a/b/../x")).toBe(E.EACCES);
    expect(read("/a/b/in")).toBe(E.EACCES);
    expect(read("/a/b/toS")).toBe(E.EACCES);
    expect(read("/a/b/l1")).toBe(E.ELOOP);
    const link = (t: string) => narrowedChild(["fs.symlink:tree:/"], "fs.symlink", "/a/b", ["/a/b/n", t]).value;
    expect(link("../x")).toBe(E.EACCES);
    expect(link("/a")).toBe(E.EACCES);
    expect(link("../../s/k")).toBe(E.EACCES);
    expect(link("y")).toBe(0);
    expect(link("/a/b/y")).toBe(0);
    // Its parent's whole view does not widen what the child may do.
    expect(narrowedChild(["fs.write:tree:/"], "fs.write", "/a/b", ["/a/new", "x"]).value).toBe(E.EACCES);
  });
});

describe("mounts", () => {
  const host = join(tmp, "host");
  const outside = join(tmp, "outside");
  mkdirSync(join(host, "sub"), { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(host, "a.txt"), "hi");
  writeFileSync(join(outside, "secret"), "secret!");
  symlinkSync(outside, join(host, "out"));
  symlinkSync(join(outside, "secret"), join(host, "sec"));
  symlinkSync("loop", join(host, "loop"));
  symlinkSync("a.txt", join(host, "ok"));

  const runOps = (ops: Op[], mount: string): Res[] => {
    const sink = { out: "" };
    const s = startEnt(entProgram(ops), { policy: treePolicy(["fs.*:tree:/t"], [mount]) }, sink);
    const r = s.run();
    expect(r.status, r.fault).toBe("done");
    return sink.out.split("\n").filter((l) => l !== "").map((l, i) => guestRes(ops[i], l));
  };

  it("calls into a mount never leave the host directory: host links out and `..` are EACCES, a host loop fails", () => {
    const ops: Op[] = [
      { k: "read", p: "/m/a.txt" },
      { k: "read", p: "/m/../m/sub/../a.txt" },
      { k: "read", p: "/m/ok" },
      { k: "read", p: "/m/out/secret" },
      { k: "read", p: "/m/sec" },
      { k: "readdir", p: "/m/out" },
      { k: "info", p: "/m/sec" },
      { k: "write", p: "/m/out/new", data: [1] },
      { k: "write", p: "/m/sec", data: [1] },
      { k: "mkdir", p: "/m/out/d" },
      { k: "remove", p: "/m/out/secret" },
      { k: "rename", p: "/m/a.txt", to: "/m/out/a.txt" },
      { k: "read", p: "/m/../../m/a.txt" },
      { k: "readlink", p: "/m/sec" },
      { k: "symlink", p: "/m/n", target: "a.txt" },
    ];
    const got = runOps(ops, `/m=${host}`);
    const A = E.EACCES;
    expect(got).toEqual([[104, 105], [104, 105], [104, 105], [A], [A], [A], [A], A, A, A, A, A, [104, 105], [E.EPERM], E.EPERM]);
    expect(readFileSync(join(outside, "secret"), "utf8")).toBe("secret!");
    expect(existsSync(join(outside, "new")) || existsSync(join(outside, "d")) || existsSync(join(outside, "a.txt"))).toBe(false);
  });

  it("a host link loop inside a mount is ELOOP, as in the tree", () => {
    expect(runOps([{ k: "read", p: "/m/loop" }], `/m=${host}`)).toEqual([[E.ELOOP]]);
  });

  it("a read-only mount refuses every write family with EROFS (a link into a mount: EPERM) and changes nothing", () => {
    const ops: Op[] = [
      { k: "write", p: "/m/a.txt", data: [1] },
      { k: "write", p: "/m/new", data: [1] },
      { k: "write_at", p: "/m/a.txt", off: 0, data: [1] },
      { k: "truncate", p: "/m/a.txt", n: 0 },
      { k: "mkdir", p: "/m/d" },
      { k: "mkdir", p: "/m/sub/d/e" },
      { k: "remove", p: "/m/a.txt" },
      { k: "rename", p: "/m/a.txt", to: "/m/b.txt" },
      { k: "symlink", p: "/m/n", target: "a.txt" },
      { k: "read", p: "/m/a.txt" },
    ];
    const R = E.EROFS;
    expect(runOps(ops, `/m=${host}:ro`)).toEqual([R, R, R, R, R, R, R, R, E.EPERM, [104, 105]]);
    expect(readFileSync(join(host, "a.txt"), "utf8")).toBe("hi");
    expect(existsSync(join(host, "new")) || existsSync(join(host, "d")) || existsSync(join(host, "b.txt"))).toBe(false);
  });

  it("rename between a mount and the tree is EXDEV, both ways", () => {
    const ops: Op[] = [
      { k: "mkdir", p: "/t" },
      { k: "write", p: "/t/f", data: [1] },
      { k: "rename", p: "/t/f", to: "/m/f" },
      { k: "rename", p: "/m/a.txt", to: "/t/a.txt" },
      { k: "read", p: "/t/f" },
      { k: "read", p: "/m/a.txt" },
    ];
    expect(runOps(ops, `/m=${host}`)).toEqual([0, 1, E.EXDEV, E.EXDEV, [1], [104, 105]]);
  });
});

describe("the tree's growth is the root's memory", () => {
  it("growth beyond the root's memory limit is ENOSPC and changes nothing", () => {
    const src = `cap fs.write;
cap fs.write_at;
cap fs.exists;
cap fs.info;
fn main() {
  print(fs.write("/f", [1, 2, 3]));
  let big = array(1500);
  let p = copy("/g00");
  let i = 0;
  let r = 0;
  while r >= 0 {
    p[2] = 48 + i / 10;
    p[3] = 48 + i % 10;
    r = fs.write(p, big);
    i = i + 1;
  }
  print(i - 1, r, fs.exists(p));
  print(fs.write_at("/f", 100000, [1]));
  print(fs.info("/f"));
  return 0;
}
`;
    const sink = { out: "" };
    const s = startEnt(src, { mem: 8000, policy: treePolicy() }, sink);
    const r = s.run();
    expect(r.status, r.fault).toBe("done");
    const lines = sink.out.trim().split("\n");
    const [made, code, there] = lines[1].split(" ").map(Number);
    expect(made).toBeGreaterThan(0);
    expect([code, there]).toEqual([E.ENOSPC, 0]);
    expect(lines.slice(2)).toEqual([`${E.ENOSPC}`, "[1, 3, 420]"]);
    expect(s.root.memUsed).toBeLessThanOrEqual(s.root.memLimit);
    expect([...filesOf(s.root).walk()].length).toBe(1 + made);
  });

  it("sizes near 2^31 neither wrap the charge nor the size: ENOSPC under the limit, EFBIG past 2^31 - 1 bytes", () => {
    const src = `cap fs.write;\ncap fs.truncate;\ncap fs.write_at;\ncap fs.info;\nfn main() {\n  print(fs.write("/f", [1]));\n  print(fs.truncate("/f", 2147483647));\n  print(fs.write_at("/f", 2147483646, [1, 2]));\n  print(fs.info("/f"));\n  return 0;\n}\n`;
    // Default memory: 2^31 - 1 bytes (2^29 words) do not fit; past 2^31 - 1 bytes is EFBIG whatever the limit (checked before anything is allocated).
    for (const [mem, prog] of [[1 << 20, src], [1e9, src.replace("2147483647", "2")]] as const) {
      const sink = { out: "" };
      const s = startEnt(prog, { mem, policy: treePolicy() }, sink);
      const r = s.run();
      expect(r.status, r.fault).toBe("done");
      const grown = mem === 1e9 ? "0" : `${E.ENOSPC}`;
      expect(sink.out.trim().split("\n").slice(1)).toEqual([grown, `${E.EFBIG}`, mem === 1e9 ? "[1, 2, 420]" : "[1, 1, 420]"]);
      expect(r.memUsed).toBeGreaterThan(0);
      expect(r.memUsed).toBeLessThanOrEqual(mem);
    }
  });

  it("the root's memory grows by about bytes/4 words with a file and shrinks back on remove", () => {
    const src = `cap fs.write;\ncap fs.remove;\nfn main() {\n  let d = array(40000);\n  let p = "/f";\n  let a = mem_left();\n  fs.write(p, d);\n  let b = mem_left();\n  fs.remove(p);\n  let c = mem_left();\n  print(a - b, c - a);\n  return 0;\n}\n`;
    const sink = { out: "" };
    const s = startEnt(src, { policy: treePolicy() }, sink);
    expect(s.run().status).toBe("done");
    const [grew, back] = sink.out.trim().split(" ").map(Number);
    // 40,000 bytes are 10,000 words, plus the entry's NODE_WORDS and its name's 1 (filetree.ts nodeWords).
    expect(grew).toBe(10_000 + NODE_WORDS + 1);
    expect(back).toBe(0);
  });
});
