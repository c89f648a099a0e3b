// The machine's code: verified modules shared by digest, the modules a
// module links (SPAWNX), and code a guest makes (SPAWNC) verified once and
// kept in a small bounded cache.

import { RarError } from "../vm/errors.js";
import { decodeModule, type Module } from "../vm/module.js";
import { verify } from "../vm/verify.js";

/** Modules made by SPAWNC kept for reuse. */
const CODE_CACHE = 64;

export class CodeCache {
  /** Verified modules by digest, shared by every process that runs them (host-loaded and linked). */
  readonly modules = new Map<string, Module>();
  /** Recently verified SPAWNC code, by digest (bounded, insertion order): made at the first SPAWNC. */
  private spawned: Map<string, Module> | null = null;
  /** The module whose links `linkedModules` resolves (see linked()). */
  private linksOf: Module | null = null;
  private linkedModules: Module[] = [];

  /** Registers a verified module so processes share it. */
  intern(m: Module): Module {
    const known = this.modules.get(m.digest);
    if (known) return known;
    this.modules.set(m.digest, m);
    return m;
  }

  /**
   * Link i of module m, if loaded. The modules of the last module that
   * spawned through its links are remembered by index (only those found: a
   * digest, once in the shared map, always names the same module).
   */
  linked(m: Module, i: number): Module | undefined {
    if (this.linksOf !== m) {
      this.linksOf = m;
      this.linkedModules = [];
    }
    let found: Module | undefined = this.linkedModules[i];
    if (found === undefined) {
      found = this.modules.get((m.links ?? [])[i]);
      if (found) this.linkedModules[i] = found;
    }
    return found;
  }

  /** The verified module of guest code bytes (one byte per word), or why they are not one. */
  load(words: Int32Array): Module | string {
    const bytes = new Uint8Array(words.length);
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      if (w < 0 || w > 255) return `word ${i} is not a byte (${w})`;
      bytes[i] = w;
    }
    try {
      const m = verify(decodeModule(bytes, "spawned code"));
      // Known modules are shared; guest-made code goes to a small bounded cache, never the shared map,
      // so spawning ever-new code cannot pin host memory (processes keep their own reference).
      const spawned = (this.spawned ??= new Map<string, Module>());
      const known = this.modules.get(m.digest) ?? spawned.get(m.digest);
      if (known) return known;
      if (spawned.size >= CODE_CACHE) spawned.delete(spawned.keys().next().value as string);
      spawned.set(m.digest, m);
      return m;
    } catch (e) {
      if (e instanceof RarError) return e.message;
      throw e;
    }
  }
}
