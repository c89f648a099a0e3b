// Filesystem calls on the process tree's own file tree (DESIGN §4; the tree:
// caps/filetree.ts). A call of an fs.* capability whose path is absolute
// ("/notes/a.txt") addresses the tree the root owns, not a host directory:
//
// - the path is resolved in the tree (links followed, `..` never above "/");
// - the caller's authority is checked on the path as written and on where it
//   leads: every level of the caller's chain (and the host's own grants
//   above an image's root) must hold a `tree:` scope of the family containing
//   both (`fs.read:tree:/notes`); otherwise the result is EACCES;
// - in the tree, the operation runs here, as state: it is not a host input,
//   so it is not recorded in the trace, and replay runs it again on the
//   replayed tree. Growth is charged to the root's footprint and refused
//   with ENOSPC beyond the root's memory limit;
// - at a mount point (a guest path the host mounted a directory at), the call
//   goes to the host's handler (fs.ts) with the resolved guest path, through
//   the registry like any host call: recorded, and answered from the trace
//   on replay.
//
// Ordinary failures are results (negative codes, or an array holding one),
// never faults: a program can handle them.

import { E, FileTree, KIND, KIND_LETTER, failure, followsLinks, normalizePath, pathWithin, type Place } from "../caps/filetree.js";
import { capFamily, codePointsToText, textToCodePoints, type CapValue } from "../caps/registry.js";
import { treeScope } from "../caps/scope.js";
import { familiesScoped } from "../caps/signatures.js";
import type { Process } from "./process.js";
import type { Scheduler } from "./slow.js";

/** What a tree call gives back: a result for the caller, or the host call to make instead (a mount). */
export type TreeOutcome = { readonly result: CapValue } | { readonly host: CapValue[] } | { readonly refused: string };

type TreePlace = Place & { at: "tree" };

/** Bytes as words, one per byte (a typed copy: an order of magnitude faster than Int32Array.from). */
function widen(b: Uint8Array): Int32Array {
  const out = new Int32Array(b.length);
  out.set(b);
  return out;
}

function text(v: CapValue): string {
  return codePointsToText(v as Int32Array);
}

function bytes(v: CapValue): Uint8Array | null {
  const w = v as Int32Array;
  const b = new Uint8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    if (w[i] < 0 || w[i] > 255) return null;
    b[i] = w[i];
  }
  return b;
}

/** The filesystem families: their first argument is a path. */
const FS_FAMILIES = familiesScoped("dir");

/** Whether a call of `family` with these arguments addresses the tree (its path, the first argument, is absolute). */
export function isTreeCall(family: string, args: readonly CapValue[]): boolean {
  if (!FS_FAMILIES.has(family)) return false;
  const p = args[0];
  return typeof p !== "number" && p.length > 0 && p[0] === 0x2f;
}

/** The root of d's tree, which owns the files. */
function ownerOf(d: Process): Process {
  let r = d;
  while (r.parent) r = r.parent;
  return r;
}

/** The tree a root owns (made when first needed). */
export function filesOf(root: Process): FileTree {
  return (root.files ??= new FileTree());
}

/** Whether every level of d's chain (and the host above it) holds a tree scope of `family` containing every path. */
function allowed(m: Scheduler, d: Process, family: string, paths: readonly string[]): boolean {
  const levels: (readonly string[])[] = [];
  for (let q: Process | null = d; q; q = q.parent) levels.push(q.caps);
  if (m.hostGrants !== null) levels.push(m.hostGrants);
  for (const grants of levels) {
    const views: string[] = [];
    for (const g of grants) {
      if (capFamily(g) !== family) continue;
      const v = treeScope(g);
      if (v !== null) views.push(v);
    }
    if (!paths.every((p) => views.some((v) => pathWithin(p, v)))) return false;
  }
  return true;
}

/**
 * Runs an fs call on the tree, or says which host call to make for a mount.
 * `maxWords`: what the caller can receive as an array result.
 */
