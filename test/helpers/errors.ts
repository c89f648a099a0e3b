// The error a call throws: a RarError, an Ent CompileError, or anything (anything else thrown is rethrown; no throw fails the test).

import { compileSource } from "../../lang/ent/compile.js";
import { CompileError } from "../../lang/ent/errors.js";
import { RarError } from "../../src/vm/errors.js";

export function rarErrorOf(f: () => unknown): RarError {
  try {
    f();
  } catch (e) {
    if (e instanceof RarError) return e;
    throw e;
  }
  throw new Error("expected a RarError");
}

/** What f threw, whatever it is (null if nothing). */
export function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return null;
}

/** The CompileError compiling Ent source `src` (as main.ent, with `files` beside it) is rejected with. */
export function compileError(src: string, files: Record<string, string> = {}): CompileError {
  try {
    compileSource(src, "main.ent", files);
  } catch (e) {
    if (e instanceof CompileError) return e;
    throw e;
  }
  throw new Error("compiled without an error");
}
