// Differential testing of the Ent compiler: random integer expressions and
// small random programs (variables, ifs, loops, breaks, an array) are printed
// as Ent source, compiled and run on the VM, and must agree with a reference
// evaluator written here in TypeScript — i32 wrapping, short-circuiting,
// evaluation order, division faults and index faults included.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileSource } from "../lang/ent/compile.js";
import { Session } from "../src/session.js";
import { verifyBundle } from "../src/vm/verify.js";

// --- the test language: a subset of Ent as data ---------------------------------

type BinOp = "||" | "&&" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "|" | "^" | "&" | "<<" | ">>" | "+" | "-" | "*" | "/" | "%";
type E =
  | { k: "lit"; v: number }
  | { k: "var"; name: string }
  | { k: "un"; op: "-" | "!" | "~"; e: E }
  | { k: "bin"; op: BinOp; l: E; r: E }
  | { k: "idx"; i: E }
  | { k: "len" };
type S =
  | { k: "set"; name: string; e: E }
  | { k: "store"; i: E; e: E }
  | { k: "if"; c: E; t: S[]; f: S[] }
  | { k: "for"; v: string; from: number; to: number | "len"; body: S[] }
  | { k: "while"; v: string; n: number; c: E; body: S[] }
  | { k: "print"; e: E }
  | { k: "printa" }
  | { k: "break"; c: E };

const LEVEL: Record<BinOp, number> = {
  "||": 0, "&&": 1, "==": 2, "!=": 2, "<": 3, "<=": 3, ">": 3, ">=": 3,
  "|": 4, "^": 5, "&": 6, "<<": 7, ">>": 7, "+": 8, "-": 8, "*": 9, "/": 9, "%": 9,
};
const NON_ASSOC = new Set([2, 3]);
const OPS = Object.keys(LEVEL) as BinOp[];

// --- printing as Ent source (minimal parentheses, so precedence is tested) -------

function level(e: E): number {
  if (e.k === "bin") return LEVEL[e.op];
  if (e.k === "un" || (e.k === "lit" && e.v < 0)) return 10;
  return 11;
}

function showE(e: E): string {
  switch (e.k) {
    case "lit":
      return String(e.v);
    case "var":
      return e.name;
    case "len":
      return "len(a)";
    case "idx":
      return `a[${showE(e.i)}]`;
    case "un": {
      const inner = showE(e.e);
      return `${e.op}${level(e.e) < 10 || inner.startsWith("-") ? `(${inner})` : inner}`;
    }
    case "bin": {
      const L = LEVEL[e.op];
      const left = showE(e.l);
      const right = showE(e.r);
      const lp = level(e.l) < L || (NON_ASSOC.has(L) && level(e.l) === L);
      const rp = level(e.r) <= L;
      return `${lp ? `(${left})` : left} ${e.op} ${rp ? `(${right})` : right}`;
    }
  }
}

function showS(s: S, ind: string): string {
  const block = (b: S[]): string => `{\n${b.map((x) => showS(x, ind + "  ")).join("")}${ind}}`;
  switch (s.k) {
    case "set":
      return `${ind}${s.name} = ${showE(s.e)};\n`;
    case "store":
      return `${ind}a[${showE(s.i)}] = ${showE(s.e)};\n`;
    case "if":
      return `${ind}if ${showE(s.c)} ${block(s.t)} else ${block(s.f)}\n`;
    case "for":
      return `${ind}for ${s.v} in ${s.from}..${s.to === "len" ? "len(a)" : s.to} ${block(s.body)}\n`;
    case "while":
      // c joins the counter test with &&: an || inside it needs parentheses.
      return `${ind}{\n${ind}let ${s.v} = 0;\n${ind}while ${s.v} < ${s.n} && ${level(s.c) < LEVEL["&&"] ? `(${showE(s.c)})` : showE(s.c)} {\n${s.body
        .map((x) => showS(x, ind + "  "))
        .join("")}${ind}  ${s.v} = ${s.v} + 1;\n${ind}}\n${ind}}\n`;
    case "print":
      return `${ind}print(${showE(s.e)});\n`;
    case "printa":
      return `${ind}print("a:", a);\n`;
    case "break":
      return `${ind}if ${showE(s.c)} { break; }\n`;
  }
}

// --- the reference evaluator ----------------------------------------------------

class Fault extends Error {
  constructor(readonly kind: string) {
    super(kind);
  }
}
class Break extends Error {}

interface State {
  vars: Map<string, number>;
  a: Int32Array;
  out: string[];
}

