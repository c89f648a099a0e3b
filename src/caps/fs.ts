// The filesystem family fs.read / fs.write / fs.stat / fs.list / fs.mkdir /
// fs.remove / fs.rename, each scoped to host directories (`fs.read:/abs/dir`).
//
// A guest path is relative to the scope: `in/a.txt` under `fs.read:/data` is
// /data/in/a.txt. Containment is decided on *real paths*, at the moment of
// the call: the deepest existing ancestor of the target is passed through
// realpath (so every symlink on the way is followed), and the result must lie
// inside the real path of the caller's scope and inside the real path of some
// scope of every process on the caller's chain (CapContext.chain). Checking
// the chain, not only the caller, is what keeps a scope narrowed onto a
// symlink (or onto a path that later becomes one) from reaching where its
// ancestors cannot. `..` segments, absolute paths, backslashes and NUL are
// refused before anything touches the disk. Guests cannot create symlinks
// (no capability does), so the only links are the host's own.
//
// Files are opened with O_NOFOLLOW (the last segment is never a link) and
// O_NONBLOCK (a FIFO never blocks the host); the open handle is fstat'ed and
// anything but a regular file is refused, and on Linux the handle's own path
// (/proc/self/fd) is checked against the chain again, so what is read or
// written is what was checked. A directory on the way may be swapped for a
// link by someone else on the host between the check and the use: so every
// call acts through a handle of the directory it acts in (DirHandle: opened
// without following its last segment, checked where it really is, and named
// as /proc/self/fd/N/NAME on Linux), never through the path again. What is
// created, removed, renamed, listed or looked at is then in the directory
// that was checked, whatever is renamed meanwhile. A file's size is known before it is read: a
// result larger than the caller's headroom (CapContext.maxWords) is refused
// before the host allocates it.
//
// Every refusal throws an Error; the scheduler turns it into a cap_failed
// fault of the calling process. Messages name the guest's path, never the
// host's directories.

import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  opendirSync,
  openSync,
  readSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  writeSync,
  type Stats,
} from "node:fs";
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";
import { RESULT_MAX, codePointCount, codePointsToText, textToCodePoints, type CapContext, type CapHandler, type CapValue } from "./registry.js";
import { kindOf } from "./hostfile.js";
import { BUILTIN_SIGNATURES, familiesScoped } from "./signatures.js";
import { E, KIND, byName, failure, followsLinks, pathWithin } from "./filetree.js";
import { TREE_PREFIX } from "./scope.js";

/** Largest file fs.read returns, in bytes (one byte per word). */
export const FS_READ_MAX = RESULT_MAX;
/** Longest guest path, in code points. */
export const FS_PATH_MAX = 4096;

/** fs.stat results for what is not a regular file. */
export const STAT_MISSING = -1;
export const STAT_DIRECTORY = -2;
export const STAT_OTHER = -3;

const PATH_SCOPED = familiesScoped("dir");
const FS_FAMILIES = [...PATH_SCOPED].sort();

/** Whether a capability family's scopes name host directories (and so are checked on real paths). */
export function isPathScoped(family: string): boolean {
  return PATH_SCOPED.has(family);
}

/** Longest guest path a message quotes whole, in code units (a fault's detail stays small). */
const SHOWN_MAX = 100;

/** A guest path as messages quote it: shortened in the middle when long. */
function show(text: string): string {
  return text.length <= SHOWN_MAX ? text : `${text.slice(0, SHOWN_MAX / 2)}…${text.slice(-SHOWN_MAX / 2)}`;
}

/** Splits a guest path into normal segments, refusing every form of escape. */
export function guestSegments(text: string): string[] {
  if (text.length > FS_PATH_MAX) throw new Error(`path longer than ${FS_PATH_MAX} characters`);
  if (text.includes("\0")) throw new Error("path contains NUL");
  if (text.includes("\\")) throw new Error(`path '${show(text)}' contains a backslash`);
  if (text.startsWith("/") || /^[A-Za-z]:/.test(text)) throw new Error(`absolute path '${show(text)}' is not allowed`);
  const segs = text.split("/").filter((s) => s !== "" && s !== ".");
  if (segs.includes("..")) throw new Error(`path '${show(text)}' contains '..'`);
  return segs;
}

