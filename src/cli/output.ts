// What the CLI writes to stdout and stderr, the program's output included
// (io.print, io.eprint): written synchronously, whole and in order, so nothing
// is pending when the command exits. A reader that has gone away (`rar run
// prog | head -2`: EPIPE; ECONNRESET when the stream is a socket, as a parent
// process's pipe to Node is) or a stream that was closed (`>&-`: EBADF) ends that
// stream's output quietly, as for any Unix filter: the rest is dropped, and the
// command goes on to its usual end and exit code (the guest is not told: what
// it printed was accepted). A non-blocking stream that is full (EAGAIN) is
// waited for. (`rar debug`'s prompt on a terminal goes through readline, and `rar
// gp`'s progress line redraws itself: both keep Node's streams.)
//
// Not process.stdout: for a pipe that is a socket, whose EPIPE is an 'error'
// event nobody handles (a stack trace), and making it loads Node's net and
// stream modules, a tenth of a hello-world run's start.

import { writeSync } from "node:fs";

const STDOUT = 1;
const STDERR = 2;
/** Streams whose reader has gone away, by fd. */
const closed = new Set<number>();
const nap = new Int32Array(new SharedArrayBuffer(4));

function write(fd: number, data: string | Uint8Array): void {
  if (closed.has(fd) || data.length === 0) return;
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  let at = 0;
  while (at < bytes.length) {
    try {
      at += writeSync(fd, bytes, at, bytes.length - at);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") {
        Atomics.wait(nap, 0, 0, 5);
        continue;
      }
      if (code === "EPIPE" || code === "ECONNRESET" || code === "EBADF") {
        closed.add(fd);
        return;
      }
      throw e;
    }
  }
}

/** Writes to stdout (text as UTF-8). */
export function writeOut(data: string | Uint8Array): void {
  write(STDOUT, data);
}

/** Writes to stderr (text as UTF-8). */
export function err(data: string): void {
  write(STDERR, data);
}
