// `rar fs IMAGE ls [PATH] | cat PATH | export DIR | import DIR` (CLI.md "Host
// surface"): the file tree a process tree holds in its image, read or
// replaced from outside.
//
// - ls and cat read the tree as the image holds it (links followed inside
//   the tree; a mount point is shown, its files are the host's).
// - export writes the tree into a new host directory, built beside it and
//   renamed into place (nothing half-written is left under DIR). Links
//   become relative host links that stay inside DIR.
// - import replaces the tree with a host directory's regular files,
//   directories and relative links, and records that as a host event
//   (fs_import) in the trace, so a replay and an audit see the same files
//   the resumed run does. The image is replaced atomically (or --out).

import type { Command } from "commander";
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, opendirSync, openSync, readlinkSync, renameSync, rmSync, chmodSync, symlinkSync, writeFileSync, existsSync, type Stats } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { FILE_MODE, FileTree, bytesWords, KIND, KIND_LETTER, LINK_MODE, NAME_MAX, PATH_MAX, normalizePath, nodeWords, type Node } from "../caps/filetree.js";
import { readRegularFile } from "../caps/hostfile.js";
import { decodeImage, type DecodedImage } from "../image/decode.js";
import { encodeImage } from "../image/encode.js";
import { filesBytes } from "../image/files.js";
import { raiseLimits } from "../process/scheduler.js";
import { traceFromWire } from "../trace/decode.js";
import { traceToWire } from "../trace/store.js";
import { mountPointsOf } from "../trace/replay.js";
import { RarError } from "../vm/errors.js";
import { bytesToInt32 } from "../vm/module.js";
import { checkOutput, writeFileAtomic } from "./atomic.js";
import { parseCount } from "./args.js";
import { EXIT, UsageError, fsReason } from "./exit.js";
import { readInput } from "./read.js";
import { err, writeOut } from "./output.js";

function load(file: string): DecodedImage {
  return decodeImage(readInput(file), { where: file });
}

/** The image's mount points (recorded in its start event's policy). */
function mountsOf(img: DecodedImage, file: string): string[] {
  const trace = traceFromWire(img.meta.trace, `${file}: trace`);
  const first = trace.length > 0 ? trace.at(0) : null;
  return first?.kind === "start" ? mountPointsOf(first.policy) : [];
}

function treeOf(img: DecodedImage): FileTree {
  return img.root.files ?? new FileTree();
}

function guestPath(raw: string, file: string): string {
  const p = normalizePath(raw.startsWith("/") ? raw : "/" + raw);
  if (typeof p === "number") throw new UsageError(`'${raw.slice(0, 100)}' is not a path in the file tree`, file);
  return p;
}

const ERROR_TEXT: Readonly<Record<number, string>> = { [-2]: "no such file or directory", [-20]: "a path segment is not a directory", [-40]: "too many links", [-36]: "name too long" };

function notFound(file: string, path: string, code: number): never {
  throw new RarError("usage.cli", `${path}: ${ERROR_TEXT[code] ?? `error ${code}`}`, file);
}

function modeText(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}

function line(name: string, n: Node): string {
  const size = n.kind === KIND.file ? n.data.length : n.kind === KIND.dir ? n.entries.size : n.target.length;
  const link = n.kind === KIND.link ? ` -> ${n.target}` : "";
  return `${KIND_LETTER[n.kind]} ${modeText(n.mode)} ${String(size).padStart(10)} ${name}${link}\n`;
}

function ls(file: string, raw: string | undefined): number {
  const img = load(file);
  const tree = treeOf(img);
  const mounts = mountsOf(img, file);
  const path = guestPath(raw ?? "/", file);
  const place = tree.resolve(path, true, mounts);
  if (typeof place === "number") notFound(file, path, place);
  if (place.at === "mount") {
    writeOut(`m ---- ${"-".padStart(10)} ${place.mount} (mounted from the host when the run resumes)\n`);
    return EXIT.done;
  }
  const n = place.node;
  if (!n) notFound(file, path, -2);
  if (n.kind !== KIND.dir) {
    writeOut(line(path, n));
    return EXIT.done;
  }
  const entries = tree.list(place, mounts);
  if (typeof entries === "number") notFound(file, path, entries);
  for (const [name] of entries) {
    const child = n.entries.get(name);
    writeOut(child ? line(name, child) : `m ---- ${"-".padStart(10)} ${name} (mount point)\n`);
  }
  return EXIT.done;
}