/** Whether `inner` is `outer` or lies below it (both absolute, real). */
export function inside(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel === "" || (rel !== ".." && !rel.startsWith(".." + sep) && !isAbsolute(rel));
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Real path of `target` without requiring it to exist: realpath of its deepest
 * existing ancestor, plus the missing tail. A dangling symlink on the way is
 * refused (following it could create a file anywhere).
 */
export function realOf(target: string, shown: string): string {
  let p = target;
  const tail: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(p), ...tail.reverse());
    } catch (e) {
      if (errno(e) !== "ENOENT" && errno(e) !== "ENOTDIR") throw new Error(`cannot resolve '${show(shown)}' (${errno(e) ?? "error"})`);
    }
    let isLink = false;
    try {
      isLink = lstatSync(p).isSymbolicLink();
    } catch {
      // p does not exist at all: go up one level.
    }
    if (isLink) throw new Error(`path '${show(shown)}' goes through a dangling symlink`);
    const up = dirname(p);
    if (up === p) throw new Error(`cannot resolve '${show(shown)}'`);
    tail.push(p.slice(up.length).replace(/^[\\/]+/, ""));
    p = up;
  }
}

/**
 * Whether scope `inner` (lexically within `outer`) also stays inside it on
 * real paths: the real path of `inner` (of its deepest existing ancestor,
 * plus the rest) must lie inside the real path of `outer`. A held scope that
 * does not exist on this host gives nothing to compare (every call checks
 * again); a dangling link on the way does not stay inside.
 */
export function realScopeWithin(inner: string, outer: string): boolean {
  let o: string;
  try {
    o = realpathSync(outer);
  } catch {
    return true;
  }
  try {
    return inside(o, realOf(inner, inner));
  } catch {
    return false;
  }
}

/**
 * The scopes on a caller's chain, resolved to real paths once per call. A
 * level holding an unscoped grant contains everything; a scope whose
 * directory is gone contains nothing. Levels with the same scopes (the usual
 * case: a child holds its parent's grants) are resolved and checked once.
 */
export class ChainScopes {
  /** Distinct levels: null for "contains everything", else real scope directories. */
  private readonly levels: (string[] | null)[] = [];

  constructor(chain: readonly (readonly string[])[]) {
    const seen = new Set<string>();
    const real = new Map<string, string | null>();
    for (const level of chain) {
      const key = JSON.stringify(level); // unambiguous whatever the scopes contain
      if (seen.has(key)) continue;
      seen.add(key);
      if (level.includes("")) {
        this.levels.push(null);
        continue;
      }
      const dirs: string[] = [];
      for (const s of level) {
        let r = real.get(s);
        if (r === undefined) {
          try {
            r = realpathSync(s);
          } catch {
            r = null;
          }
          real.set(s, r);
        }
        if (r !== null) dirs.push(r);
      }
      this.levels.push(dirs);
    }
  }

  /** Whether the real path `p` lies inside some scope of every level. */
  contains(p: string): boolean {
    for (const dirs of this.levels) if (dirs !== null && !dirs.some((d) => inside(d, p))) return false;
    return true;
  }
}

export interface Resolved {
  /** Host path to operate on. */
  readonly real: string;
  /** Real path of the caller's scope it lies in. */
  readonly root: string;
  /** Whether it exists (following symlinks, or not when resolved with follow = false). */
  readonly exists: boolean;
  /** The chain it was checked against (to check an opened handle again). */
  readonly chain: ChainScopes;
}

/**
 * Resolves a guest path against the caller's scopes (tried in sorted order;
 * the first scope in which the target exists wins, else the first in which it
 * stays inside) and the scopes of its whole chain (`chain`, root first; by
 * default the caller's alone). With `follow` false the last segment is not
 * followed (remove, rename act on a link itself), only its directory is
 * resolved.
 */
