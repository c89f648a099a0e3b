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
// written is what was checked. A file's size is known before it is read: a
// result larger than the caller's headroom (CapContext.maxWords) is refused
// before the host allocates it.
//
// Every refusal throws an Error; the scheduler turns it into a cap_failed
// fault of the calling process. Messages name the guest's path, never the
// host's directories.

import {
  closeSync,
  constants,
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
  statSync,
  unlinkSync,
  writeSync,
  type Stats,
} from "node:fs";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import { RESULT_MAX, codePointCount, codePointsToText, textToCodePoints, type CapContext, type CapHandler, type CapValue } from "./registry.js";
import { kindOf } from "./hostfile.js";
import { BUILTIN_SIGNATURES, familiesScoped } from "./signatures.js";

/** Largest file fs.read returns, in bytes (one byte per word). */
export const FS_READ_MAX = RESULT_MAX;
/** Longest guest path, in code points. */
export const FS_PATH_MAX = 4096;

/** fs.stat results for what is not a regular file. */
export const STAT_MISSING = -1;
export const STAT_DIRECTORY = -2;
export const STAT_OTHER = -3;

const PATH_SCOPED = familiesScoped("dir");

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
  const dirs = scopes.filter((s) => s !== "");
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
      (follow ? statSync : lstatSync)(real);
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

/** The real path of an open handle where the host can tell it (Linux), else null. */
function handlePath(fd: number): string | null {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

/**
 * Opens a resolved regular file without following a final link and without
 * blocking, and checks the handle: a regular file, still inside the scope and
 * the chain. The caller closes the handle.
 */
function openRegular(r: Resolved, shown: string, flags: number, verb: string): { fd: number; st: Stats } {
  let fd: number;
  try {
    fd = openSync(r.real, flags | NOFOLLOW | NONBLOCK, 0o644);
  } catch (e) {
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

function writeFile(r: Resolved, shown: string, data: Uint8Array): void {
  // Truncated only once the handle is known to be a regular file inside the scope.
  const { fd } = openRegular(r, shown, constants.O_WRONLY | constants.O_CREAT, "write");
  try {
    ftruncateSync(fd, 0);
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
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
function listDir(real: string, shown: string, maxWords: number): Int32Array {
  const names: string[] = [];
  let words = -1;
  const dir = opendirSync(real);
  try {
    for (let d = dir.readSync(); d !== null; d = dir.readSync()) {
      const name = d.isDirectory() ? d.name + "/" : d.name;
      words += codePointCount(name) + 1;
      if (words > maxWords) throw new Error(`listing of '${show(shown)}' exceeds memory headroom (${maxWords} words)`);
      names.push(name);
    }
  } finally {
    dir.closeSync();
  }
  // Sorted by code unit so the listing never depends on the host's order.
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return textToCodePoints(names.join("\n"));
}

function handler(name: string, call: (args: CapValue[], ctx: CapContext) => CapValue): CapHandler {
  return { sig: BUILTIN_SIGNATURES[name], call };
}

/** The fs family's handlers by name. */
export function fsHandlers(): Record<string, CapHandler> {
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
      const st = statSync(r.real);
      if (st.isDirectory()) return STAT_DIRECTORY;
      if (!st.isFile()) return STAT_OTHER;
      return Math.min(st.size, 0x7fffffff);
    }),
    "fs.list": handler("fs.list", (args, ctx) => {
      const shown = pathArg(args[0]);
      const r = resolveFor(ctx, shown);
      if (!r.exists || !statSync(r.real).isDirectory()) throw new Error(`no such directory '${show(shown)}'`);
      return listDir(r.real, shown, ctx.maxWords);
    }),
    "fs.mkdir": handler("fs.mkdir", (args, ctx) => {
      const shown = pathArg(args[0]);
      const r = resolveFor(ctx, shown);
      if (r.exists) {
        if (!statSync(r.real).isDirectory()) throw new Error(`'${show(shown)}' exists and is not a directory`);
        return 0;
      }
      try {
        mkdirSync(r.real, { recursive: true });
      } catch (e) {
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
        if (lstatSync(r.real).isDirectory()) rmdirSync(r.real);
        else unlinkSync(r.real);
      } catch (e) {
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
        renameSync(a.real, b.real);
      } catch (e) {
        throw new Error(`cannot rename '${show(from)}' to '${show(to)}' (${errno(e) ?? "error"})`);
      }
      return 0;
    }),
  };
}