export function treeCall(m: Scheduler, d: Process, family: string, args: CapValue[], maxWords: number): TreeOutcome {
  // No view of the tree at all: an absolute path is a misuse, refused as before the tree existed (a fault).
  if (!d.caps.some((g) => capFamily(g) === family && treeScope(g) !== null))
    return { refused: `absolute path '${text(args[0]).slice(0, 100)}' is not allowed: the caller holds no view of the file tree (${family}:tree:/PATH)` };
  const root = ownerOf(d);
  const tree = filesOf(root);
  const mounts = m.mounts;
  const fail = (code: number): TreeOutcome => ({ result: failure(family, code) });
  const follow = followsLinks(family);

  const written = text(args[0]);
  const asked = normalizePath(written);
  if (typeof asked === "number") return fail(asked);
  if (family === "fs.mkdir") return mkdirAll(m, d, root, tree, asked, fail);
  // Every place a link leads to must be in view, also when resolution then fails (a failure's code tells what is there).
  const trail: string[] = [];
  const place = tree.resolve(written, follow, mounts, trail);
  if (typeof place === "number") {
    if (!allowed(m, d, family, [asked, ...trail])) return fail(E.EACCES);
    // fs.exists: nothing there is 0; only a place outside the view stays an error (the caller cannot tell).
    return fail(family === "fs.exists" && (place === E.ENOENT || place === E.ENOTDIR || place === E.ELOOP) ? 0 : place);
  }
  if (!allowed(m, d, family, [asked, ...trail, place.path])) return fail(E.EACCES);

  if (family === "fs.rename") {
    const to = text(args[1]);
    if (!to.startsWith("/")) return fail(E.EXDEV);
    const toAsked = normalizePath(to);
    if (typeof toAsked === "number") return fail(toAsked);
    const toTrail: string[] = [];
    const b = tree.resolve(to, false, mounts, toTrail);
    if (!allowed(m, d, family, [toAsked, ...toTrail, ...(typeof b === "number" ? [] : [b.path])])) return fail(E.EACCES);
    if (typeof b === "number") return fail(b);
    if (place.at === "mount" || b.at === "mount") {
      if (place.at === "mount" && b.at === "mount" && place.mount === b.mount) return { host: [textToCodePoints(place.path), textToCodePoints(b.path)] };
      return fail(E.EXDEV);
    }
    return grown(m, d, root, tree, (room) => tree.rename(place, b, room), fail);
  }
  if (family === "fs.symlink") {
    // A link leads nowhere its maker cannot see: its target, taken from the link's directory, lies in the maker's view.
    const target = text(args[1]);
    const dir = place.path.slice(0, place.path.lastIndexOf("/")) || "/";
    const lead = normalizePath(target.startsWith("/") ? target : `${dir}/${target}`);
    if (typeof lead === "number") return fail(lead);
    if (!allowed(m, d, family, [lead])) return fail(E.EACCES);
    if (place.at === "mount") return fail(E.EPERM); // no links into host directories
    return grown(m, d, root, tree, (room) => tree.symlink(place, target, room), fail);
  }
  if (place.at === "mount") {
    const host = args.slice();
    host[0] = textToCodePoints(place.path);
    return { host };
  }
  return local(m, d, root, tree, family, place, args, maxWords, fail);
}

