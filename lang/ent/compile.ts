// The compiler's entry: a main file and what it imports -> code modules.
// Trusted imports (`import "x.ent" as x`) join the importing module; each
// untrusted import (`import untrusted "x.ent" as x`) becomes a module of its
// own, compiled once, linked by digest, and reachable only through SPAWNX.
// File access goes through the given readFile, so the compiler never touches
// the host by itself.
//
// Trusted imports are loaded with an explicit stack (a chain of a thousand
// files needs no JS stack); untrusted imports compile their module first, so
// their chain is bounded by MAX_UNTRUSTED_DEPTH.

import type { FnInfo, LibFn } from "./ast.js";
import { Checker, type LibInfo, type Unit } from "./check.js";
import { generate } from "./codegen.js";
import { Sources, type Pos } from "./errors.js";
import { parse } from "./parser.js";
import { frozen } from "./types.js";
import { RarError } from "../../src/vm/errors.js";
import { digestBytes, encodeModule, type ModuleDef } from "../../src/vm/module.js";

/**
 * Deepest chain of untrusted imports (main imports a, which imports b, ...):
 * each level compiles its module before the one importing it.
 */
export const MAX_UNTRUSTED_DEPTH = 64;

export interface CompiledProgram {
  /** The entry module first, then every untrusted import's module, each once. */
  readonly modules: ModuleDef[];
  /** Source texts by file name (the names the source maps use). */
  readonly sources: Map<string, string>;
}

/**
 * Compiles an Ent program. `readFile` is given paths relative to the current
 * directory, built from mainFile and the import strings ('/'-separated).
 * Throws a CompileError (a RarError of phase "compile") on the first error.
 */
export function compileProgram(mainFile: string, readFile: (path: string) => string): CompiledProgram {
  const c = new Compiler(readFile);
  const entry = c.entry(mainFile);
  return { modules: [entry.def, ...c.libModules], sources: c.sources.entries() };
}

/** Compiles a single source text (no imports possible beyond `files`); for tests and tools. */
export function compileSource(source: string, file = "main.ent", files: Record<string, string> = {}): CompiledProgram {
  const all: Record<string, string> = { ...files, [file]: source };
  return compileProgram(file, (p) => {
    if (!Object.prototype.hasOwnProperty.call(all, p)) throw new RarError("io.read", "no such file", p);
    return all[p];
  });
}

/** '/'-separated path of `spec` relative to the directory of `from`. */
export function resolvePath(from: string, spec: string): string {
  const slash = from.lastIndexOf("/");
  const joined = spec.startsWith("/") || slash < 0 ? spec : `${from.slice(0, slash)}/${spec}`;
  const out: string[] = [];
  for (const part of joined.split("/")) {
    if (part === "." || (part === "" && out.length > 0)) continue;
    if (part === ".." && out.length > 0 && out[out.length - 1] !== ".." && out[out.length - 1] !== "") out.pop();
    else out.push(part);
  }
  return out.join("/") || ".";
}

function stem(file: string): string {
  return file.replace(/^.*\//, "").replace(/\.ent$/, "") || "module";
}

interface Lib {
  readonly info: LibInfo;
  readonly def: ModuleDef;
}

class Compiler {
  readonly sources = new Sources();
  readonly libModules: ModuleDef[] = [];
  private readonly libs = new Map<string, Lib>();
  private readonly compiling = new Set<string>();

  constructor(private readonly readFile: (path: string) => string) {}

  private read(file: string, from: Pos | undefined): string {
    if (from === undefined) return this.readFile(file);
    try {
      return this.readFile(file);
    } catch (e) {
      if (e instanceof RarError && e.phase === "io") {
        const why = e.message.replace(`${e.where ?? ""}: `, "");
        throw this.sources.error(from, `cannot read imported file '${file}' (${why})`);
      }
      throw e;
    }
  }

  /** Compiles the module whose main file is `file`. */
  module(
    file: string,
    isEntry: boolean,
    from: Pos | undefined,
  ): { def: ModuleDef; exported: FnInfo[]; entries: ReadonlyMap<string, number> } {
    const units: Unit[] = [];
    const byPath = new Map<string, Unit>();
    const prefixes = new Set<string>();
    const open = (path: string, prefix: string, at: Pos | undefined): Unit => {
      // A byte order mark some editors write at the start is not part of the program.
      const raw = this.read(path, at);
      const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
      this.sources.set(path, text);
      const ast = parse(text, path);
      let p = prefix;
      for (let n = 2; prefixes.has(p); n++) p = `${prefix.slice(0, -1)}${n}.`;
      prefixes.add(p);
      const unit: Unit = { file: path, ast, prefix: p, imports: new Map(), fns: new Map(), consts: new Map() };
      units.push(unit);
      byPath.set(path, unit);
      return unit;
    };
    // Depth first, a file's imports in order: units come in the order a recursive load would give them.
    const loading: { unit: Unit; next: number }[] = [{ unit: open(file, "", from), next: 0 }];
    while (loading.length > 0) {
      const top = loading[loading.length - 1];
      const { unit } = top;
      const decls = unit.ast.decls;
      if (top.next === decls.length) {
        loading.pop();
        continue;
      }
      const d = decls[top.next++];
      if (d.kind !== "import") continue;
      if (unit.imports.has(d.alias)) throw this.sources.error(d.pos, `import name '${d.alias}' is already used`);
      const target = resolvePath(unit.file, d.path);
      if (d.untrusted) {
        unit.imports.set(d.alias, { kind: "lib", lib: this.lib(target, d.pos).info });
        continue;
      }
      let imported = byPath.get(target);
      if (!imported) {
        imported = open(target, `${stem(target)}.`, d.pos);
        loading.push({ unit: imported, next: 0 });
      }
      unit.imports.set(d.alias, { kind: "unit", unit: imported });
    }
    const checked = new Checker(units, this.sources, isEntry).check();
    const exported = isEntry ? [] : [...units[0].fns.values()].filter((f) => !f.isMain);
    const gen = generate(stem(file), checked, this.sources, exported);
    return { def: gen.def, exported, entries: gen.entries };
  }

  /** The program's entry module; importing it back as untrusted is a cycle. */
  entry(file: string): { def: ModuleDef } {
    this.compiling.add(resolvePath("", file));
    return this.module(file, true, undefined);
  }

  /** The module of an untrusted import, compiled once per path. */
  private lib(path: string, at: Pos): Lib {
    const known = this.libs.get(path);
    if (known) return known;
    if (this.compiling.has(path)) throw this.sources.error(at, `untrusted imports form a cycle through '${path}'`);
    if (this.compiling.size > MAX_UNTRUSTED_DEPTH)
      throw this.sources.error(at, `untrusted imports nested deeper than ${MAX_UNTRUSTED_DEPTH} modules`);
    this.compiling.add(path);
    const { def, exported, entries } = this.module(path, false, at);
    this.compiling.delete(path);
    if (exported.length === 0) throw this.sources.error(at, `untrusted import '${path}' has no functions to call`);
    const fns = new Map<string, LibFn>();
    for (const f of exported)
      fns.set(f.decl.name, {
        name: f.decl.name,
        entry: entries.get(f.decl.name) as number,
        params: f.params.map((p) => frozen(p.ty)),
        result: frozen(f.result),
      });
    const lib: Lib = { info: { name: stem(path), digest: digestBytes(encodeModule(def)), fns }, def };
    this.libs.set(path, lib);
    this.libModules.push(def);
    return lib;
  }
}
