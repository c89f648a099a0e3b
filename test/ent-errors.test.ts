// Compile errors of Ent: each malformed program is rejected at the right
// line and column with the right message, and no input — however random —
// makes the compiler throw anything but a structured error.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileSource } from "../lang/ent/compile.js";
import { Session } from "../src/session.js";
import { RarError } from "../src/vm/errors.js";
import { verifyBundle } from "../src/vm/verify.js";
import { compileError } from "./helpers/errors.js";


// [what, source, line, col, message, file?, extra files?]
type Case = [string, string, number, number, string, string?, Record<string, string>?];

const CASES: Case[] = [
  ["a missing ';' is reported after the previous token", "fn main() {\n  let x = 1\n  return x;\n}\n", 2, 12, "expected ';' after the let statement, found 'return'"],
  ["an unterminated string", 'fn main() {\n  print("abc);\n}\n', 2, 9, "unterminated string literal"],
  ["an unknown escape", 'fn main() {\n  print("a\\qb");\n}\n', 2, 11, "unknown escape '\\q' (expected \\n, \\t, \\r, \\0, \\\", \\\\ or \\u{...})"],
  ["an integer literal beyond 32 bits", "fn main() {\n  return 4294967296;\n}\n", 2, 10, "integer literal does not fit in 32 bits"],
  ["a stray character", "fn main() {\n  let x = 3 @ 4;\n}\n", 2, 13, "unexpected character '@'"],
  ["chained comparisons", "fn main() {\n  if 1 < 2 < 3 { }\n}\n", 2, 12, "comparisons do not chain: write 'a < b && b < c'"],
  ["chained equalities", "fn main() {\n  return 1 == 1 == 1;\n}\n", 2, 17, "comparisons do not chain: write 'a == b && b == c'"],
  ["an unknown variable", "fn main() {\n  return y + 1;\n}\n", 2, 10, "unknown name 'y'"],
  ["an unknown function", "fn main() {\n  return foo(1);\n}\n", 2, 10, "unknown function 'foo'"],
  ["a name declared twice in one block", "fn main() {\n  let a = 1;\n  let a = 2;\n}\n", 3, 7, "'a' is already declared in this block"],
  ["indexing an int", "fn main() {\n  let n = 5;\n  return n[0];\n}\n", 3, 10, "only arrays can be indexed: expected [_], found int"],
  ["assigning an int to an array variable", "fn main() {\n  let a = [1];\n  a = 3;\n}\n", 3, 7, "assignment to 'a': expected [int], found int"],
  ["returning two types", "fn f(x) {\n  if x { return 1; }\n  return [1];\n}\nfn main() { return f(1); }\n", 3, 10, "return value: expected int, found [int]"],
  ["arithmetic on an array", "fn main() {\n  let a = [1, 2];\n  let b = a + 1;\n}\n", 3, 11, "left operand of '+': expected int, found [int]"],
  ["a condition that is an array", "fn main() {\n  if [1] { }\n}\n", 2, 6, "condition: expected int, found [int]"],
  ["an array containing itself", "fn main() {\n  let a = [];\n  a[0] = a;\n}\n", 3, 10, "array element: an array cannot contain itself (its type would be infinite)"],
  ["a call with too few arguments", "fn add(a, b) { return a + b; }\nfn main() {\n  return add(1);\n}\n", 3, 10, "add takes 2 arguments, got 1"],
  ["break outside a loop", "fn main() {\n  break;\n}\n", 2, 3, "'break' outside a loop"],
  ["a program without main", "fn helper() { return 1; }\n", 1, 1, "no main function (fn main() { ... })"],
  ["main with two parameters", "fn main(a, b) { return 0; }\n", 1, 12, "main takes no parameter or one (args)"],
  ["main returning an array", "fn main() {\n  return [1, 2];\n}\n", 2, 10, "return value: expected int, found [int]"],
  ["calling an undeclared capability", "fn main() {\n  return clock.now();\n}\n", 2, 10, "unknown function 'clock.now' (to call a capability, declare it: cap clock.now;)"],
  ["a capability without a known signature", "cap my.thing;\nfn main() { return 0; }\n", 1, 5, "unknown capability 'my.thing': declare its signature, e.g. cap my.thing(int) -> int;"],
  ["a function named like a built-in", "fn len(a) { return 0; }\nfn main() { return 0; }\n", 1, 4, "'len' is a built-in function; choose another name"],
  ["a function declared twice", "fn f() { return 1; }\nfn f() { return 2; }\nfn main() { return 0; }\n", 2, 4, "function 'f' is already declared"],
  [
    "calling an untrusted import directly",
    'import untrusted "lib.ent" as lib;\nfn main() {\n  return lib.f(1);\n}\n',
    3,
    10,
    "'lib.f' comes from an untrusted import and can only run in a sandbox: lib.f<gas, mem>(...) or spawn lib.f(...) with {...}",
    "main.ent",
    { "lib.ent": "fn f(x) { return x; }\n" },
  ],
  ["importing a missing file", 'import "nope.ent" as n;\nfn main() { return 0; }\n', 1, 1, "cannot read imported file 'nope.ent' (no such file)"],
  ["an unclosed block", "fn main() {\n  let x = 1;\n", 3, 1, "expected '}' to close the block, found the end of the file"],
  ["assigning to a constant", "const K = 1;\nfn main() {\n  K = 2;\n}\n", 3, 3, "cannot assign to the constant 'K'"],
  ["nesting beyond the limit", `fn main() {\n  return ${"(".repeat(300)}1${")".repeat(300)};\n}\n`, 2, 209, "nesting deeper than 200 levels"],
  ["an answer that is not int or [int]", "fn main() {\n  answer(1, [[1]]);\n}\n", 2, 13, "a capability answer is an int or [int], found [[int]]"],
  ["calling main", "fn main() {\n  return main();\n}\n", 2, 10, "main cannot be called"],
  ["spawn without gas", "fn f() { return 1; }\nfn main() {\n  let h = spawn f() with { mem: 10 };\n}\n", 3, 36, "spawn needs a gas limit (gas: N)"],
  ["an unknown spawn option", "fn f() { return 1; }\nfn main() {\n  let h = spawn f() with { gas: 1, mem: 10, fuel: 3 };\n}\n", 3, 45, "unknown spawn option 'fuel' (expected gas, mem, caps or trap)"],
  ["a function used as a value", "fn f() { return 1; }\nfn main() {\n  return f;\n}\n", 3, 10, "'f' is a function; call it with (...)"],
  ["constants that refer to each other", "const A = B + 1;\nconst B = A;\nfn main() { return A; }\n", 1, 7, "constant 'A' refers to itself"],
  ["a constant dividing by zero", "const A = 1 / 0;\nfn main() { return A; }\n", 1, 13, "division by zero in a constant"],
  [
    "untrusted imports in a cycle",
    'import untrusted "a.ent" as a;\nfn main() { return 0; }\n',
    1,
    1,
    "untrusted imports form a cycle through 'main.ent'",
    "a.ent",
    { "a.ent": 'import untrusted "main.ent" as m;\nfn f() { return 1; }\n' },
  ],
  ["a built-in run in a sandbox", "fn main() {\n  return len<10, 10>([1]);\n}\n", 2, 10, "'len' is not a function of this program; only functions run in a sandbox"],
  ["a parameter declared twice", "fn f(a, a) { return a; }\nfn main() { return 0; }\n", 1, 9, "parameter 'a' is declared twice"],
  ["assigning to a literal", "fn main() {\n  1 = 2;\n}\n", 2, 5, "can only assign to a variable or an array element"],
  ["a missing expression", "fn main() {\n  let x = ;\n}\n", 2, 11, "expected an expression, found ';'"],
  ["an error inside a trusted import names that file", 'import "u.ent" as u;\nfn main() { return u.f(); }\n', 2, 10, "unknown name 'q'", "u.ent", { "u.ent": "fn f() {\n  return q;\n}\n" }],
];

