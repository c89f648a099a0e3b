// The file tree a process tree owns (DESIGN §4): directories, regular files
// and symbolic links held in memory as part of the root's state. It is
// written into the root's image (image/files.ts), counted in the root's
// footprint (`words`), covered by the execution-state digest, and travels
// with every suspension and migration.
//
// Guest paths into the tree are absolute ("/notes/a.txt"). `..` never climbs
// above "/", so nothing the tree holds points outside it; host directories
// enter only as mount points (guest paths the host names when it runs the
// process), where resolution stops and the call goes to the host
// (fs.ts). Who may reach which part of the tree is decided by the caller's
// grants (`fs.read:tree:/notes`) on the *resolved* path: a link is followed
// and the place it leads to must lie in the caller's view.
//
// Every operation is deterministic and bounded: paths and link chains are
// bounded, a growth of the tree is refused with ENOSPC unless it fits the
// `room` the caller is given (the owner's memory headroom), and ordinary
// failures (not found, exists, not a directory, ...) are returned as
// negative codes (FS_ERRORS), never thrown.

import { BUILTIN_SIGNATURES } from "./signatures.js";

/** Node kinds, as fs.lstat and fs.readdir report them. */
export const KIND = { file: 1, dir: 2, link: 3, other: 4 } as const;
export type NodeKind = (typeof KIND)[keyof typeof KIND];

/** The letter fs.readdir writes before each name, by kind. */
export const KIND_LETTER: Readonly<Record<NodeKind, string>> = { 1: "f", 2: "d", 3: "l", 4: "o" };

/**
 * Error results of the filesystem capabilities on tree paths: negative
 * numbers (an int result), or an array result holding only that number. The
 * codes are Linux's errno values, negated.
 */
export const FS_ERRORS = {
  EPERM: { code: -1, meaning: "not allowed here (a mount point, the root, a link into a host directory)" },
  ENOENT: { code: -2, meaning: "no such file or directory" },
  EACCES: { code: -13, meaning: "outside the caller's view, or not granted for this call" },
  EBUSY: { code: -16, meaning: "a mount point or the tree's root cannot be removed or replaced" },
  EEXIST: { code: -17, meaning: "already exists" },
  EXDEV: { code: -18, meaning: "rename between the tree and a mounted directory, or between two mounts" },
  ENOTDIR: { code: -20, meaning: "a path segment is not a directory" },
  EISDIR: { code: -21, meaning: "is a directory" },
  EINVAL: { code: -22, meaning: "invalid argument (a bad path, offset, size or mode; not a link; a directory into itself)" },
  EFBIG: { code: -27, meaning: "larger than one call may bring in, or a file past 2^31 - 1 bytes" },
  ENOSPC: { code: -28, meaning: "the tree would outgrow the owner's memory limit" },
  EROFS: { code: -30, meaning: "the mounted directory is read-only" },
  ENAMETOOLONG: { code: -36, meaning: "a name longer than 255 or a path longer than 4096 characters" },
  ENOTEMPTY: { code: -39, meaning: "the directory is not empty" },
  ELOOP: { code: -40, meaning: "more than 40 links on the way" },
} as const;
export type FsErrorName = keyof typeof FS_ERRORS;
export const E = Object.fromEntries(Object.entries(FS_ERRORS).map(([k, v]) => [k, v.code])) as { readonly [K in FsErrorName]: number };

/** Families that act on a link itself rather than on where it leads. */
const ON_LINKS: ReadonlySet<string> = new Set(["fs.lstat", "fs.remove", "fs.rename", "fs.readlink", "fs.symlink"]);

/** Whether `family` follows a link in its path's last segment. */
export function followsLinks(family: string): boolean {
  return !ON_LINKS.has(family);
}

/**
 * The result a failed fs call gives (spec/capabilities.md §4b): the code for
 * an int result, an array holding only the code for an array result, and
 * fs.stat's own -1 for "nothing there".
 */
export function failure(family: string, code: number): number | Int32Array {
  if (family === "fs.stat") return code === E.ENOENT || code === E.ENOTDIR ? -1 : code;
  return BUILTIN_SIGNATURES[family]?.result === "array" ? Int32Array.of(code) : code;
}

/** Longest guest path, in characters. */
export const PATH_MAX = 4096;
/** Longest name of one entry, in characters. */
export const NAME_MAX = 255;
/** Largest file, in bytes: its size is an int result (fs.stat, fs.info). */
export const FILE_MAX = 0x7fffffff;
/** Most links followed while resolving one path. */
export const LINKS_MAX = 40;
/**
 * Words each entry costs besides its name and contents: what the host holds
 * for one (its object, map entry and name; measured at about 200 bytes for
 * an empty file), so a tree of many small entries keeps the host within the
 * root's memory limit as a process does.
 */
