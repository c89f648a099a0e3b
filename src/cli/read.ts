// Reading an input file and verifying what was read in it, so that every
// failure is a RarError naming the file. Below load.ts and the command
// modules, which all read files (load.ts loads ent-commands.ts lazily, which
// reads files too: keeping these here keeps that from being a cycle).

import { readRegularFile } from "../caps/hostfile.js";
import { RarError } from "../vm/errors.js";
import { UsageError, fsReason } from "./exit.js";

/** Reads a whole input file (a regular file: a FIFO or device is refused, never waited on); a missing or unreadable one is a RarError naming it. */
export function readInput(file: string): Buffer {
  if (file === "") throw new UsageError("an empty file name was given for a file to read");
  try {
    return readRegularFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RarError("io.read", code === "ENOENT" ? "no such file" : fsReason(e), file);
  }
}

/** Runs the verifier so that what it refuses also names the file (its own messages name function and pc). */
export function verifiedIn<T>(file: string, verifyIt: () => T): T {
  try {
    return verifyIt();
  } catch (e) {
    if (e instanceof RarError && e.phase === "verify" && !e.message.startsWith(`${file}:`)) throw new RarError(e.key, e.message, file);
    throw e;
  }
}