/** fs.mkdir: the directory and its missing parents, each where the caller may create it; into a mount, the host's. */
function mkdirAll(m: Scheduler, d: Process, root: Process, tree: FileTree, asked: string, fail: (code: number) => TreeOutcome): TreeOutcome {
  if (!allowed(m, d, "fs.mkdir", [asked])) return fail(E.EACCES);
  const segs = asked.split("/").filter((s) => s !== "");
  for (let i = 1; i <= segs.length; i++) {
    const trail: string[] = [];
    const at = tree.resolve("/" + segs.slice(0, i).join("/"), true, m.mounts, trail);
    if (!allowed(m, d, "fs.mkdir", [...trail, ...(typeof at === "number" ? [] : [at.path])])) return fail(E.EACCES);
    if (typeof at === "number" || (at.at === "tree" && at.node === undefined)) {
      // A link that leads nowhere (dangling, a loop) is not made into its target: as mkdir(2),
      // EEXIST for the last, and for what lies under it why it leads nowhere.
      const self = tree.resolve("/" + segs.slice(0, i).join("/"), false, m.mounts);
      if (typeof self !== "number" && self.at === "tree" && self.node?.kind === KIND.link) return fail(i === segs.length ? E.EEXIST : typeof at === "number" ? at : E.ENOENT);
    }
    if (typeof at === "number") return fail(at);
    if (at.at === "mount") return { host: [textToCodePoints("/" + [...at.path.split("/").filter((s) => s !== ""), ...segs.slice(i)].join("/"))] };
    const r = grown(m, d, root, tree, (room) => tree.mkdir(at, room), fail);
    // A parent on the way that is not a directory: ENOTDIR (as mkdir -p, and a mount, say); EEXIST is for the last.
    if (i < segs.length && (r as { result: CapValue }).result === E.EEXIST) return fail(E.ENOTDIR);
    if ((r as { result: CapValue }).result !== 0) return r;
  }
  return { result: 0 };
}

/** Runs a growth of the tree against the root's headroom, and charges what it changed to the root's footprint. */
function grown(m: Scheduler, d: Process, root: Process, tree: FileTree, op: (room: number) => number, fail: (code: number) => TreeOutcome): TreeOutcome {
  m.leave(d); // settle, so the root's memUsed is exact
  const before = tree.words;
  const r = op(Math.max(0, root.memLimit - root.memUsed));
  const delta = tree.words - before;
  if (delta !== 0) {
    root.memUsed += delta;
    m.reload(d);
  }
  return r < 0 ? fail(r) : { result: r };
}

function local(
  m: Scheduler,
  d: Process,
  root: Process,
  tree: FileTree,
  family: string,
  p: TreePlace,
  args: CapValue[],
  maxWords: number,
  fail: (code: number) => TreeOutcome,
): TreeOutcome {
  switch (family) {
    case "fs.read": {
      const r = tree.read(p, maxWords);
      return typeof r === "number" ? fail(r) : { result: widen(r) };
    }
    case "fs.write":
    case "fs.write_at": {
      const whole = family === "fs.write";
      const data = bytes(args[whole ? 1 : 2]);
      if (data === null) return fail(E.EINVAL);
      const offset = whole ? 0 : (args[1] as number);
      return grown(m, d, root, tree, (room) => tree.write(p, offset, data, whole, room), fail);
    }
    case "fs.truncate":
      return grown(m, d, root, tree, (room) => tree.truncate(p, args[1] as number, room), fail);
    case "fs.remove":
      return grown(m, d, root, tree, () => tree.remove(p), fail);
    case "fs.chmod":
      return { result: tree.chmod(p, args[1] as number) };
    case "fs.exists":
      return { result: p.node ? 1 : 0 };
    case "fs.stat": {
      const n = p.node;
      if (!n) return fail(E.ENOENT);
      return { result: n.kind === KIND.dir ? -2 : n.kind === KIND.file ? n.data.length : -3 };
    }
    case "fs.info":
    case "fs.lstat": {
      const r = tree.info(p);
      return typeof r === "number" ? fail(r) : { result: Int32Array.from(r) };
    }
    case "fs.readlink": {
      const r = tree.readlink(p);
      if (typeof r === "number") return fail(r);
      const out = textToCodePoints(r);
      return out.length > maxWords ? fail(E.EFBIG) : { result: out };
    }
    case "fs.list":
    case "fs.readdir": {
      const r = tree.list(p, m.mounts);
      if (typeof r === "number") return fail(r);
      const lines = family === "fs.list" ? r.map(([n, k]) => (k === KIND.dir ? n + "/" : n)) : r.map(([n, k]) => `${KIND_LETTER[k]} ${n}`);
      const out = textToCodePoints(lines.join("\n"));
      return out.length > maxWords ? fail(E.EFBIG) : { result: out };
    }
    default:
      return fail(E.EINVAL);
  }
}
