// Host capabilities: typed signatures and handlers. Only words cross the
// boundary: handlers receive copies (numbers and fresh Int32Arrays) and return
// copies, so guest values never alias host objects.

import { scopeWithin } from "./scope.js";
import { familiesScoped, type CapSignature } from "./signatures.js";

export type { CapSignature, ValueType } from "./signatures.js";

export type CapValue = number | Int32Array;

/**
 * Largest array result any capability may bring in, in words, whatever the
 * caller's headroom: a host-side bound on what one call allocates.
 */
export const RESULT_MAX = 1 << 24;

/** Longest grant name (`family:scope`), in code units: what NARROW may make and an image may hold. */
export const GRANT_MAX = 4096;

export interface CapContext {
  /** Process path of the caller ("0.2"). */
  readonly path: string;
  /** Scopes the caller holds for this capability family ("" for an unscoped grant), sorted. */
  readonly scopes: readonly string[];
  /**
   * The family's scopes held by each process on the chain, root first, the
   * caller last (its entry equals `scopes`); for a root restored from an
   * image, the host's own grants come first, above the root. A scoped handler must keep every
   * access inside some scope of every entry (DESIGN §4: a scope is checked
   * against every scope on the chain at the moment of use). Computed when
   * first read, so handlers that do not look pay nothing.
   */
  readonly chain: readonly (readonly string[])[];
  /**
   * Most words an array result may have: what the caller can receive now
   * (its memory headroom plus the inbox the result replaces), at most
   * RESULT_MAX. A handler refuses a larger result before allocating it; the
   * runtime refuses it again on delivery.
   */
  readonly maxWords: number;
  /**
   * The signal of the run the call is made in (Session.runAsync's), if it has
   * one: a handler that waits (a real clock.sleep) stops waiting when it is
   * aborted, so Ctrl-C suspends a run that sleeps instead of waiting it out.
   */
  readonly signal?: AbortSignal;
}

export interface CapHandler {
  readonly sig: CapSignature;
  call(args: CapValue[], ctx: CapContext): CapValue | Promise<CapValue>;
}

/**
 * What a handler returned, as the guest will see it: an int truncated to a
 * word, an array copied. Throws if it is neither (the caller then faults
 * cap_failed instead of the host crashing).
 */
export function normalizeResult(cap: string, r: unknown): CapValue {
  if (typeof r === "number") return r | 0;
  if (r instanceof Int32Array) return r.slice();
  if (ArrayBuffer.isView(r) || Array.isArray(r)) return Int32Array.from(r as ArrayLike<number>);
  throw new Error(`${cap} handler returned neither an int nor an array`);
}

/** Whether two signatures take and give the same types. */
export function sameSig(a: CapSignature, b: CapSignature): boolean {
  return a === b || (a.result === b.result && a.args.length === b.args.length && a.args.every((t, k) => t === b.args[k]));
}

/** Words an argument list occupies on the operand stack: an int is 1, an array is (ptr, len). */
export function argWords(sig: CapSignature): number {
  let n = 0;
  for (const t of sig.args) n += t === "int" ? 1 : 2;
  return n;
}

/** The family of a capability name: `fs.read:/data` -> `fs.read`, `io.print@1` -> `io.print`. */
export function capFamily(name: string): string {
  return canonicalCap(name).replace(/:.*$/, "");
}

/** The scope of a capability name: `fs.read:/data` -> `/data`, `io.print` -> "". */
export function capScope(name: string): string {
  const c = canonicalCap(name);
  const i = c.indexOf(":");
  return i < 0 ? "" : c.slice(i + 1);
}

/** `io.print@1` and `io.print` name the same capability; scopes (`fs.read:/d`) are kept. */
export function canonicalCap(name: string): string {
  // Only a version suffix changes a name (a name without one is its own canonical form, or not a name).
  if (!name.includes("@")) return name;
  const m = /^([a-z][a-z0-9_.]*)(?:@1)?(:.*)?$/.exec(name);
  return m ? m[1] + (m[2] ?? "") : name;
}