export const NODE_WORDS = 64;
/** The bytes of every empty file (never written in place). */
const NO_BYTES = new Uint8Array(0);
/** Permission bits a node may have. */
export const MODE_MASK = 0o777;
export const FILE_MODE = 0o644;
export const DIR_MODE = 0o755;
export const LINK_MODE = 0o777;

export interface FileNode {
  readonly kind: 1;
  mode: number;
  data: Uint8Array;
}
export interface DirNode {
  readonly kind: 2;
  mode: number;
  readonly entries: Map<string, Node>;
}
export interface LinkNode {
  readonly kind: 3;
  mode: number;
  readonly target: string;
}
export type Node = FileNode | DirNode | LinkNode;

/** Words a text costs: one per two UTF-16 code units, rounded up. */
function textWords(s: string): number {
  return (s.length + 1) >> 1;
}

/** Words a file's bytes cost: four bytes a word, rounded up (no 32-bit shift: sizes reach 2^31). */
export function bytesWords(n: number): number {
  return Math.floor((n + 3) / 4);
}

/** Words one entry costs in the owner's footprint. */
export function nodeWords(name: string, n: Node): number {
  const own = NODE_WORDS + textWords(name);
  if (n.kind === KIND.file) return own + bytesWords(n.data.length);
  if (n.kind === KIND.link) return own + textWords(n.target);
  return own;
}

/** Words a whole subtree costs (the node named `name` and everything below it). */
function subtreeWords(name: string, n: Node): number {
  let w = nodeWords(name, n);
  if (n.kind === KIND.dir) for (const [k, c] of n.entries) w += subtreeWords(k, c);
  return w;
}

/** Segments of an absolute path, or an error code. `.` is dropped; `..` is kept (resolution applies it). */
export function pathSegments(path: string): string[] | number {
  if (path.length > PATH_MAX) return E.ENAMETOOLONG;
  if (!path.startsWith("/") || path.includes("\0")) return E.EINVAL;
  const segs = path.split("/").filter((s) => s !== "" && s !== ".");
  for (const s of segs) if (s.length > NAME_MAX) return E.ENAMETOOLONG;
  return segs;
}

/** A normalized absolute path ("/" joined, `..` applied, never above "/"), or an error code. */
export function normalizePath(path: string): string | number {
  const segs = pathSegments(path);
  return typeof segs === "number" ? segs : "/" + lexical(segs).join("/");
}

/** Segments with `..` applied lexically, never above "/" (a sandbox's rule: `a/link/..` is `a`). */
function lexical(segs: readonly string[]): string[] {
  const out: string[] = [];
  for (const s of segs) if (s === "..") out.pop();
    else out.push(s);
  return out;
}

/** Whether normalized `inner` is `outer` or lies below it. */
export function pathWithin(inner: string, outer: string): boolean {
  return outer === "/" || inner === outer || inner.startsWith(outer + "/");
}

/** Where a path leads: into the tree (its parent directory and last name), or into a mount. */
export type Place =
  | { readonly at: "tree"; readonly path: string; readonly parent: DirNode | null; readonly name: string; readonly node: Node | undefined }
  | { readonly at: "mount"; readonly path: string; readonly mount: string };

