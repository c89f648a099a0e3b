// Reading a file the host names (a program, an image, a policy, a kv store):
// only a regular file, opened without blocking and read to the size fstat
// gives, so a FIFO cannot hang the host and a device (/dev/zero) cannot make
// it allocate without bound. Guest file access has its own, stricter path
// (caps/fs.ts: scopes, no symlinks, sizes against the caller's headroom).

import { constants as bufferConstants } from "node:buffer";
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";

/**
 * Largest file the host reads (an image, a program, a policy, a kv store):
 * 2 GiB - 1, and never more than a Buffer holds. A larger one is refused
 * before anything is allocated.
 */
export const HOST_FILE_MAX = Math.min(0x7fffffff, bufferConstants.MAX_LENGTH);

/** What a file that is not regular is, for messages. */
export function kindOf(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  if (st.isSymbolicLink()) return "a symlink";
  return "not a regular file";
}

/** Largest file read as text (a policy, a kv store): the longest string the host can make of it. */
export const TEXT_FILE_MAX = 0x1fffffe8;

/** Most bytes one read asks for (a read's length is a 32-bit int). */
const CHUNK = 1 << 30;

/** How readRegularFile may be narrowed. */
export interface ReadOptions {
  /** Most bytes the file may hold: a larger one throws (code EFBIG) before anything is allocated. Default and at most HOST_FILE_MAX. */
  readonly max?: number;
  /** Refuse a link as the last segment (code ELOOP) instead of following it. */
  readonly noFollow?: boolean;
  /** The file must be this one (device and inode, from an lstat): else it was swapped meanwhile (code ECHANGED). */
  readonly same?: { readonly dev: number; readonly ino: number };
}

/**
 * The bytes of a regular file. Throws the open's own error (with its errno
 * `code`, e.g. ENOENT) or, for anything but a regular file, an Error with
 * code "ENOTREG" saying what it is; one larger than `max` bytes, EFBIG.
 */
export function readRegularFile(path: string, opts: ReadOptions = {}): Buffer {
  const max = Math.min(opts.max ?? HOST_FILE_MAX, HOST_FILE_MAX);
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (opts.noFollow ? (constants.O_NOFOLLOW ?? 0) : 0));
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      const what = st.isDirectory() ? "is a directory" : `${kindOf(st)}, not a regular file`;
      throw Object.assign(new Error(what), { code: st.isDirectory() ? "EISDIR" : "ENOTREG" });
    }
    if (opts.same && (st.dev !== opts.same.dev || st.ino !== opts.same.ino))
      throw Object.assign(new Error("changed while it was read (another file is there now)"), { code: "ECHANGED" });
    if (st.size > max) throw Object.assign(new Error(`larger than ${max} bytes (${st.size})`), { code: "EFBIG" });
    // Read what fstat promised (a file growing meanwhile is cut there, never read without end).
    const out = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, out, off, Math.min(st.size - off, CHUNK), null);
      if (n === 0) break;
      off += n;
    }
    return off === st.size ? out : out.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}
