// The filesystem family fs.read / fs.write / fs.stat / fs.list / fs.mkdir /
// fs.remove / fs.rename, each scoped to host directories (`fs.read:/abs/dir`).
//
// A guest path is relative to the scope: `in/a.txt` under `fs.read:/data` is
// /data/in/a.txt. Containment is decided on the *resolved real path*: the
// deepest existing ancestor of the target is passed through realpath (so
// every symlink on the way is followed) and the result must lie inside the
// real path of the scope. `..` segments, absolute paths, backslashes and NUL
// are refused before anything touches the disk. Guests cannot create
// symlinks (no capability does), so the only links are the host's own.
//
// Every refusal throws an Error; the scheduler turns it into a cap_failed
// fault of the calling process. Messages name the guest's path, never the
// host's directories.

import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import { codePointsToText, textToCodePoints, type CapContext, type CapHandler, type CapValue } from "./registry.js";
import { BUILTIN_SIGNATURES } from "./signatures.js";

/** Largest file fs.read returns, in bytes (one byte per word). */
export const FS_READ_MAX = 16 * 1024 * 1024;
/** Longest guest path, in code points. */
export const FS_PATH_MAX = 4096;

/** fs.stat results for what is not a regular file. */
export const STAT_MISSING = -1;
export const STAT_DIRECTORY = -2;
export const STAT_OTHER = -3;

/** Splits a guest path into normal segments, refusing every form of escape. */
export function guestSegments(text: string): string[] {
  if (text.length > FS_PATH_MAX) throw new Error(`path longer than ${FS_PATH_MAX} characters`);
  if (text.includes("\0")) throw new Error("path contains NUL");
  if (text.includes("\\")) throw new Error(`path '${text}' contains a backslash`);
  if (text.startsWith("/") || /^[A-Za-z]:/.test(text)) throw new Error(`absolute path '${text}' is not allowed`);
  const segs = text.split("/").filter((s) => s !== "" && s !== ".");
  if (segs.includes("..")) throw new Error(`path '${text}' contains '..'`);
  return segs;
}

/** Whether `inner` is `outer` or lies below it (both absolute, real). */
function inside(outer: string, inner: string): boolean {
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
function realOf(target: string, shown: string): string {
  let p = target;
  const tail: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(p), ...tail.reverse());
    } catch (e) {
      if (errno(e) !== "ENOENT" && errno(e) !== "ENOTDIR") throw new Error(`cannot resolve '${shown}' (${errno(e) ?? "error"})`);
    }
    let isLink = false;
    try {
      isLink = lstatSync(p).isSymbolicLink();
    } catch {
      // p does not exist at all: go up one level.
    }
    if (isLink) throw new Error(`path '${shown}' goes through a dangling symlink`);
    const up = dirname(p);
    if (up === p) throw new Error(`cannot resolve '${shown}'`);
    tail.push(p.slice(up.length).replace(/^[\\/]+/, ""));
    p = up;
  }
}

export interface Resolved {
  /** Host path to operate on. */
  readonly real: string;
  /** Real path of the scope it lies in. */
  readonly root: string;
  /** Whether it exists (following symlinks). */
  readonly exists: boolean;
}

/**
 * Resolves a guest path against the caller's scopes (tried in sorted order;
 * the first scope in which the target exists wins, else the first in which it
 * stays inside). With `follow` false the last segment is not followed (remove,
 * rename act on a link itself), only its directory is resolved.
 */