describe("compile errors name the line, column and what was expected", () => {
  for (const [what, src, line, col, message, file, files] of CASES) {
    it(`rejects ${what}`, () => {
      const e = compileError(src, files);
      expect({ file: e.pos.file, line: e.pos.line, col: e.pos.col, message: e.detail }).toEqual({
        file: file ?? "main.ent",
        line,
        col,
        message,
      });
    });
  }

  it("has at least 15 malformed programs", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(15);
  });

  it("formats as file:line:col: message, the source line and a caret under the column", () => {
    const e = compileError("fn main() {\n  let b = [1] + 1;\n}\n");
    expect(e).toBeInstanceOf(RarError);
    expect(e.phase).toBe("compile");
    expect(e.message).toBe("main.ent:2:11: left operand of '+': expected int, found [int]\n    let b = [1] + 1;\n            ^");
  });
});

// --- random input ---------------------------------------------------------------

const VOCAB = [
  "fn", "let", "if", "else", "while", "for", "in", "break", "continue", "return", "cap", "import", "untrusted",
  "as", "const", "true", "false", "spawn", "with", "main", "f", "x", "a", "len", "print", "array", "result", "resume",
  "io.print", "clock.now", "gas", "mem", "caps", "trap", "0", "1", "2147483647", "0x10", "\"s\"", "\"\\u{41}\"",
  "(", ")", "{", "}", "[", "]", ",", ";", ":", ".", "..", "->", "=", "+", "-", "*", "/", "%", "<", ">", "<=", ">=",
  "==", "!=", "&&", "||", "!", "~", "&", "|", "^", "<<", ">>", "else", "int", "[int]", "\n", "//c\n",
];