function evalE(e: E, st: State): number {
  switch (e.k) {
    case "lit":
      return e.v;
    case "var":
      return st.vars.get(e.name) as number;
    case "len":
      return st.a.length;
    case "idx": {
      const i = evalE(e.i, st);
      if (i < 0 || i >= st.a.length) throw new Fault("index_bounds");
      return st.a[i];
    }
    case "un": {
      const v = evalE(e.e, st);
      return e.op === "-" ? -v | 0 : e.op === "!" ? (v === 0 ? 1 : 0) : ~v;
    }
    case "bin": {
      const a = evalE(e.l, st);
      if (e.op === "&&") return a === 0 ? 0 : evalE(e.r, st) === 0 ? 0 : 1;
      if (e.op === "||") return a !== 0 ? 1 : evalE(e.r, st) === 0 ? 0 : 1;
      const b = evalE(e.r, st);
      switch (e.op) {
        case "+": return (a + b) | 0;
        case "-": return (a - b) | 0;
        case "*": return Math.imul(a, b);
        case "/":
          if (b === 0) throw new Fault("div_by_zero");
          if (a === -2147483648 && b === -1) throw new Fault("overflow");
          return (a / b) | 0;
        case "%":
          if (b === 0) throw new Fault("div_by_zero");
          return b === -1 ? 0 : (a % b) | 0;
        case "&": return a & b;
        case "|": return a | b;
        case "^": return a ^ b;
        case "<<": return a << b;
        case ">>": return a >> b;
        case "==": return a === b ? 1 : 0;
        case "!=": return a !== b ? 1 : 0;
        case "<": return a < b ? 1 : 0;
        case "<=": return a <= b ? 1 : 0;
        case ">": return a > b ? 1 : 0;
        case ">=": return a >= b ? 1 : 0;
      }
    }
  }
}

function execS(s: S, st: State): void {
  switch (s.k) {
    case "set":
      st.vars.set(s.name, evalE(s.e, st));
      return;
    case "store": {
      const i = evalE(s.i, st);
      if (i < 0 || i >= st.a.length) throw new Fault("index_bounds");
      st.a[i] = evalE(s.e, st);
      return;
    }
    case "if":
      for (const x of evalE(s.c, st) !== 0 ? s.t : s.f) execS(x, st);
      return;
    case "for":
      try {
        const to = s.to === "len" ? st.a.length : s.to;
        for (let i = s.from; i < to; i++) {
          st.vars.set(s.v, i);
          for (const x of s.body) execS(x, st);
        }
      } catch (e) {
        if (!(e instanceof Break)) throw e;
      } finally {
        st.vars.delete(s.v);
      }
      return;
    case "while":
      st.vars.set(s.v, 0);
      try {
        while ((st.vars.get(s.v) as number) < s.n && evalE(s.c, st) !== 0) {
          for (const x of s.body) execS(x, st);
          st.vars.set(s.v, (st.vars.get(s.v) as number) + 1);
        }
      } catch (e) {
        if (!(e instanceof Break)) throw e;
      } finally {
        st.vars.delete(s.v);
      }
      return;
    case "print":
      st.out.push(String(evalE(s.e, st)));
      return;
    case "printa":
      st.out.push(`a: [${Array.from(st.a).join(", ")}]`);
      return;
    case "break":
      if (evalE(s.c, st) !== 0) throw new Break();
      return;
  }
}

// --- generators -------------------------------------------------------------------

const INT_MIN = -2147483648;
const literal = fc.oneof(
  fc.constantFrom(0, 1, -1, 2, 3, 10, 31, 32, 33, 2147483647, INT_MIN),
  fc.integer({ min: -100, max: 100 }),
  fc.integer({ min: INT_MIN, max: 2147483647 }),
);

function exprArb(names: readonly string[], withArray: boolean, depth: number): fc.Arbitrary<E> {
  const leaves: fc.Arbitrary<E>[] = [literal.map((v): E => ({ k: "lit", v }))];
  if (names.length > 0) leaves.push(fc.constantFrom(...names).map((name): E => ({ k: "var", name })));
  if (withArray) leaves.push(fc.constant<E>({ k: "len" }));
  const leaf = fc.oneof(...leaves);
  if (depth <= 0) return leaf;
  const sub = exprArb(names, withArray, depth - 1);
  const nodes: fc.Arbitrary<E>[] = [
    fc.record({ op: fc.constantFrom(...OPS), l: sub, r: sub }).map((x): E => ({ k: "bin", ...x })),
    fc.record({ op: fc.constantFrom<"-" | "!" | "~">("-", "!", "~"), e: sub }).map((x): E => ({ k: "un", ...x })),
  ];
  if (withArray) nodes.push(indexArb(names, sub).map((i): E => ({ k: "idx", i })));
  return fc.oneof({ weight: 2, arbitrary: leaf }, ...nodes.map((arbitrary) => ({ weight: 3, arbitrary })));
}

/** An index: any expression, a small constant, or (often) a loop variable, the common case. */
function indexArb(names: readonly string[], sub: fc.Arbitrary<E>): fc.Arbitrary<E> {
  const loopVars = names.filter((n) => /^[iw]\d/.test(n));
  const options: fc.Arbitrary<E>[] = [sub, fc.integer({ min: -1, max: 5 }).map((v): E => ({ k: "lit", v }))];
  if (loopVars.length > 0) options.push(fc.constantFrom(...loopVars).map((name): E => ({ k: "var", name })));
  return fc.oneof(...options);
}

const VARS = ["x", "y", "z"];
const ARRAY_LEN = 4;