export function resolveScoped(
  scopes: readonly string[],
  text: string,
  follow = true,
  chain: readonly (readonly string[])[] = [scopes],
): Resolved {
  const segs = guestSegments(text);
  const dirs = scopes.filter((s) => s !== "" && !s.startsWith(TREE_PREFIX));
  if (dirs.length === 0) throw new Error("the grant has no directory scope");
  const allowed = new ChainScopes(chain);
  let fallback: Resolved | null = null;
  let escaped = false;
  for (const scope of dirs) {
    let root: string;
    try {
      root = realpathSync(scope);
    } catch {
      continue; // the scope directory is gone on this host
    }
    let real: string;
    if (follow || segs.length === 0) {
      real = realOf(join(root, ...segs), text);
    } else {
      const parent = realOf(join(root, ...segs.slice(0, -1)), text);
      real = join(parent, segs[segs.length - 1]);
    }
    if (!inside(root, real) || !allowed.contains(real)) {
      escaped = true;
      continue;
    }
    let exists = false;
    try {
      statIn({ real, root, exists: true, chain: allowed }, text, follow);
      exists = true;
    } catch {
      exists = false;
    }
    const r = { real, root, exists, chain: allowed };
    if (exists) return r;
    fallback ??= r;
  }
  if (fallback) return fallback;
  throw new Error(escaped ? `path '${show(text)}' escapes the scope` : "no scope directory exists on this host");
}

/** The guest's path and what it resolved to, under the caller's whole chain. */
function resolveFor(ctx: CapContext, text: string, follow = true): Resolved {
  return resolveScoped(ctx.scopes, text, follow, ctx.chain);
}

function pathArg(v: CapValue): string {
  return codePointsToText(v as Int32Array);
}

function bytesOf(words: Int32Array): Uint8Array {
  const b = new Uint8Array(words.length);
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w < 0 || w > 255) throw new Error(`word ${i} of the data is not a byte (${w})`);
    b[i] = w;
  }
  return b;
}

const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const NONBLOCK = constants.O_NONBLOCK ?? 0;
const DIRECTORY = constants.O_DIRECTORY ?? 0;
/** Linux's O_PATH (Node names no constant): a directory handle that needs no read permission, only to name entries through. */
const PATH_ONLY = process.platform === "linux" ? 0o10000000 : 0;

/** The real path of an open handle where the host can tell it (Linux), else null. */
function handlePath(fd: number): string | null {
  try {
    const p = readlinkSync(`/proc/self/fd/${fd}`);
    return isAbsolute(p) ? p : null;
  } catch {
    return null;
  }
}

/** A directory held open, checked where it really is: entries are named through the handle. */
interface DirHandle {
  readonly fd: number;
  /** A path to the entry `name` of this very directory ("" for the directory itself). */
  at(name: string): string;
  close(): void;
}

/**
 * Opens directory `dir` without following its last segment and checks the
 * handle's own path (Linux) against the resolution's root and chain. On
 * Linux, `at` names entries as /proc/self/fd/N/NAME: the kernel goes
 * straight to the opened directory, so a directory on the way renamed or
 * swapped for a link after the check changes nothing. Elsewhere the path
 * itself (as before the handle).
 */
function openDir(dir: string, r: Resolved, shown: string): DirHandle {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | DIRECTORY | NOFOLLOW | PATH_ONLY);
  } catch (e) {
    const code = errno(e);
    throw Object.assign(new Error(code === "ELOOP" ? `path '${show(shown)}' escapes the scope` : `cannot open '${show(shown)}' (${code ?? "error"})`), { code });
  }
  const real = handlePath(fd);
  if (real !== null && !(inside(r.root, real) && r.chain.contains(real))) {
    closeSync(fd);
    throw new Error(`path '${show(shown)}' escapes the scope`);
  }
  const base = real !== null ? `/proc/self/fd/${fd}` : dir;
  return { fd, at: (name) => (name === "" ? base : join(base, name)), close: () => closeSync(fd) };
}

/** Runs `op` on the entry a resolution names, through a handle of its directory (the scope directory itself: of it). */
function inDir<T>(r: Resolved, shown: string, op: (entry: string, dir: DirHandle) => T): T {
  const self = r.real === r.root;
  const d = openDir(self ? r.real : dirname(r.real), r, shown);
  try {
    return op(self ? d.at("") : d.at(basename(r.real)), d);
  } finally {
    d.close();
  }
}

/**
 * What a resolution names, looked at through its directory's handle. With
 * `follow` the resolution's path is already real (resolveScoped), so a link
 * there now was put there after the check: refused, never followed.
 */
function statIn(r: Resolved, shown: string, follow: boolean): Stats {
  return inDir(r, shown, (entry, d) => {
    const st = r.real === r.root ? fstatSync(d.fd) : lstatSync(entry);
    if (follow && st.isSymbolicLink()) throw new Error(`path '${show(shown)}' escapes the scope`);
    return st;
  });
}

