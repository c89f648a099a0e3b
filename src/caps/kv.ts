// The host-side key-value store behind kv.get / kv.put. Keys are text (the
// guest passes code points); values are arrays of words. Optionally backed by
// a JSON file `{"key": [words...]}`, rewritten atomically (temporary file,
// then rename) after every put, keys sorted so the file is canonical.
//
// A scoped grant (`kv.get:app`) only reaches keys inside its scope: the key
// equal to the scope or starting with `scope/`, read literally, at every
// level of the caller's chain. A key with a `.` or `..` segment is refused.

import { renameSync, writeFileSync } from "node:fs";
import { TEXT_FILE_MAX, readRegularFile } from "./hostfile.js";
import { RarError } from "../vm/errors.js";
import { codePointsToText, type CapContext, type CapHandler, type CapValue } from "./registry.js";
import { BUILTIN_SIGNATURES } from "./signatures.js";

/** Longest key, in code points; largest value, in words. */
export const KV_KEY_MAX = 1024;
export const KV_VALUE_MAX = 1 << 20;

export class KvStore {
  /** Made at the first put (a session that never uses the store makes none). */
  private values: Map<string, Int32Array> | null = null;
  private get map(): Map<string, Int32Array> {
    return (this.values ??= new Map<string, Int32Array>());
  }

  /** A store, loaded from `file` when given and it exists. */
  constructor(readonly file?: string) {
    if (file === undefined) return;
    let text: string;
    try {
      text = readRegularFile(file, { max: TEXT_FILE_MAX }).toString("utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw new RarError("policy.kv_file", `cannot read the kv store (${(e as Error).message})`, file);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new RarError("policy.kv_file", "the kv store is not valid JSON", file);
    }
    if (typeof data !== "object" || data === null || Array.isArray(data))
      throw new RarError("policy.kv_file", 'the kv store must be an object {"key": [words...]}', file);
    for (const key of Object.keys(data).sort()) {
      const v = (data as Record<string, unknown>)[key];
      if (!Array.isArray(v) || v.length > KV_VALUE_MAX || !v.every((w) => Number.isInteger(w) && w >= -0x80000000 && w <= 0xffffffff))
        throw new RarError("policy.kv_file", `value of key '${key}' must be an array of 32-bit integers`, file);
      this.map.set(key, Int32Array.from(v as number[]));
    }
  }

  /** A copy of the value under `key`; one longer than `max` words is refused before it is copied. */
  get(key: string, max = Infinity): Int32Array | undefined {
    const v = this.map.get(key);
    if (v && v.length > max) throw new Error(`result of ${v.length} words exceeds memory headroom`);
    return v?.slice();
  }

  put(key: string, value: Int32Array): void {
    this.map.set(key, value.slice());
    if (this.file !== undefined) this.save(this.file);
  }

  /** Keys, sorted. */
  keys(): string[] {
    return this.values === null ? [] : [...this.values.keys()].sort();
  }

  private save(file: string): void {
    const obj: Record<string, number[]> = {};
    for (const k of this.keys()) obj[k] = Array.from(this.map.get(k) as Int32Array);
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(obj) + "\n");
    renameSync(tmp, file);
  }
}

/**
 * Whether `key` lies in the kv scope `scope`, read literally: the key itself
 * or below it (`app` holds `app` and `app/x`, never `application`); the empty
 * scope (an unscoped grant) holds every key.
 */
function keyWithin(key: string, scope: string): boolean {
  return scope === "" || key === scope || key.startsWith(scope.endsWith("/") ? scope : scope + "/");
}

/**
 * The text key a call passes, checked against every level of the caller's
 * chain (DESIGN §4). A key is a name, never a path to resolve: one with a
 * `.` or `..` segment is refused, so that no reading of it places it
 * elsewhere (`other/../app/x` is in `other/` as the store's file shows it).
 */
function keyOf(v: CapValue, ctx: CapContext): string {
  const a = v as Int32Array;
  if (a.length > KV_KEY_MAX) throw new Error(`key longer than ${KV_KEY_MAX} characters`);
  const key = codePointsToText(a);
  if (key.includes("\uFFFD")) throw new Error("key is not valid text");
  if (key.split("/").some((s) => s === "." || s === "..")) throw new Error(`key '${key}' has a . or .. segment: a key is a name, not a path`);
  if (!ctx.chain.every((level) => level.some((s) => keyWithin(key, s)))) throw new Error(`key '${key}' is outside the granted scope`);
  return key;
}

/** kv.get (missing keys read as the empty array) and kv.put over one store. */
export function kvHandlers(store: KvStore): Record<string, CapHandler> {
  return {
    "kv.get": {
      sig: BUILTIN_SIGNATURES["kv.get"],
      call: (args, ctx) => store.get(keyOf(args[0], ctx), ctx.maxWords) ?? new Int32Array(0),
    },
    "kv.put": {
      sig: BUILTIN_SIGNATURES["kv.put"],
      call: (args, ctx) => {
        const key = keyOf(args[0], ctx);
        const value = args[1] as Int32Array;
        if (value.length > KV_VALUE_MAX) throw new Error(`value longer than ${KV_VALUE_MAX} words`);
        store.put(key, value);
        return 0;
      },
    },
  };
}