function stmtsArb(names: readonly string[], depth: number, inLoop: boolean, loopNo: number): fc.Arbitrary<S[]> {
  const e = exprArb(names, true, 2);
  const index = indexArb(names, e);
  const simple: fc.Arbitrary<S>[] = [
    fc.record({ name: fc.constantFrom(...VARS), e }).map((x): S => ({ k: "set", ...x })),
    fc.record({ i: index, e }).map((x): S => ({ k: "store", ...x })),
    e.map((x): S => ({ k: "print", e: x })),
    fc.constant<S>({ k: "printa" }),
  ];
  if (inLoop) simple.push(e.map((c): S => ({ k: "break", c })));
  const options: fc.Arbitrary<S>[] = [...simple];
  if (depth > 0) {
    const v = `i${loopNo}`;
    const w = `w${loopNo}`;
    options.push(
      fc
        .record({ c: e, t: stmtsArb(names, depth - 1, inLoop, loopNo), f: stmtsArb(names, depth - 1, inLoop, loopNo) })
        .map((x): S => ({ k: "if", ...x })),
      fc
        .record({
          from: fc.integer({ min: -1, max: 2 }),
          to: fc.oneof(fc.integer({ min: 0, max: ARRAY_LEN + 2 }), fc.constant<"len">("len")),
          body: stmtsArb([...names, v], depth - 1, true, loopNo + 1),
        })
        .map((x): S => ({ k: "for", v, ...x })),
      fc
        .record({ n: fc.integer({ min: 0, max: 4 }), c: exprArb(names, true, 1), body: stmtsArb([...names, w], depth - 1, true, loopNo + 1) })
        .map((x): S => ({ k: "while", v: w, ...x })),
    );
  }
  return fc.array(fc.oneof(...options), { minLength: 1, maxLength: 4 });
}

// --- running both sides ---------------------------------------------------------

interface Outcome {
  out: string[];
  end: { done: number } | { fault: string };
}

function runEnt(source: string): Outcome {
  const { modules } = compileSource(source);
  const [module, ...linked] = verifyBundle(modules);
  let text = "";
  const session = Session.start(module, { linked, gas: 5_000_000, mem: 100_000, stdout: (t) => (text += t) });
  const r = session.run();
  const out = text === "" ? [] : text.replace(/\n$/, "").split("\n");
  if (r.status === "done") return { out, end: { done: r.value as number } };
  // A fault of kind trap is named by its message ("explicit trap: <message>").
  const m = /^fault (\w+)(?: \(explicit trap: ([^)]*)\))?/.exec(r.fault ?? "");
  return { out, end: { fault: m ? (m[2] ?? m[1]) : `${r.status}: ${r.fault ?? ""}` } };
}

function reference(run: (st: State) => number, init: Map<string, number>): Outcome {
  const st: State = { vars: new Map(init), a: new Int32Array(ARRAY_LEN), out: [] };
  try {
    return { out: st.out, end: { done: run(st) } };
  } catch (e) {
    if (e instanceof Fault) return { out: st.out, end: { fault: e.kind } };
    throw e;
  }
}

describe("differential testing against a reference evaluator", () => {
  it("random integer expressions evaluate like i32 arithmetic (wrapping, ÷0, INT_MIN/-1)", () => {
    fc.assert(
      fc.property(exprArb(VARS, false, 4), literal, literal, literal, (expr, x, y, z) => {
        const src = `fn main() {\n  let x = ${x};\n  let y = ${y};\n  let z = ${z};\n  let r = ${showE(expr)};\n  print(r);\n  return r;\n}\n`;
        const init = new Map([["x", x], ["y", y], ["z", z]]);
        const want = reference((st) => {
          const r = evalE(expr, st);
          st.out.push(String(r));
          return r;
        }, init);
        expect(runEnt(src), src).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });

  it("constant expressions fold exactly like the VM computes them", () => {
    fc.assert(
      fc.property(exprArb([], false, 4), (expr) => {
        const src = `fn main() {\n  return ${showE(expr)};\n}\n`;
        expect(runEnt(src), src).toEqual(reference((st) => evalE(expr, st), new Map()));
      }),
      { numRuns: 200 },
    );
  });

  it("random programs with loops, conditionals, breaks and an array agree, faults included", () => {
    fc.assert(
      fc.property(stmtsArb(VARS, 2, false, 0), literal, literal, (body, x, y) => {
        const src =
          `fn main() {\n  let x = ${x};\n  let y = ${y};\n  let z = 0;\n  let a = array(${ARRAY_LEN});\n` +
          body.map((s) => showS(s, "  ")).join("") +
          `  print("a:", a);\n  return x ^ y ^ z;\n}\n`;
        const init = new Map([["x", x], ["y", y], ["z", 0]]);
        const want = reference((st) => {
          for (const s of body) execS(s, st);
          execS({ k: "printa" }, st);
          return st.vars.get("x")! ^ st.vars.get("y")! ^ st.vars.get("z")!;
        }, init);
        expect(runEnt(src), src).toEqual(want);
      }),
      { numRuns: 200 },
    );
  });
});
