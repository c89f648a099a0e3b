// The process tree's file tree (caps/filetree.ts through process/files.ts)
// against a real directory: random sequences of filesystem operations, run by
// a guest (an Ent program calling fs.* on absolute paths, through the real
// dispatcher) and by node:fs on a fresh temporary directory (guest "/x" is
// TMP/x), give the same results where the semantics overlap: success or the
// same negative errno, bytes read, listings with kinds, kinds and sizes.
//
// What is left out, and why:
// - permission bits and fs.chmod: the tests run as root, which ignores them,
//   and the host's umask decides the real modes (info's mode is dropped);
// - `..` in operation paths: the tree applies `..` lexically ("/a/link/.." is
//   "/a", a sandbox's rule), POSIX physically after following the link; link
//   targets only use `..` as leading segments that stay inside the tree
//   (above "/" the tree stays at "/", a real directory would leave TMP);
// - the tree's root itself as a mutation target (fs.remove("/") is EBUSY in
//   the tree; rmdir of an empty TMP would succeed);
// - a link's size and target text when the target is absolute are compared
//   with TMP taken off (the host link holds TMP + target);
// - a directory's size (info/lstat) is 0 in the tree and on a host directory;
//   the real side reports 0 for a directory to compare.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { guestResults, realRes, type Op, type Res } from "./helpers/vfs.js";

const NAMES = ["a", "b", "c"];
const base = mkdtempSync(join(tmpdir(), "rar-vfs-prop-"));
let runs = 0;
afterAll(() => rmSync(base, { recursive: true, force: true }));

const segs = fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 });
const path = segs.map((s) => "/" + s.join("/"));
const bytes = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 6 });

/** A link target: absolute, or relative with leading `..` segments that never climb above "/". */
const target = (at: string): fc.Arbitrary<string> =>
  fc.oneof(
    segs.map((s) => "/" + s.join("/")),
    fc.tuple(fc.integer({ min: 0, max: 2 }), segs).map(([ups, s]) => {
      const depth = at.split("/").length - 2; // directories between "/" and the link
      return [...Array<string>(Math.min(ups, depth)).fill(".."), ...s].join("/");
    }),
  );

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: path.map((p): Op => ({ k: "mkdir", p })) },
  { weight: 4, arbitrary: fc.tuple(path, bytes).map(([p, data]): Op => ({ k: "write", p, data })) },
  { weight: 2, arbitrary: fc.tuple(path, fc.integer({ min: 0, max: 8 }), bytes).map(([p, off, data]): Op => ({ k: "write_at", p, off, data })) },
  { weight: 2, arbitrary: fc.tuple(path, fc.integer({ min: 0, max: 10 })).map(([p, n]): Op => ({ k: "truncate", p, n })) },
  { weight: 3, arbitrary: path.map((p): Op => ({ k: "read", p })) },
  { weight: 2, arbitrary: path.map((p): Op => ({ k: "remove", p })) },
  { weight: 2, arbitrary: fc.tuple(path, path).map(([p, to]): Op => ({ k: "rename", p, to })) },
  { weight: 3, arbitrary: path.chain((p) => target(p).map((t): Op => ({ k: "symlink", p, target: t }))) },
  { weight: 2, arbitrary: fc.oneof(path, fc.constant("/")).map((p): Op => ({ k: "readdir", p })) },
  { weight: 2, arbitrary: path.map((p): Op => ({ k: "info", p })) },
  { weight: 2, arbitrary: path.map((p): Op => ({ k: "lstat", p })) },
  { weight: 2, arbitrary: path.map((p): Op => ({ k: "exists", p })) },
  { weight: 1, arbitrary: path.map((p): Op => ({ k: "readlink", p })) },
  { weight: 1, arbitrary: path.map((p): Op => ({ k: "stat", p })) },
);

/**
 * The one known difference: fs.exists gives a negative code where the path
 * is broken (ELOOP, ENOTDIR) where node's existsSync says 0; compared as
 * "not there".
 */
function comparable(ops: readonly Op[], rs: Res[]): Res[] {
  return rs.map((r, i) => (ops[i].k === "exists" && typeof r === "number" && r < 0 ? 0 : r));
}

function realResults(ops: readonly Op[]): Res[] {
  const dir = join(base, String(runs++));
  mkdirSync(dir);
  return ops.map((o) => realRes(dir, o));
}

describe("the file tree agrees with a real directory", () => {
  it("random operation sequences run by a guest give the results node:fs gives on a temporary directory", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 14 }), (ops) => {
        const want = realResults(ops);
        const got = comparable(ops, guestResults(ops));
        for (let i = 0; i < ops.length; i++) expect(got[i], `op ${i} ${JSON.stringify(ops[i])}`).toEqual(want[i]);
      }),
      { numRuns: Number(process.env.VFS_RUNS ?? 80) },
    );
  });

  it("chains of relative and absolute links resolve as on the host (and loops end in ELOOP on both)", () => {
    const ops: Op[] = [
      { k: "mkdir", p: "/a/b" },
      { k: "write", p: "/a/b/c", data: [7, 8] },
      { k: "symlink", p: "/a/l1", target: "b" },
      { k: "symlink", p: "/c", target: "/a/l1/c" },
      { k: "symlink", p: "/a/b/up", target: "../l1" },
      { k: "read", p: "/c" },
      { k: "read", p: "/a/b/up/up/up/c" },
      { k: "symlink", p: "/b", target: "b" },
      { k: "read", p: "/b" },
      { k: "exists", p: "/b" },
      { k: "lstat", p: "/b" },
      { k: "info", p: "/b" },
      { k: "readlink", p: "/c" },
      { k: "readdir", p: "/a" },
      { k: "rename", p: "/c", to: "/a/b/d" },
      { k: "read", p: "/a/b/d" },
    ];
    const want = realResults(ops);
    expect(comparable(ops, guestResults(ops))).toEqual(want);
  });

  it("mkdir at or under a dangling link says EEXIST or ENOENT, as mkdir(2), and makes nothing", () => {
    const ops: Op[] = [
      { k: "symlink", p: "/d", target: "nowhere" },
      { k: "mkdir", p: "/d" },
      { k: "mkdir", p: "/d/x" },
      { k: "symlink", p: "/e", target: "/gone/deeper" },
      { k: "mkdir", p: "/e/y/z" },
      { k: "symlink", p: "/l", target: "/l" },
      { k: "mkdir", p: "/l" },
      { k: "mkdir", p: "/l/x" },
      { k: "readdir", p: "/" },
      { k: "exists", p: "/nowhere" },
    ];
    const want = realResults(ops);
    expect([want[1], want[2], want[6], want[7]]).toEqual([-17, -2, -17, -40]);
    expect(comparable(ops, guestResults(ops))).toEqual(want);
  });
});