/** Compiles, and when that succeeds verifies and briefly runs the result: only structured errors may escape. */
function survive(src: string): void {
  try {
    const { modules } = compileSource(src);
    const [module, ...linked] = verifyBundle(modules);
    if (module.functions.some((f) => f.name === "main")) {
      Session.start(module, { linked, gas: 2_000, mem: 10_000, stdout: () => undefined }).run();
    }
  } catch (e) {
    if (!(e instanceof RarError)) throw e;
    expect(e.phase).toBe("compile");
  }
}

describe("hostile input", () => {
  it("random token soup never crashes the compiler", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...VOCAB), { maxLength: 60 }), (toks) => survive(toks.join(" "))),
      { numRuns: 1500 },
    );
  });

  it("token soup inside a valid main never crashes the compiler", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...VOCAB), { maxLength: 40 }), (toks) =>
        survive(`fn f(x) { return x; }\nfn main() {\n  ${toks.join(" ")}\n}\n`),
      ),
      { numRuns: 1500 },
    );
  });

  it("random text never crashes the compiler", () => {
    fc.assert(fc.property(fc.string({ maxLength: 200, unit: "grapheme-ascii" }), (s) => survive(s)), { numRuns: 500 });
  });

  it("deep nesting of every kind is a compile error, not a host stack overflow", () => {
    const n = 100_000;
    for (const src of [
      `fn main() { return ${"(".repeat(n)}1${")".repeat(n)}; }`,
      `fn main() { return ${"-".repeat(n)}1; }`,
      `fn main() { ${"{".repeat(n)}${"}".repeat(n)} }`,
      `fn main() { ${"if 1 { ".repeat(n)}${"}".repeat(n)} }`,
      `fn main() { return ${"[".repeat(n)}${"]".repeat(n)}; }`,
      `fn main() { return ${"f<1, 2>(".repeat(n)}1${")".repeat(n)}; }`,
      `fn main() { return a${"<a".repeat(n)}; }`,
    ]) {
      const e = compileError(src);
      expect(e.detail).toMatch(/nesting deeper|nested deeper|too complex/);
    }
  });

  it("a long chain of binary operators is flat, not nested: it compiles", () => {
    expect(() => compileSource(`fn main() { return ${"1 + ".repeat(100_000)}1; }`)).not.toThrow();
  });

  // Found by `npm run fuzz`: the parser spread these lists into call arguments, which overflowed the host stack.
  it("very long lists (array literal, call arguments, import path) are not spread onto the host stack", () => {
    const n = 200_000;
    expect(() => compileSource(`fn main() { let a = [${"1,".repeat(n)}1]; return len(a); }`)).not.toThrow();
    expect(compileError(`fn f(a) { return a; }\nfn main() { return f(${"1,".repeat(n)}1); }`).detail).toMatch(/takes 1 argument/);
    expect(compileError(`fn f(a) { return a; }\nfn main() { return f<1, 2>(${"1,".repeat(n)}1); }`).detail).toMatch(/takes 1 argument/);
    expect(compileError(`import "${"a".repeat(n)}.ent" as x;\nfn main() { return 0; }`).detail).toMatch(/cannot read imported file/);
  });

  it("a long chain of else-if clauses compiles without deep recursion", () => {
    const src = `fn main(args) {\n  let x = len(args);\n  if x == 0 { return 0; }${" else if x == 1 { return 1; }".repeat(5000)}\n  return 2;\n}\n`;
    expect(() => compileSource(src)).not.toThrow();
  });
});
