// Ent types and unification. A value is an int or an array of values; type
// variables stand for what is not known yet and are solved by unification
// (union-find with an occurs check). What nothing constrains becomes int.

export type Type =
  | { readonly k: "int" }
  | { readonly k: "arr"; readonly elem: Type }
  | { readonly k: "var"; ref: Type | null; readonly id: number };

export const INT: Type = { k: "int" };

let nextVar = 0;

export function fresh(): Type {
  return { k: "var", ref: null, id: nextVar++ };
}

export function arr(elem: Type): Type {
  return { k: "arr", elem };
}

/** Follows solved variables to a representative. */
export function prune(t: Type): Type {
  let r = t;
  while (r.k === "var" && r.ref !== null) r = r.ref;
  // Path compression keeps long chains cheap.
  let c = t;
  while (c.k === "var" && c.ref !== null && c.ref !== r) {
    const next: Type = c.ref;
    c.ref = r;
    c = next;
  }
  return r;
}

function occurs(v: Type, t: Type): boolean {
  for (let c = prune(t); ; ) {
    if (c === v) return true;
    if (c.k !== "arr") return false;
    c = prune(c.elem);
  }
}

/** Why two types cannot be made equal. */
export type Mismatch = "mismatch" | "infinite";

/**
 * Makes a and b equal. Returns undefined on success; on failure (which binds
 * nothing: types are chains, a variable is only bound at the end) the reason.
 */
export function unifyWhy(a: Type, b: Type): Mismatch | undefined {
  let x = prune(a);
  let y = prune(b);
  for (;;) {
    if (x === y) return undefined;
    if (x.k === "var") {
      if (occurs(x, y)) return "infinite";
      x.ref = y;
      return undefined;
    }
    if (y.k === "var") {
      if (occurs(y, x)) return "infinite";
      y.ref = x;
      return undefined;
    }
    if (x.k === "int" || y.k === "int") return x.k === y.k ? undefined : "mismatch";
    x = prune(x.elem);
    y = prune(y.elem);
  }
}

/** Makes a and b equal; false when they cannot be. */
export function unify(a: Type, b: Type): boolean {
  return unifyWhy(a, b) === undefined;
}

/**
 * Deepest array nesting the checker accepts (a compile error beyond). Far
 * above what literals can nest (the parser's MAX_NESTING); it bounds types
 * built up one level per statement, whose runtime helpers are generated per
 * level.
 */
export const MAX_TYPE_DEPTH = 256;

/** Array levels shown in full by show(); deeper types are abbreviated. */
const SHOW_LEVELS = 8;

/** `int`, `[int]`, `[[int]]`; an unknown part prints as `_`. Very deep types print as `[[...int...]] (N levels)`. */
export function show(t: Type): string {
  let levels = 0;
  let p = prune(t);
  while (p.k === "arr") {
    levels++;
    p = prune(p.elem);
  }
  const inner = p.k === "int" ? "int" : "_";
  if (levels <= SHOW_LEVELS) return "[".repeat(levels) + inner + "]".repeat(levels);
  return `${"[".repeat(3)}...${inner}...${"]".repeat(3)} (${levels} levels)`;
}

/** Whether t nests arrays more than `max` deep (looks at most max + 1 levels down). */
export function deeperThan(t: Type, max: number): boolean {
  let levels = 0;
  for (let p = prune(t); p.k === "arr"; p = prune(p.elem)) if (++levels > max) return true;
  return false;
}

/** Solves every remaining variable inside t as int (the default). */
export function settle(t: Type): void {
  let p = prune(t);
  for (;;) {
    if (p.k === "var") {
      p.ref = INT;
      return;
    }
    if (p.k === "int") return;
    p = prune(p.elem);
  }
}

export function isArray(t: Type): boolean {
  return prune(t).k === "arr";
}

/** Element type of an array type (the caller knows it is one). */
export function elemOf(t: Type): Type {
  const p = prune(t);
  if (p.k !== "arr") throw new Error(`internal: ${show(t)} is not an array type`);
  return p.elem;
}

/** Depth of array nesting: int 0, [int] 1, [[int]] 2. */
export function arrayDepth(t: Type): number {
  let d = 0;
  for (let p = prune(t); p.k === "arr"; p = prune(p.elem)) d++;
  return d;
}

/** A settled type rebuilt without variables (for signatures kept across modules). */
export function frozen(t: Type): Type {
  const d = arrayDepth(t);
  let r = INT;
  for (let i = 0; i < d; i++) r = arr(r);
  return r;
}
