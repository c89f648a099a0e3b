// Debugger checkpoints carry the root's file tree (spec/image-format.md §4a):
// a checkpoint taken of a root that owns files restores them with its processes.

import { describe, expect, it } from "vitest";
import { compileSource } from "../lang/ent/compile.js";
import { captureCheckpoint } from "../src/image/debug.js";
import { checkpointTree } from "../src/image/decode.js";
import { resolverOf } from "../src/image/codec.js";
import { loadPolicy } from "../src/caps/policy.js";
import { Session } from "../src/session.js";
import { KIND } from "../src/caps/filetree.js";
import { verify } from "../src/vm/verify.js";

describe("checkpoints and the file tree", () => {
  it("a checkpoint of a root with files restores the same files, modes and links", () => {
    const src = `cap fs.write; cap fs.mkdir; cap fs.symlink; cap fs.chmod;
fn main() { fs.mkdir("/a/b"); fs.write("/a/b/f", "bytes"); fs.symlink("/a/l", "b/f"); fs.chmod("/a/b/f", 256); yield(0); return 0; }`;
    const module = verify(compileSource(src, "c.ent").modules[0]);
    const s = Session.start(module, { policy: loadPolicy({ allow: ["fs.*:tree:/"], defaults: ["io.print"] }), stdout: () => {} });
    expect(s.run().status).toBe("yielded");
    const files = s.root.files;
    expect(files?.words).toBeGreaterThan(0);
    const c = captureCheckpoint(s.root, 1 << 20, 0, null, resolverOf(s.machine));
    const back = checkpointTree(c);
    expect(back.memUsed).toBe(s.root.memUsed);
    const walk = (t: typeof files) => [...(t?.walk() ?? [])].map(([p, n]) => [p, n.kind, n.mode, n.kind === KIND.file ? Array.from(n.data) : n.kind === KIND.link ? n.target : null]);
    expect(walk(back.files)).toEqual(walk(files));
    expect(walk(back.files)).toContainEqual(["/a/b/f", KIND.file, 256, Array.from(Buffer.from("bytes"))]);
    expect(walk(back.files)).toContainEqual(["/a/l", KIND.link, 0o777, "b/f"]);
    // The API's view of the same tree: copies, parents first.
    const listed = s.files();
    expect(listed.map((e) => [e.path, e.kind])).toEqual([["/a", "dir"], ["/a/b", "dir"], ["/a/b/f", "file"], ["/a/l", "link"]]);
    const f = listed[2];
    if (f.kind !== "file") throw new Error("not a file");
    f.bytes[0] = 0;
    expect(s.files()[2]).toMatchObject({ bytes: Uint8Array.from(Buffer.from("bytes")), mode: 256 });
  });
});