function cat(file: string, raw: string): number {
  const img = load(file);
  const path = guestPath(raw, file);
  const place = treeOf(img).resolve(path, true, mountsOf(img, file));
  if (typeof place === "number") notFound(file, path, place);
  if (place.at === "mount") throw new RarError("usage.cli", `${path} lies in the mount at ${place.mount}: its files are the host's, not the image's`, file);
  const n = place.node;
  if (!n) notFound(file, path, -2);
  if (n.kind === KIND.dir) throw new RarError("usage.cli", `${path} is a directory (rar fs IMAGE ls ${path})`, file);
  if (n.kind !== KIND.file) notFound(file, path, -2);
  writeOut(n.data);
  return EXIT.done;
}

/** A link's target as a relative host path from its directory, kept inside the export (`..` never climbs above the tree's root). */
function hostTarget(linkPath: string, target: string): string {
  const dir = linkPath.slice(0, linkPath.lastIndexOf("/")) || "/";
  const to = normalizePath(target.startsWith("/") ? target : `${dir}/${target}`);
  const dest = typeof to === "number" ? "/" : to;
  return relative(dir, dest) || ".";
}

function exportTree(file: string, dir: string): number {
  const tree = treeOf(load(file));
  if (existsSync(dir)) throw new UsageError(`${dir} already exists: export writes a new directory`, dir);
  const parent = dirname(resolve(dir));
  if (!existsSync(parent)) throw new RarError("io.write", `no such directory '${parent}'`, dir);
  const tmp = join(parent, `.${basename(dir)}.${process.pid}.export`);
  try {
    mkdirSync(tmp, { mode: 0o700 });
    const modes: [string, number][] = [];
    for (const [path, n] of tree.walk()) {
      const at = join(tmp, ...path.split("/").filter((s) => s !== ""));
      if (n.kind === KIND.dir) mkdirSync(at);
      else if (n.kind === KIND.file) writeFileSync(at, n.data, { flag: "wx" });
      else symlinkSync(hostTarget(path, n.target), at);
      if (n.kind !== KIND.link) modes.push([at, n.mode]);
    }
    // Modes last, deepest first: a read-only directory must not stop its own contents from being written.
    for (const [at, mode] of modes.reverse()) chmodSync(at, mode);
    chmodSync(tmp, tree.root.mode);
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (e instanceof RarError) throw e;
    throw new RarError("io.write", `cannot export: ${fsReason(e)}`, dir);
  }
  return EXIT.done;
}

/**
 * The tree of a host directory: regular files, directories and relative
 * links (anything else is refused, naming it). Reading stops once the bytes
 * exceed `maxWords` words of footprint, before more is read.
 *
 * The directory may change while it is read (someone else swaps an entry for
 * a link to elsewhere): each directory is opened without following a link
 * and must be the one lstat saw, its entries are reached through its handle
 * (/proc/self/fd/N/NAME on Linux), and each file is opened without following
 * a link and must be the file lstat saw, at most the bytes that still fit.
 * So what is imported is what lies under DIR, never a file a link leads to.
 */
function readHostTree(dir: string, maxWords: number): FileTree {
  const tree = new FileTree();
  const tooBig = (h: string): RarError =>
    new RarError("usage.cli", `the files need more than the root's memory limit allows (${maxWords} words free): pass --mem N`, h);
  const visit = (reach: string, host: string, guest: string, same: Stats): void => {
    const fd = openSync(reach, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0) | (constants.O_NOFOLLOW ?? 0));
    try {
      const st = fstatSync(fd);
      if (st.dev !== same.dev || st.ino !== same.ino) throw new RarError("io.read", "cannot import: the directory changed while it was read", host);
      const base = handleDir(fd) ?? reach;
      const names: string[] = [];
      const d = opendirSync(base);
      try {
        for (let e = d.readSync(); e !== null; e = d.readSync()) names.push(e.name);
      } finally {
        d.closeSync();
      }
      names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      for (const name of names) {
        const h = join(host, name);
        const at = join(base, name);
        const g = guest === "/" ? `/${name}` : `${guest}/${name}`;
        if (name.length > NAME_MAX || g.length > PATH_MAX) throw new RarError("io.read", "name or path too long for the file tree", h);
        const est = lstatSync(at);
        let node: Node;
        if (est.isDirectory()) node = { kind: KIND.dir, mode: est.mode & 0o777, entries: new Map() };
        else if (est.isFile()) {
          const free = maxWords - tree.words - nodeWords(name, { kind: KIND.file, mode: FILE_MODE, data: new Uint8Array(0) });
          if (bytesWords(est.size) > free) throw tooBig(h);
          let data: Buffer;
          try {
            data = readRegularFile(at, { noFollow: true, same: est, max: Math.max(0, free) * 4 });
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            if (code === "EFBIG") throw tooBig(h);
            if (code === "ELOOP" || code === "ECHANGED") throw new RarError("io.read", "cannot import: the file changed while it was read", h);
            throw e;
          }
          node = { kind: KIND.file, mode: est.mode & 0o777, data: new Uint8Array(data) };
        } else if (est.isSymbolicLink()) {
          const target = readlinkSync(at);
          if (target.startsWith("/")) throw new RarError("io.read", `an absolute link (to ${target.slice(0, 100)}): the file tree holds no host paths`, h);
          node = { kind: KIND.link, mode: LINK_MODE, target };
        } else throw new RarError("io.read", "neither a regular file, a directory nor a link", h);
        tree.add(g, node);
        if (tree.words > maxWords) throw tooBig(h);
        if (node.kind === KIND.dir) visit(at, h, g, est);
      }
    } finally {
      closeSync(fd);
    }
  };
  try {
    const root = lstatSync(dir);
    if (!root.isDirectory()) throw new RarError("io.read", "cannot import: not a directory", dir);
    tree.root.mode = root.mode & 0o777;
    visit(dir, dir, "/", root);
  } catch (e) {
    if (e instanceof RarError) throw e;
    throw new RarError("io.read", `cannot import: ${fsReason(e)}`, dir);
  }
  return tree;
}

