// Atomic file replacement (DESIGN §6): write a temporary file in the target's
// directory, flush it to disk, then rename it over the target. A crash at any
// point leaves either the old file or the new one, never a torn one.

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { RarError } from "../vm/errors.js";

let counter = 0;

export function writeFileAtomic(path: string, bytes: Uint8Array): void {
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
    throw new RarError("io", "write", (e as Error).message.replace(/^[A-Z]+: /, ""), path);
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
