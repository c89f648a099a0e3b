// Ent on the command line: `rar compile SRC [-o OUT]` and the loader of `.ent`
// files used by run and disasm. Compile errors are RarErrors whose message
// carries file:line:col, the source line and a caret (exit 2).

import type { Command } from "commander";
import { compileProgram, type CompiledProgram } from "../../lang/ent/compile.js";
import { encodeBundle, type Module } from "../vm/module.js";
import { verifyBundle } from "../vm/verify.js";
import { sameFile, writeFileAtomic } from "./atomic.js";
import { UsageError } from "./exit.js";
import { readSourceText, verifiedIn } from "./read.js";

/** Compiles an Ent program from disk: the entry module first, then its untrusted imports. */
export function compileEntFile(file: string): CompiledProgram {
  return compileProgram(file, readSourceText);
}

/** Compiles and verifies a `.ent` program for running or disassembly. */
export function loadEnt(file: string): { module: Module; linked: Module[]; sources: Map<string, string> } {
  const { modules, sources } = compileEntFile(file);
  const [module, ...linked] = verifiedIn(file, () => verifyBundle(modules, file));
  return { module, linked, sources };
}

/** Where `rar compile prog.ent` writes by default: prog.rmod next to it. */
export function defaultOutput(src: string): string {
  return /\.ent$/i.test(src) ? src.replace(/\.ent$/i, ".rmod") : `${src}.rmod`;
}

/** Compiles SRC and writes the `.rmod` bundle atomically; returns the path written. */
export function compileToFile(src: string, out = defaultOutput(src)): string {
  if (sameFile(out, src)) throw new UsageError("rar compile never overwrites its source; give another -o", out);
  const { modules } = compileEntFile(src);
  verifiedIn(src, () => verifyBundle(modules, src));
  writeFileAtomic(out, encodeBundle(modules));
  return out;
}

export function addCompileCommand(program: Command, err: (s: string) => void): void {
  program
    .command("compile")
    .description("compile an Ent program (.ent) to a code module bundle (.rmod)")
    .argument("<src>", "Ent source file")
    .option("-o, --out <file>", "where to write the bundle (default: SRC with .rmod)")
    .action((src: string, flags: { out?: string }) => {
      const out = compileToFile(src, flags.out);
      err(`rar: compiled ${src} -> ${out}\n`);
    });
}