/** Code-unit order, as every listing and encoding uses (never the host's). */
export function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class FileTree {
  readonly root: DirNode = { kind: KIND.dir, mode: DIR_MODE, entries: new Map() };
  /** Footprint of everything below the root, in words. */
  words = 0;

  /** Whether the tree holds nothing (then images leave it out). */
  get empty(): boolean {
    return this.root.entries.size === 0 && this.root.mode === DIR_MODE;
  }

  /**
   * Resolves an absolute path. `follow`: whether a link in the last segment
   * is followed. `mounts`: guest mount points (normalized); reaching one ends
   * resolution there. Returns the place or an error code. `trail`, when
   * given, receives the path each link followed leads to (what a caller's
   * view must contain, also when resolution then fails).
   */
  resolve(path: string, follow: boolean, mounts: readonly string[] = [], trail?: string[]): Place | number {
    const first = pathSegments(path);
    if (typeof first === "number") return first;
    let todo = lexical(first);
    let links = 0;
    for (;;) {
      let dir: DirNode = this.root;
      let restart: string[] | null = null;
      for (let i = 0; i < todo.length; i++) {
        const s = todo[i];
        const here = "/" + todo.slice(0, i + 1).join("/");
        if (mounts.includes(here)) return { at: "mount", path: "/" + todo.join("/"), mount: here };
        const node = dir.entries.get(s);
        const last = i === todo.length - 1;
        if (node && node.kind === KIND.link && (!last || follow)) {
          if (++links > LINKS_MAX) return E.ELOOP;
          const abs = node.target.startsWith("/");
          const t = pathSegments(abs ? node.target : "/" + node.target);
          if (typeof t === "number") return t;
          restart = lexical([...(abs ? [] : todo.slice(0, i)), ...t, ...todo.slice(i + 1)]);
          trail?.push("/" + restart.join("/"));
          break;
        }
        if (last) return { at: "tree", path: here, parent: dir, name: s, node };
        if (!node) return E.ENOENT;
        if (node.kind !== KIND.dir) return E.ENOTDIR;
        dir = node;
      }
      if (restart === null) return { at: "tree", path: "/", parent: null, name: "", node: this.root };
      if (restart.join("/").length > PATH_MAX) return E.ENAMETOOLONG;
      todo = restart;
    }
  }

  /** The directory at normalized segments, if every one is a directory (no links followed). */
  private dirAt(segs: readonly string[]): DirNode | null {
    let d: DirNode = this.root;
    for (const s of segs) {
      const n = d.entries.get(s);
      if (!n || n.kind !== KIND.dir) return null;
      d = n;
    }
    return d;
  }

  /** Adds `delta` words if they fit in `room`; the error code if not. */
  private grow(delta: number, room: number): number {
    if (delta > 0 && delta > room) return E.ENOSPC;
    this.words += delta;
    return 0;
  }

  // The operations. `p` is a resolved place in the tree (resolve()); each
  // returns its result or a negative code and changes nothing on failure.

  read(p: Place & { at: "tree" }, max: number): Uint8Array | number {
    const n = p.node;
    if (!n) return E.ENOENT;
    if (n.kind === KIND.dir) return E.EISDIR;
    if (n.kind !== KIND.file) return E.EINVAL;
    if (n.data.length > max) return E.EFBIG;
    return n.data;
  }

  /** Writes `data` at `offset` (replacing the whole file when `whole`), creating it if missing; returns the bytes written. */
  write(p: Place & { at: "tree" }, offset: number, data: Uint8Array, whole: boolean, room: number): number {
    if (p.parent === null) return E.EISDIR;
    if (offset < 0) return E.EINVAL;
    const n = p.node;
    if (n && n.kind === KIND.dir) return E.EISDIR;
    if (n && n.kind !== KIND.file) return E.EINVAL; // a dangling link: its target's parent is missing
    const old = n ? n.data : null;
    const size = whole ? data.length : Math.max(old ? old.length : 0, offset + data.length);
    if (size > FILE_MAX) return E.EFBIG;
    const before = n ? nodeWords(p.name, n) : 0;
    const after = NODE_WORDS + textWords(p.name) + bytesWords(size);
    if (this.grow(after - before, room) < 0) return E.ENOSPC;
    let bytes: Uint8Array;
    if (whole) bytes = data.length === 0 ? NO_BYTES : data.slice();
    else {
      bytes = old && old.length === size ? old : new Uint8Array(size);
      if (old && bytes !== old) bytes.set(old);
      bytes.set(data, offset);
    }
    if (n) n.data = bytes;
    else p.parent.entries.set(p.name, { kind: KIND.file, mode: FILE_MODE, data: bytes });
    return data.length;
  }

  truncate(p: Place & { at: "tree" }, size: number, room: number): number {
    const n = p.node;
    if (!n) return E.ENOENT;
    if (n.kind === KIND.dir) return E.EISDIR;
    if (n.kind !== KIND.file || size < 0) return E.EINVAL;
    if (size > FILE_MAX) return E.EFBIG;
    const delta = bytesWords(size) - bytesWords(n.data.length);
    if (this.grow(delta, room) < 0) return E.ENOSPC;
    const bytes = size === 0 ? NO_BYTES : new Uint8Array(size);
    if (size > 0) bytes.set(size >= n.data.length ? n.data : n.data.subarray(0, size));
    n.data = bytes;
    return 0;
  }

  /** Creates a directory (its parent must exist); an existing directory is fine. */
  mkdir(p: Place & { at: "tree" }, room: number): number {
    if (p.node) return p.node.kind === KIND.dir ? 0 : E.EEXIST;
    if (p.parent === null) return 0;
    const node: DirNode = { kind: KIND.dir, mode: DIR_MODE, entries: new Map() };
    if (this.grow(nodeWords(p.name, node), room) < 0) return E.ENOSPC;
    p.parent.entries.set(p.name, node);
    return 0;
  }

  symlink(p: Place & { at: "tree" }, target: string, room: number): number {
    if (p.parent === null || p.node) return E.EEXIST;
    if (target.length === 0 || target.length > PATH_MAX || target.includes("\0")) return E.EINVAL;
    const node: LinkNode = { kind: KIND.link, mode: LINK_MODE, target };
    if (this.grow(nodeWords(p.name, node), room) < 0) return E.ENOSPC;
    p.parent.entries.set(p.name, node);
    return 0;
  }

  remove(p: Place & { at: "tree" }): number {
    const n = p.node;
    if (p.parent === null) return E.EBUSY;
    if (!n) return E.ENOENT;
    if (n.kind === KIND.dir && n.entries.size > 0) return E.ENOTEMPTY;
    p.parent.entries.delete(p.name);
    this.words -= nodeWords(p.name, n);
    return 0;
  }

  /** POSIX rename: a file or link replaces a non-directory; a directory replaces an empty directory, never its own descendant. */
  rename(a: Place & { at: "tree" }, b: Place & { at: "tree" }, room: number): number {
    const n = a.node;
    if (a.parent === null || b.parent === null) return E.EBUSY;
    if (!n) return E.ENOENT;
    if (a.path === b.path) return 0;
    if (n.kind === KIND.dir && pathWithin(b.path, a.path)) return E.EINVAL;
    const old = b.node;
    if (old) {
      if (old.kind === KIND.dir && n.kind !== KIND.dir) return E.EISDIR;
      if (old.kind !== KIND.dir && n.kind === KIND.dir) return E.ENOTDIR;
      if (old.kind === KIND.dir && old.entries.size > 0) return E.ENOTEMPTY;
    }
    const delta = textWords(b.name) - textWords(a.name) - (old ? subtreeWords(b.name, old) : 0);
    if (this.grow(delta, room) < 0) return E.ENOSPC;
    a.parent.entries.delete(a.name);
    b.parent.entries.set(b.name, n);
    return 0;
  }

  chmod(p: Place & { at: "tree" }, mode: number): number {
    const n = p.node;
    if (!n) return E.ENOENT;
    if (mode < 0 || mode > MODE_MASK) return E.EINVAL;
    n.mode = mode;
    return 0;
  }

  /** [kind, size, mode] of a node (size: bytes of a file, characters of a link's target, 0 for a directory). */
  info(p: Place & { at: "tree" }): [number, number, number] | number {
    const n = p.node;
    if (!n) return E.ENOENT;
    const size = n.kind === KIND.file ? n.data.length : n.kind === KIND.dir ? 0 : n.target.length;
    return [n.kind, size, n.mode];
  }

  /** A directory's entries sorted by name (mount points directly below it included, as directories). */
  list(p: Place & { at: "tree" }, mounts: readonly string[] = []): [string, NodeKind][] | number {
    const n = p.node;
    if (!n) return E.ENOENT;
    if (n.kind !== KIND.dir) return E.ENOTDIR;
    const out = new Map<string, NodeKind>();
    for (const [k, c] of n.entries) out.set(k, c.kind);
    const prefix = p.path === "/" ? "/" : p.path + "/";
    for (const m of mounts) if (m.startsWith(prefix) && !m.slice(prefix.length).includes("/")) out.set(m.slice(prefix.length), KIND.dir);
    return [...out.entries()].sort((x, y) => byName(x[0], y[0]));
  }

  readlink(p: Place & { at: "tree" }): string | number {
    const n = p.node;
    if (!n) return E.ENOENT;
    return n.kind === KIND.link ? n.target : E.EINVAL;
  }

  /** Every node below the root with its path, parents before children, names in code-unit order. */
  *walk(dir: DirNode = this.root, prefix = ""): Generator<[string, Node]> {
    for (const name of [...dir.entries.keys()].sort(byName)) {
      const n = dir.entries.get(name) as Node;
      const path = `${prefix}/${name}`;
      yield [path, n];
      if (n.kind === KIND.dir) yield* this.walk(n, path);
    }
  }

  /** Replaces everything below the root (an import); the words it now costs. */
  replaceWith(other: FileTree): void {
    this.root.entries.clear();
    for (const [k, v] of other.root.entries) this.root.entries.set(k, v);
    this.root.mode = other.root.mode;
    this.words = other.words;
  }

  /**
   * Adds one node at a normalized path whose parent exists (building a tree
   * from a walk, parents first); false if the path is not a fresh child of a directory.
   */
  add(path: string, node: Node): boolean {
    const segs = pathSegments(path);
    if (typeof segs === "number" || segs.length === 0 || segs.includes("..")) return false;
    const parent = this.dirAt(segs.slice(0, -1));
    const name = segs[segs.length - 1];
    if (!parent || parent.entries.has(name)) return false;
    parent.entries.set(name, node);
    this.words += nodeWords(name, node);
    return true;
  }
}
