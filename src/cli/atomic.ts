// Atomic file replacement (DESIGN §6): write a temporary file in the target's
// directory, flush it to disk, then rename it over the target. A crash at any
// point leaves either the old file or the new one, never a torn one.

import { accessSync, closeSync, constants, fsyncSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { RarError } from "../vm/errors.js";
import { kindOf } from "../caps/hostfile.js";
import { UsageError, fsReason } from "./exit.js";

let counter = 0;

function cannotWrite(path: string, why: string): never {
  throw new RarError("io.write", `cannot write: ${why}`, path);
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

function realOrResolved(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/** Whether two paths name the same file (through links, or textually when it does not exist yet). */
export function sameFile(a: string, b: string): boolean {
  return realOrResolved(a) === realOrResolved(b);
}

/** Where `rar run FILE` writes its image: --out, else ./<stem>.rimg — never FILE itself (then ./<stem>.out.rimg). */
export function runImagePath(input: string, out: string | undefined): string {
  if (out !== undefined) {
    if (sameFile(out, input)) throw new UsageError("rar run never overwrites its input; use rar resume to continue an image in place", out);
    return out;
  }
  const stem = basename(input).replace(/\.[^.]*$/, "") || "out";
  const plain = `./${stem}.rimg`;
  return sameFile(plain, input) ? `./${stem}.out.rimg` : plain;
}

/** One of a command's own files, with what it is to the command ("the image the command writes"); undefined: a flag not given. */
export type OwnFile = readonly [path: string | undefined, role: string];

/**
 * checkWritable, and refuses `out` when it is one of the other files the
 * command reads or writes: writing it would destroy what the user had.
 */
export function checkOutput(out: string, others: readonly OwnFile[], flag: string): void {
  checkWritable(out);
  for (const [o, role] of others) if (o !== undefined && sameFile(out, o)) throw new UsageError(`${flag} ${out} is also ${role}; give another file`, out);
}

/**
 * Refuses a path writeFileAtomic could not replace, before any work whose
 * result would go there: the directory must exist and be writable, and the
 * path must not be a directory or a read-only file. The error names `path`
 * as the user gave it.
 */
export function checkWritable(path: string): void {
  if (path === "") throw new UsageError("an empty file name was given for a file to write");
  if (/[\\/]$/.test(path)) cannotWrite(path, "a file name cannot end with a slash");
  const dir = dirname(path);
  let target: Stats | null;
  try {
    const d = statOrNull(dir);
    if (d === null) cannotWrite(path, `no such directory '${dir}'`);
    if (!d.isDirectory()) cannotWrite(path, `'${dir}' is not a directory`);
    target = statOrNull(path);
  } catch (e) {
    if (e instanceof RarError) throw e;
    if ((e as NodeJS.ErrnoException).code === "ENOTDIR") cannotWrite(path, `'${dir}' is not a directory`);
    cannotWrite(path, fsReason(e));
  }
  if (target?.isDirectory()) cannotWrite(path, "is a directory");
  notSpecial(path, target);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    cannotWrite(path, `directory '${dir}' is not writable`);
  }
  if (target !== null) {
    try {
      accessSync(path, constants.W_OK);
    } catch {
      cannotWrite(path, "the file is read-only");
    }
  }
}

/**
 * Refuses a target that exists and is neither a regular file nor a
 * directory (checked apart): the rename would replace a device, FIFO or
 * socket (`--out /dev/null` run as root replaced /dev/null itself with a
 * regular file), and writing into one instead could block or go anywhere.
 */
function notSpecial(path: string, target: Stats | null): void {
  // Said as a read of it says it (resume IMAGE reads and writes the one file).
  if (target !== null && !target.isFile() && !target.isDirectory()) throw new RarError("io.write", `${kindOf(target)}, not a regular file`, path);
}

/** Writes `bytes` to `path` atomically; a failure is a RarError naming `path` (never the temporary file). */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  let target: Stats | null = null;
  try {
    target = statOrNull(path);
  } catch {
    // Unreadable: the write below fails and says why.
  }
  notSpecial(path, target);
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${counter++}.tmp`);
  let fd = -1;
  try {
    fd = openSync(tmp, "wx", 0o644);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // The temporary file was never created or is already gone.
    }
    checkWritable(path); // the most telling reason, when it is one of those
    cannotWrite(path, fsReason(e));
  }
  // Make the rename itself durable where the platform allows it.
  try {
    const d = openSync(dir, "r");
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    // Directories cannot be opened or synced on some platforms; the rename is still atomic.
  }
}
