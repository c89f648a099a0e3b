// Reading a file the host names (a program, an image, a policy, a kv store):
// only a regular file, opened without blocking and read to the size fstat
// gives, so a FIFO cannot hang the host and a device (/dev/zero) cannot make
// it allocate without bound. Guest file access has its own, stricter path
// (caps/fs.ts: scopes, no symlinks, sizes against the caller's headroom).

import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from "node:fs";

/** What a file that is not regular is, for messages. */
export function kindOf(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  if (st.isSymbolicLink()) return "a symlink";
  return "not a regular file";
}

/**
 * The bytes of a regular file. Throws the open's own error (with its errno
 * `code`, e.g. ENOENT) or, for anything but a regular file, an Error with
 * code "ENOTREG" saying what it is.
 */
export function readRegularFile(path: string): Buffer {
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      const what = st.isDirectory() ? "is a directory" : `${kindOf(st)}, not a regular file`;
      throw Object.assign(new Error(what), { code: st.isDirectory() ? "EISDIR" : "ENOTREG" });
    }
    // Read what fstat promised (a file growing meanwhile is cut there, never read without end).
    const out = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, out, off, st.size - off, null);
      if (n === 0) break;
      off += n;
    }
    return off === st.size ? out : out.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}