/** Whether a grant's scope contains `scope`: the empty scope (an unscoped grant) contains every scope. */
export function scopeCovers(grantScope: string, scope: string): boolean {
  return grantScope === "" || scopeWithin(scope, grantScope);
}

/**
 * Families whose one scope, `:real`, is not a narrowing but the host's real
 * clock or generator instead of the virtual one: only `:real` covers it.
 */
export const REAL_SCOPED: ReadonlySet<string> = familiesScoped("real");

/** Families whose scopes are names matched exactly, never paths (`env.get:HOME` covers only HOME, `net.fetch:http://h:1` only that origin). */
const EXACT_SCOPED: ReadonlySet<string> = new Set([...REAL_SCOPED, ...familiesScoped("key"), ...familiesScoped("origin")]);

/** Whether a set of grants covers `cap`: some grant of the same family whose scope contains cap's scope. */
export function capCovers(held: readonly string[], cap: string): boolean {
  const family = capFamily(cap);
  const scope = capScope(cap);
  const exact = scope !== "" && EXACT_SCOPED.has(family);
  for (const h of held) if (capFamily(h) === family && (exact ? capScope(h) === scope : scopeCovers(capScope(h), scope))) return true;
  return false;
}

/**
 * What a child may keep of `child` grants under a parent holding `parent`:
 * each grant the parent covers, and where the parent holds only a narrower
 * scope of the same family, that narrower scope. Never wider than either.
 */
export function intersectGrants(child: readonly string[], parent: readonly string[]): string[] {
  const out = new Set<string>();
  for (const c of child) {
    if (capCovers(parent, c)) {
      out.add(c);
      continue;
    }
    const family = capFamily(c);
    const scope = capScope(c);
    for (const p of parent) if (capFamily(p) === family && scopeCovers(scope, capScope(p))) out.add(p);
  }
  return [...out].sort();
}

/** Text of code points, as io.print writes it. Invalid code points become U+FFFD. */
export function codePointsToText(a: Int32Array): string {
  let s = "";
  for (let i = 0; i < a.length; i++) {
    const c = a[i];
    s += c >= 0 && c <= 0x10ffff && !(c >= 0xd800 && c <= 0xdfff) ? String.fromCodePoint(c) : "\uFFFD";
  }
  return s;
}

/** Number of code points in a text (a lone surrogate counts as one). */
export function codePointCount(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** Code points of a text (the inverse of codePointsToText for valid text), allocated once at their final size. */
export function textToCodePoints(s: string): Int32Array {
  const out = new Int32Array(codePointCount(s));
  let k = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.codePointAt(i) as number;
    out[k++] = c;
    if (c > 0xffff) i++;
  }
  return out;
}

export class CapRegistry {
  /** Made at the first registration (a restored session's registry is filled only when first read). */
  private map: Map<string, CapHandler> | null = null;
  private get handlers(): Map<string, CapHandler> {
    return (this.map ??= new Map<string, CapHandler>());
  }
  /** names(), kept until a name is added. */
  private sorted: string[] | null = null;

  register(name: string, handler: CapHandler): this {
    const key = canonicalCap(name);
    if (!this.handlers.has(key)) this.sorted = null;
    this.handlers.set(key, handler);
    return this;
  }

  get(name: string): CapHandler | undefined {
    // Callers mostly pass canonical families already: skip the regex then.
    return this.handlers.get(name) ?? this.handlers.get(canonicalCap(name));
  }

  /** Registered names, sorted (never host iteration order). */
  names(): string[] {
    return [...(this.sorted ??= [...this.handlers.keys()].sort())];
  }

  /** What the registry offers: each registered name with its handler's signature, sorted by name. */
  offered(): { name: string; sig: CapSignature }[] {
    return this.names().map((name) => ({ name, sig: (this.handlers.get(name) as CapHandler).sig }));
  }
}

