// The file tree part of an image (version 3; spec/image-format.md §4b): the
// files, directories and links the root's process tree owns
// (caps/filetree.ts), in one canonical form:
//
//   files = [ rootMode, [entry...] ]
//   entry = [ path, kind, mode, data ]     kind 1 file (data: bin), 2 directory (nil), 3 link (data: target str)
//
// Entries come parents first, siblings by name in code-unit order (the
// tree's own walk), so one tree has one encoding: the image digest and the
// execution-state digest both cover it. The decoder trusts nothing: every
// path is checked, every parent must already be a directory, and the order
// must be the canonical one.

import { FileTree, KIND, MODE_MASK, PATH_MAX, type Node } from "../caps/filetree.js";
import { RarError } from "../vm/errors.js";
import { WireWriter, join, unpackChecked } from "./wire.js";

/** Writes the tree's part. */
export function writeFiles(w: WireWriter, tree: FileTree): void {
  const entries = [...tree.walk()];
  w.array(2).int(tree.root.mode).array(entries.length);
  for (const [path, n] of entries) {
    w.array(4).str(path).int(n.kind).int(n.mode);
    if (n.kind === KIND.file) w.bin(n.data);
    else if (n.kind === KIND.link) w.str(n.target);
    else w.nil();
  }
}

/** The canonical bytes of the tree's part (what the execution-state digest covers, and an import event carries). */
export function filesBytes(tree: FileTree): Uint8Array {
  const w = new WireWriter();
  writeFiles(w, tree);
  return join(w.parts(), w.length());
}

/** Reads a decoded files part (untrusted). `fail` names what is wrong and where. */
export function readFiles(x: unknown, fail: (message: string, at: string) => never): FileTree {
  if (!Array.isArray(x) || x.length !== 2) fail("expected [rootMode, [entry...]]", "files");
  const [rootMode, list] = x as [unknown, unknown];
  const mode = (v: unknown, at: string): number => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > MODE_MASK) fail(`expected permission bits 0..0o777`, at);
    return v as number;
  };
  const tree = new FileTree();
  tree.root.mode = mode(rootMode, "files root mode");
  if (!Array.isArray(list)) fail("expected a list of entries", "files");
  const paths: string[] = [];
  for (let i = 0; i < (list as unknown[]).length; i++) {
    const at = `files entry ${i}`;
    const e = (list as unknown[])[i];
    if (!Array.isArray(e) || e.length !== 4) fail("expected [path, kind, mode, data]", at);
    const [path, kind, m, data] = e as unknown[];
    if (typeof path !== "string" || path.length > PATH_MAX) fail("expected a path", at);
    let node: Node;
    if (kind === KIND.file && data instanceof Uint8Array) node = { kind: KIND.file, mode: mode(m, at), data: Uint8Array.from(data) };
    else if (kind === KIND.dir && data === null) node = { kind: KIND.dir, mode: mode(m, at), entries: new Map() };
    else if (kind === KIND.link && typeof data === "string" && data.length > 0 && data.length <= PATH_MAX && !data.includes("\0"))
      node = { kind: KIND.link, mode: mode(m, at), target: data };
    else fail("expected kind 1 with bytes, 2 with nil or 3 with a target", at);
    if (!tree.add(path as string, node as Node)) fail(`'${(path as string).slice(0, 100)}' is not a new entry of an existing directory`, at);
    paths.push(path as string);
  }
  // One tree, one encoding: the entries are in the tree's own order.
  let i = 0;
  for (const [p] of tree.walk()) if (p !== paths[i++]) fail("entries are not in canonical order (parents first, names sorted)", `files entry ${i - 1}`);
  return tree;
}

/** Nesting the files part needs (it is flat). */
const FILES_NESTING = 4;

/** A tree from its canonical bytes (an import event's), or a RarError naming `where`. */
export function filesFromBytes(bytes: Uint8Array, where: string): FileTree {
  return readFiles(unpackChecked(bytes, FILES_NESTING, where), (message, at) => {
    throw new RarError("image.shape", message, `${where}: ${at}`);
  });
}
