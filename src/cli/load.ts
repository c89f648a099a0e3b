// Reading program files by their ending: .rasm, .rmod, .ent. Every failure
// is a RarError naming the file.

import { decodeBundle, type Module } from "../vm/module.js";
import { verify, verifyBundle } from "../vm/verify.js";
import { UsageError } from "./exit.js";
import { readInput, readSourceText, verifiedIn } from "./read.js";

export interface LoadedProgram {
  module: Module;
  /** Modules the entry module links (untrusted imports), each once. */
  linked: Module[];
  /** Source texts by file name, for disassembly with source lines. */
  sources: Map<string, string>;
}

export function extensionOf(file: string): string {
  const m = /\.[^./\\]+$/.exec(file);
  return m ? m[0].toLowerCase() : "";
}

/** Loads a program by its ending. Async so the Ent compiler and the assembler load only for their own files (start-up time). */
export async function loadProgram(file: string): Promise<LoadedProgram> {
  const ext = extensionOf(file);
  switch (ext) {
    case ".rasm": {
      const text = readSourceText(file);
      const { assemble } = await import("../../lang/asm.js");
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

/**
 * An image keeps the limits it ran under: --gas/--mem given to run or trace
 * with an image would be silently ignored, so they are refused (resume adds to them).
 */
export function refuseImageLimits(command: { getOptionValueSource(name: string): string | undefined }, file: string): void {
  if (extensionOf(file) !== ".rimg") return;
  const given = ["gas", "mem"].find((name) => command.getOptionValueSource(name) === "cli");
  if (given !== undefined) throw new UsageError(`--${given} sets a new program's limit; an image keeps its own (rar resume IMAGE --${given} N adds to it)`, file);
}
