// Reading an input file and verifying what was read in it, so that every
// failure is a RarError naming the file. Below load.ts and the command
// modules, which all read files (load.ts loads ent-commands.ts lazily, which
// reads files too: keeping these here keeps that from being a cycle).

import { readRegularFile } from "../caps/hostfile.js";
import { RarError } from "../vm/errors.js";
import { UsageError, fsReason } from "./exit.js";

/**
 * Largest source text (.ent, .rasm) in bytes: what the debug part of an image
 * records of a source (image/decode.ts SOURCE_TEXT_MAX). A larger file is
 * refused before it is read, not read whole and then failed in the compiler.
 */
export const SOURCE_BYTES_MAX = 1 << 26;

/**
 * Reads a whole input file (a regular file: a FIFO or device is refused,
 * never waited on; at most `max` bytes, else refused before reading); a
 * missing or unreadable one is a RarError naming it.
 */
export function readInput(file: string, max?: number): Buffer {
  if (file === "") throw new UsageError("an empty file name was given for a file to read");
  try {
    return readRegularFile(file, { max });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RarError("io.read", code === "ENOENT" ? "no such file" : fsReason(e), file);
  }
}

/** Reads a source file's text (at most SOURCE_BYTES_MAX bytes). */
export function readSourceText(file: string): string {
  return readInput(file, SOURCE_BYTES_MAX).toString("utf8");
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