export function resolveScoped(scopes: readonly string[], text: string, follow = true): Resolved {
  const segs = guestSegments(text);
  const dirs = scopes.filter((s) => s !== "");
  if (dirs.length === 0) throw new Error("the grant has no directory scope");
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
    if (!inside(root, real)) {
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
    const r = { real, root, exists };
    if (exists) return r;
    fallback ??= r;
  }
  if (fallback) return fallback;
  throw new Error(escaped ? `path '${text}' escapes the scope` : "no scope directory exists on this host");
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

function readFile(real: string, shown: string): Int32Array {
  let fd: number;
  try {
    fd = openSync(real, constants.O_RDONLY | NOFOLLOW);
  } catch (e) {
    throw new Error(`cannot read '${shown}' (${errno(e) ?? "error"})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`'${shown}' is not a file`);
    if (st.size > FS_READ_MAX) throw new Error(`'${shown}' is larger than ${FS_READ_MAX} bytes`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return Int32Array.from(buf.subarray(0, off));
  } finally {
    closeSync(fd);
  }
}

function writeFile(real: string, shown: string, data: Uint8Array): void {
  let fd: number;
  try {
    fd = openSync(real, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | NOFOLLOW, 0o644);
  } catch (e) {
    throw new Error(`cannot write '${shown}' (${errno(e) ?? "error"})`);
  }
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
  } finally {
    closeSync(fd);
  }
}

function handler(name: string, call: (args: CapValue[], ctx: CapContext) => CapValue): CapHandler {
  return { sig: BUILTIN_SIGNATURES[name], call };
}

/** The fs family's handlers by name. */
export function fsHandlers(): Record<string, CapHandler> {
  return {
    "fs.read": handler("fs.read", (args, ctx) => {
      const shown = pathArg(args[0]);
      const r = resolveScoped(ctx.scopes, shown);
      if (!r.exists) throw new Error(`no such file '${shown}'`);
      return readFile(r.real, shown);
    }),
    "fs.write": handler("fs.write", (args, ctx) => {
      const shown = pathArg(args[0]);
      const data = bytesOf(args[1] as Int32Array);
      const r = resolveScoped(ctx.scopes, shown);
      if (r.real === r.root) throw new Error("cannot write the scope directory itself");
      writeFile(r.real, shown, data);
      return data.length;
    }),
    "fs.stat": handler("fs.stat", (args, ctx) => {
      const r = resolveScoped(ctx.scopes, pathArg(args[0]));
      if (!r.exists) return STAT_MISSING;
      const st = statSync(r.real);
      if (st.isDirectory()) return STAT_DIRECTORY;
      if (!st.isFile()) return STAT_OTHER;
      return Math.min(st.size, 0x7fffffff);
    }),
    "fs.list": handler("fs.list", (args, ctx) => {
      const shown = pathArg(args[0]);
      const r = resolveScoped(ctx.scopes, shown);
      if (!r.exists || !statSync(r.real).isDirectory()) throw new Error(`no such directory '${shown}'`);
      // Sorted by code unit so the listing never depends on the host's order.
      const names = readdirSync(r.real, { withFileTypes: true })
        .map((d) => (d.isDirectory() ? d.name + "/" : d.name))
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return textToCodePoints(names.join("\n"));
    }),
    "fs.mkdir": handler("fs.mkdir", (args, ctx) => {
      const shown = pathArg(args[0]);
      const r = resolveScoped(ctx.scopes, shown);
      if (r.exists) {
        if (!statSync(r.real).isDirectory()) throw new Error(`'${shown}' exists and is not a directory`);
        return 0;
      }
      try {
        mkdirSync(r.real, { recursive: true });
      } catch (e) {
        throw new Error(`cannot create '${shown}' (${errno(e) ?? "error"})`);
      }
      return 0;
    }),
    "fs.remove": handler("fs.remove", (args, ctx) => {
      const shown = pathArg(args[0]);
      const r = resolveScoped(ctx.scopes, shown, false);
      if (r.real === r.root) throw new Error("cannot remove the scope directory itself");
      if (!r.exists) throw new Error(`no such file '${shown}'`);
      try {
        if (lstatSync(r.real).isDirectory()) rmdirSync(r.real);
        else unlinkSync(r.real);
      } catch (e) {
        throw new Error(`cannot remove '${shown}' (${errno(e) ?? "error"})`);
      }
      return 0;
    }),
    "fs.rename": handler("fs.rename", (args, ctx) => {
      const from = pathArg(args[0]);
      const to = pathArg(args[1]);
      const a = resolveScoped(ctx.scopes, from, false);
      const b = resolveScoped(ctx.scopes, to, false);
      if (a.real === a.root || b.real === b.root) throw new Error("cannot rename the scope directory itself");
      if (!a.exists) throw new Error(`no such file '${from}'`);
      try {
        renameSync(a.real, b.real);
      } catch (e) {
        throw new Error(`cannot rename '${from}' to '${to}' (${errno(e) ?? "error"})`);
      }
      return 0;
    }),
  };
}