/** A path that reaches an open directory itself whatever is renamed meanwhile (Linux), else null. */
function handleDir(fd: number): string | null {
  const p = `/proc/self/fd/${fd}`;
  try {
    return readlinkSync(p).startsWith("/") ? p : null;
  } catch {
    return null;
  }
}

function importTree(file: string, dir: string, flags: { out?: string; mem: number }): number {
  const target = flags.out ?? file;
  checkOutput(target, flags.out !== undefined ? [[file, "the image imported into"]] : [], flags.out !== undefined ? "--out" : "IMAGE");
  const img = load(file);
  const root = img.root;
  const where = `${file}: trace`;
  const trace = traceFromWire(img.meta.trace, where);
  if (trace.length === 0 || trace.at(0).kind !== "start")
    throw new RarError("usage.cli", "the image has no recorded history (a guest snapshot): an import could not be replayed", file);
  const before = root.files?.words ?? 0;
  if (flags.mem > 0) {
    trace.push({ kind: "refuel", gas: 0, mem: flags.mem });
    raiseLimits(root, 0, flags.mem);
  }
  const tree = readHostTree(dir, root.memLimit - (root.memUsed - before));
  const bytes = filesBytes(tree);
  const padded = new Uint8Array((bytes.length + 3) & ~3);
  padded.set(bytes);
  trace.push({ kind: "fs_import", length: bytes.length, files: bytesToInt32(padded) });
  root.memUsed += tree.words - before;
  root.files = tree.empty ? null : tree;
  const byDigest = new Map(img.modules.map((m) => [m.digest, m]));
  writeFileAtomic(target, encodeImage(root, { ...img.meta, trace: traceToWire(trace) }, (d) => byDigest.get(d)));
  err(`rar: imported ${[...tree.walk()].length} entries (${tree.words} words) into ${target}\n`);
  return EXIT.done;
}

/** What each action takes after IMAGE and the action's name: [min, max] arguments, and its usage. */
const ACTIONS: Readonly<Record<string, readonly [number, number, string]>> = {
  ls: [0, 1, "ls [PATH]"],
  cat: [1, 1, "cat PATH"],
  export: [1, 1, "export DIR"],
  import: [1, 1, "import DIR"],
};

/** Registers `fs` (CLI.md: `rar fs IMAGE ls [PATH] | cat PATH | export DIR | import DIR`). */
export function addFsCommand(program: Command): void {
  program
    .command("fs")
    .description("the file tree a process tree holds in its image: ls [PATH] (kind, mode, size, name), cat PATH (to stdout), export DIR (into a new host directory), import DIR (replace the tree before resuming; recorded in the trace)")
    .argument("<image>", "a .rimg")
    .argument("<action>", "ls, cat, export or import")
    .argument("[args...]", "the action's argument")
    .option("--out <image>", "import: write the result here instead of replacing IMAGE")
    .option("--mem <n>", "import: words added to the root's memory limit first (recorded as a refuel)", parseCount("--mem"), 0)
    .action((file: string, action: string, args: string[], flags: { out?: string; mem: number }) => {
      const spec = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
      if (!spec) throw new UsageError(`unknown action '${action}': rar fs IMAGE ls [PATH] | cat PATH | export DIR | import DIR`);
      if (args.length < spec[0] || args.length > spec[1]) throw new UsageError(`usage: rar fs IMAGE ${spec[2]}`);
      if (action !== "import" && (flags.out !== undefined || flags.mem !== 0)) throw new UsageError("--out and --mem are for import only");
      process.exitCode =
        action === "ls" ? ls(file, args[0]) : action === "cat" ? cat(file, args[0]) : action === "export" ? exportTree(file, args[0]) : importTree(file, args[0], flags);
    });
}
