// Reading program files by their ending: .rasm, .rmod, .ent. Every failure
// is a RarError naming the file.

import { readFileSync } from "node:fs";
import { assemble } from "../../lang/asm.js";
import { RarError } from "../vm/errors.js";
import { decodeBundle, type Module } from "../vm/module.js";
import { verify, verifyBundle } from "../vm/verify.js";
import { UsageError, fsReason } from "./exit.js";

export interface LoadedProgram {
  module: Module;
  /** Modules the entry module links (untrusted imports), each once. */
  linked: Module[];
  /** Source texts by file name, for disassembly with source lines. */
  sources: Map<string, string>;
}

export function readInput(file: string): Buffer {
  if (file === "") throw new UsageError("an empty file name was given for a file to read");
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RarError("io", "read", code === "ENOENT" ? "no such file" : fsReason(e), file);
  }
}

/** Runs the verifier so that what it refuses also names the file (its own messages name function and pc). */
export function verifiedIn<T>(file: string, verifyIt: () => T): T {
  try {
    return verifyIt();
  } catch (e) {
    if (e instanceof RarError && e.phase === "verify" && !e.message.startsWith(`${file}:`)) throw new RarError(e.phase, e.kind, e.message, file);
    throw e;
  }
}

export function extensionOf(file: string): string {
  const m = /\.[^./\\]+$/.exec(file);
  return m ? m[0].toLowerCase() : "";
}

/** Loads a program by its ending. Async so the Ent compiler is only loaded for .ent files (start-up time). */
export async function loadProgram(file: string): Promise<LoadedProgram> {
  const ext = extensionOf(file);
  switch (ext) {
    case ".rasm": {
      const text = readInput(file).toString("utf8");
      const module = assemble(text, file);
      return { module: verifiedIn(file, () => verify(module)), linked: [], sources: new Map([[file, text]]) };
    }
    case ".ent":
      return (await import("./ent-commands.js")).loadEnt(file);
    case ".rmod": {
      const defs = decodeBundle(readInput(file), file);
      const [module, ...linked] = verifiedIn(file, () => verifyBundle(defs, file));
      return { module, linked, sources: new Map() };
    }
    default:
      throw new UsageError(`unsupported file type '${ext || "(none)"}' (expected .ent, .rasm or .rmod)`, file);
  }
}