/** Creates the directories from the resolution's root down to its path, each in the checked handle of its parent. */
function makeDirs(r: Resolved, shown: string): void {
  let at = r.root;
  for (const seg of relative(r.root, r.real).split(sep).filter((x) => x !== "")) {
    const d = openDir(at, r, shown);
    try {
      mkdirSync(d.at(seg));
    } catch (e) {
      if (errno(e) !== "EEXIST") throw e;
    } finally {
      d.close();
    }
    at = join(at, seg);
  }
  // The last one must be a directory now (not a file or link that was there).
  if (!statIn(r, shown, true).isDirectory()) throw Object.assign(new Error(`'${show(shown)}' exists and is not a directory`), { code: "EEXIST" });
}

/** Removes the entry a resolution names (a directory with rmdir), in its directory's handle. */
function removeIn(r: Resolved, shown: string): void {
  inDir(r, shown, (entry) => {
    if (lstatSync(entry).isDirectory()) rmdirSync(entry);
    else unlinkSync(entry);
  });
}

/** Renames one resolution's entry to another's, each named in its own directory's handle. */
function renameIn(a: Resolved, b: Resolved, shownA: string, shownB: string): void {
  inDir(a, shownA, (from) => inDir(b, shownB, (to) => renameSync(from, to)));
}

/**
 * Opens a resolved regular file without following a final link and without
 * blocking, and checks the handle: a regular file, still inside the scope and
 * the chain. The caller closes the handle.
 */
function openRegular(r: Resolved, shown: string, flags: number, verb: string): { fd: number; st: Stats } {
  let fd: number;
  try {
    // Opened (and created) in the checked directory's handle, not through the path again.
    fd = inDir(r, shown, (entry) => openSync(entry, flags | NOFOLLOW | NONBLOCK, 0o644));
  } catch (e) {
    if (e instanceof Error && e.message.includes("escapes")) throw e;
    const code = errno(e);
    // ELOOP: the last segment is a link (O_NOFOLLOW); ENXIO: a FIFO without a reader, a socket.
    const why = code === "ELOOP" ? "a symlink" : code === "ENXIO" ? "not a regular file" : (code ?? "error");
    throw new Error(`cannot ${verb} '${show(shown)}' (${why})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`cannot ${verb} '${show(shown)}': ${kindOf(st)}, not a regular file`);
    const at = handlePath(fd);
    if (at !== null && isAbsolute(at) && !(inside(r.root, at) && r.chain.contains(at)))
      throw new Error(`path '${show(shown)}' escapes the scope`);
    return { fd, st };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

function readFile(r: Resolved, shown: string, maxWords: number): Int32Array {
  const { fd, st } = openRegular(r, shown, constants.O_RDONLY, "read");
  try {
    // The size is known before anything is allocated: one word per byte.
    if (st.size > FS_READ_MAX) throw new Error(`'${show(shown)}' is larger than ${FS_READ_MAX} bytes`);
    if (st.size > maxWords) throw new Error(`result of ${st.size} words exceeds memory headroom`);
    const out = new Int32Array(st.size);
    const chunk = Buffer.allocUnsafe(Math.min(st.size, 65536));
    let off = 0;
    while (off < out.length) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, out.length - off), off);
      if (n === 0) break;
      for (let i = 0; i < n; i++) out[off + i] = chunk[i];
      off += n;
    }
    // A file that shrank meanwhile: what was there (one that grew: its first st.size bytes).
    return off === out.length ? out : out.slice(0, off);
  } finally {
    closeSync(fd);
  }
}

function writeFile(r: Resolved, shown: string, data: Uint8Array, at: number | null = null): void {
  // Truncated only once the handle is known to be a regular file inside the scope.
  const { fd } = openRegular(r, shown, constants.O_WRONLY | constants.O_CREAT, "write");
  try {
    if (at === null) ftruncateSync(fd, 0);
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off, (at ?? 0) + off);
  } finally {
    closeSync(fd);
  }
}

/**
 * A directory's names, sorted by code unit, directories with a trailing `/`,
 * as code points joined by "\n". Entries are read one at a time and counted
 * as they come: a listing longer than `maxWords` is refused before it is
 * built.
 */
function listDir(r: Resolved, shown: string, maxWords: number, kinds = false): Int32Array {
  const h = openDir(r.real, r, shown);
  try {
    return listOpen(h.at(""), shown, maxWords, kinds);
  } finally {
    h.close();
  }
}

function listOpen(real: string, shown: string, maxWords: number, kinds: boolean): Int32Array {
  const names: string[] = [];
  let words = -1;
  const dir = opendirSync(real);
  try {
    for (let d = dir.readSync(); d !== null; d = dir.readSync()) {
      const k = d.isFile() ? "f" : d.isDirectory() ? "d" : d.isSymbolicLink() ? "l" : "o";
      const name = kinds ? `${k} ${d.name}` : d.isDirectory() ? d.name + "/" : d.name;
      words += codePointCount(name) + 1;
      if (words > maxWords) throw new Error(`listing of '${show(shown)}' exceeds memory headroom (${maxWords} words)`);
      names.push(name);
    }
  } finally {
    dir.closeSync();
  }
  // Sorted by code unit so the listing never depends on the host's order.
  names.sort((a, b) => byName(kinds ? a.slice(2) : a, kinds ? b.slice(2) : b));
  return textToCodePoints(names.join("\n"));
}

function handler(name: string, call: (args: CapValue[], ctx: CapContext) => CapValue): CapHandler {
  return { sig: BUILTIN_SIGNATURES[name], call };
}

/** A host directory the host placed in the file tree at a guest path. */
export interface Mount {
  /** The guest path (normalized, absolute). */
  readonly guest: string;
  /** The host directory (absolute, real). */
  readonly host: string;
  readonly readOnly: boolean;
}

/** The negative code (filetree.ts FS_ERRORS) of a failure on a host directory. */
function codeOf(e: unknown): number {
  const c = errno(e);
  if (c === "ENOENT") return E.ENOENT;
  if (c === "EEXIST") return E.EEXIST;
  if (c === "ENOTDIR") return E.ENOTDIR;
  if (c === "EISDIR") return E.EISDIR;
  if (c === "ENOTEMPTY") return E.ENOTEMPTY;
  if (c === "EACCES" || c === "EPERM") return E.EACCES;
  if (c === "EXDEV") return E.EXDEV;
  const m = e instanceof Error ? e.message : "";
  if (m.includes("escapes") || m.includes("dangling symlink") || m.includes("symlink")) return E.EACCES;
  if (m.includes("(ELOOP)")) return E.ELOOP; // realOf: a host link loop on the way
  if (m.includes("no such")) return E.ENOENT;
  if (m.includes("larger than") || m.includes("exceeds memory headroom")) return E.EFBIG;
  if (m.includes("directory")) return E.EISDIR;
  return E.EINVAL;
}

/** Runs `op` on a resolved regular file opened (and checked) as openRegular does; returns 0. */
function withFile(r: Resolved, shown: string, flags: number, verb: string, op: (fd: number) => void): number {
  const { fd } = openRegular(r, shown, flags, verb);
  try {
    op(fd);
  } finally {
    closeSync(fd);
  }
  return 0;
}

/** Host kind code of a Stats. */
function kindCode(st: Stats): number {
  return st.isFile() ? KIND.file : st.isDirectory() ? KIND.dir : st.isSymbolicLink() ? KIND.link : KIND.other;
}

/**
 * A filesystem call on a host directory whose failures are results, not
 * faults: the calls of the families added with the file tree on any host
 * directory, and every call into a mount. `at(follow)` resolves the path
 * (throwing on an escape); `second` resolves rename's target.
 */
function hostCall(family: string, args: CapValue[], maxWords: number, at: (follow: boolean) => Resolved, readOnly: boolean, shown: string, second?: (follow: boolean) => Resolved): CapValue {
  const fail = (code: number): CapValue => failure(family, code);
  if (readOnly && BUILTIN_SIGNATURES[family].effect) return fail(E.EROFS);
  try {
    const follow = followsLinks(family);
    const r = at(follow);
    switch (family) {
      case "fs.read":
        if (!r.exists) return fail(E.ENOENT);
        return readFile(r, shown, maxWords);
      case "fs.write":
      case "fs.write_at": {
        if (r.real === r.root) return fail(E.EISDIR);
        const whole = family === "fs.write";
        const words = args[whole ? 1 : 2] as Int32Array;
        if (words.some((w) => w < 0 || w > 255)) return fail(E.EINVAL);
        const offset = whole ? 0 : (args[1] as number);
        if (offset < 0) return fail(E.EINVAL);
        writeFile(r, shown, Uint8Array.from(words), whole ? null : offset);
        return words.length;
      }
      case "fs.truncate": {
        const size = args[1] as number;
        if (size < 0) return fail(E.EINVAL);
        if (!r.exists) return fail(E.ENOENT);
        return withFile(r, shown, constants.O_WRONLY, "truncate", (fd) => ftruncateSync(fd, size));
      }
      case "fs.exists":
        return r.exists ? 1 : 0;
      case "fs.stat": {
        if (!r.exists) return STAT_MISSING;
        const st = statIn(r, shown, true);
        return st.isDirectory() ? STAT_DIRECTORY : !st.isFile() ? STAT_OTHER : Math.min(st.size, 0x7fffffff);
      }
      case "fs.info":
      case "fs.lstat": {
        if (!r.exists) return fail(E.ENOENT);
        const st = statIn(r, shown, follow);
        const kind = kindCode(st);
        const size = kind === KIND.file ? Math.min(st.size, 0x7fffffff) : 0;
        return Int32Array.of(kind, size, st.mode & 0o777);
      }
      case "fs.list":
      case "fs.readdir": {
        if (!r.exists || !statIn(r, shown, true).isDirectory()) return fail(r.exists ? E.ENOTDIR : E.ENOENT);
        return listDir(r, shown, maxWords, family === "fs.readdir");
      }
      case "fs.readlink":
        // A host link's target is a host path: the guest never sees one.
        return fail(E.EPERM);
      case "fs.symlink":
        return fail(E.EPERM);
      case "fs.chmod": {
        const mode = args[1] as number;
        if (mode < 0 || mode > 0o777) return fail(E.EINVAL);
        if (!r.exists) return fail(E.ENOENT);
        return withFile(r, shown, constants.O_RDONLY, "chmod", (fd) => fchmodSync(fd, mode));
      }
      case "fs.mkdir": {
        if (r.exists) return statIn(r, shown, true).isDirectory() ? 0 : fail(E.EEXIST);
        makeDirs(r, shown);
        return 0;
      }
      case "fs.remove": {
        if (r.real === r.root) return fail(E.EBUSY);
        if (!r.exists) return fail(E.ENOENT);
        removeIn(r, shown);
        return 0;
      }
      case "fs.rename": {
        const b = (second as (follow: boolean) => Resolved)(false);
        if (r.real === r.root || b.real === b.root) return fail(E.EBUSY);
        if (!r.exists) return fail(E.ENOENT);
        renameIn(r, b, shown, pathArg(args[1]));
        return 0;
      }
      default:
        return fail(E.EINVAL);
    }
  } catch (e) {
    return fail(codeOf(e));
  }
}

/** The mount a normalized guest path lies in, and the path inside it ("" for the mount point). */
function mountOf(mounts: readonly Mount[], path: string): { mount: Mount; rest: string } | null {
  let best: Mount | null = null;
  for (const m of mounts) if (pathWithin(path, m.guest) && (!best || m.guest.length > best.guest.length)) best = m;
  return best ? { mount: best, rest: path.slice(best.guest.length).replace(/^\/+/, "") } : null;
}

/**
 * A call into a mount (process/files.ts resolved the guest path to one): the
 * rest of the path is resolved inside the mounted directory on real paths,
 * and nothing outside it is reached (EACCES).
 */
function mountCall(family: string, args: CapValue[], ctx: CapContext, mounts: readonly Mount[]): CapValue {
  const shown = pathArg(args[0]);
  const fail = (code: number): CapValue => failure(family, code);
  const a = mountOf(mounts, shown);
  if (!a) return fail(E.EACCES);
  const inMount = (m: Mount, rest: string) => (follow: boolean) => resolveScoped([m.host], rest === "" ? "." : rest, follow, [[m.host]]);
  let second: ((follow: boolean) => Resolved) | undefined;
  if (family === "fs.rename") {
    const b = mountOf(mounts, pathArg(args[1]));
    if (!b || b.mount !== a.mount) return fail(E.EXDEV);
    second = inMount(b.mount, b.rest);
  }
  return hostCall(family, args, ctx.maxWords, inMount(a.mount, a.rest), a.mount.readOnly, shown, second);
}

/**
 * The fs family's handlers by name. An absolute path is a path into the
 * process tree's file tree that process/files.ts found to lie in a mount;
 * a relative path reaches the caller's host directory scopes.
 */
export function fsHandlers(mounts: readonly Mount[] = []): Record<string, CapHandler> {
  const direct = directHandlers();
  const out: Record<string, CapHandler> = {};
  for (const family of FS_FAMILIES) {
    const legacy = direct[family];
    out[family] = handler(family, (args, ctx) => {
      const shown = pathArg(args[0]);
      if (shown.startsWith("/")) return mountCall(family, args, ctx, mounts);
      if (legacy) return legacy.call(args, ctx) as CapValue;
      // The families added with the file tree, on host directories: failures as results, escapes as faults.
      resolveFor(ctx, shown); // refuses an escape before anything else
      return hostCall(family, args, ctx.maxWords, (follow) => resolveFor(ctx, shown, follow), false, shown);
    });
  }
  return out;
}

/** The first seven families on host directory scopes, as before the file tree: every refusal a fault. */
function directHandlers(): Record<string, CapHandler> {
  return {
    "fs.read": handler("fs.read", (args, ctx) => {
      const shown = pathArg(args[0]);
      const r = resolveFor(ctx, shown);
      if (!r.exists) throw new Error(`no such file '${show(shown)}'`);
      return readFile(r, shown, ctx.maxWords);
    }),
    "fs.write": handler("fs.write", (args, ctx) => {
      const shown = pathArg(args[0]);
      const data = bytesOf(args[1] as Int32Array);
      const r = resolveFor(ctx, shown);
      if (r.real === r.root) throw new Error("cannot write the scope directory itself");
      writeFile(r, shown, data);
      return data.length;
    }),
    "fs.stat": handler("fs.stat", (args, ctx) => {
      const r = resolveFor(ctx, pathArg(args[0]));
      if (!r.exists) return STAT_MISSING;
      const st = statIn(r, pathArg(args[0]), true);
      if (st.isDirectory()) return STAT_DIRECTORY;
      if (!st.isFile()) return STAT_OTHER;
      return Math.min(st.size, 0x7fffffff);
    }),
    "fs.list": handler("fs.list", (args, ctx) => {
      const shown = pathArg(args[0]);
      const r = resolveFor(ctx, shown);
      if (!r.exists || !statIn(r, shown, true).isDirectory()) throw new Error(`no such directory '${show(shown)}'`);
      return listDir(r, shown, ctx.maxWords);
    }),
    "fs.mkdir": handler("fs.mkdir", (args, ctx) => {
      const shown = pathArg(args[0]);
      const r = resolveFor(ctx, shown);
      if (r.exists) {
        if (!statIn(r, shown, true).isDirectory()) throw new Error(`'${show(shown)}' exists and is not a directory`);
        return 0;
      }
      try {
        makeDirs(r, shown);
      } catch (e) {
        if ((e as Error).message.includes("escapes")) throw e;
        throw new Error(`cannot create '${show(shown)}' (${errno(e) ?? "error"})`);
      }
      return 0;
    }),
    "fs.remove": handler("fs.remove", (args, ctx) => {
      const shown = pathArg(args[0]);
      const r = resolveFor(ctx, shown, false);
      if (r.real === r.root) throw new Error("cannot remove the scope directory itself");
      if (!r.exists) throw new Error(`no such file '${show(shown)}'`);
      try {
        removeIn(r, shown);
      } catch (e) {
        if ((e as Error).message.includes("escapes")) throw e;
        throw new Error(`cannot remove '${show(shown)}' (${errno(e) ?? "error"})`);
      }
      return 0;
    }),
    "fs.rename": handler("fs.rename", (args, ctx) => {
      const from = pathArg(args[0]);
      const to = pathArg(args[1]);
      const a = resolveFor(ctx, from, false);
      const b = resolveFor(ctx, to, false);
      if (a.real === a.root || b.real === b.root) throw new Error("cannot rename the scope directory itself");
      if (!a.exists) throw new Error(`no such file '${show(from)}'`);
      try {
        renameIn(a, b, from, to);
      } catch (e) {
        if ((e as Error).message.includes("escapes")) throw e;
        throw new Error(`cannot rename '${show(from)}' to '${show(to)}' (${errno(e) ?? "error"})`);
      }
      return 0;
    }),
  };
}
