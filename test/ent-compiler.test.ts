// What the Ent compiler produces beyond program output: source maps, module
// layout and manifests, linked modules and their digests, the runtime's
// memory discipline, the boundary checks of sandboxed values, and the CLI
// commands around it (compile, disasm, run of the examples, suspend/resume).

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assemble } from "../lang/asm.js";
import { disassemble } from "../lang/disasm.js";
import { compileProgram, compileSource } from "../lang/ent/compile.js";
import { TRAP_MESSAGES, trapMessage } from "../lang/ent/traps.js";
import { Session } from "../src/session.js";
import { decodeBundle, digestBytes, encodeModule, sourceAt, type ModuleDef } from "../src/vm/module.js";
import { OPS, Op, WIDTH } from "../src/vm/opcodes.js";
import { verifyBundle } from "../src/vm/verify.js";
import { CLI, ROOT, ensureBuilt } from "./helpers/cli.js";


function runEnt(src: string, opts: { files?: Record<string, string>; args?: number[]; gas?: number; mem?: number } = {}) {
  const { modules } = compileSource(src, "main.ent", opts.files ?? {});
  const [module, ...linked] = verifyBundle(modules);
  let stdout = "";
  const session = Session.start(module, {
    linked,
    args: opts.args,
    gas: opts.gas ?? 10_000_000,
    mem: opts.mem ?? 1_000_000,
    stdout: (t) => (stdout += t),
  });
  const result = session.run();
  return { stdout, result, modules };
}

describe("modules and source maps", () => {
  const src = `import "util.ent" as util;\nfn main() {\n  let a = [1, 2, 3];\n  print(util.twice(a[1]));\n}\n`;
  const files = { "util.ent": "fn twice(x) {\n  return x * 2;\n}\n" };

  it("maps every instruction to a source position, in pc order", () => {
    const [m] = compileSource(src, "main.ent", files).modules;
    const e = m.sourceMap?.entries as Int32Array;
    expect(e[0]).toBe(0);
    for (let i = 4; i < e.length; i += 4) expect(e[i]).toBeGreaterThan(e[i - 4]);
    for (let pc = 0; pc < m.code.length; pc += WIDTH[m.code[pc]]) expect(sourceAt(m, pc)).toBeDefined();
  });

  it("maps a function's code to its own file and lines", () => {
    const [m] = compileSource(src, "main.ent", files).modules;
    const twice = m.functions.find((f) => f.name === "util.twice") as ModuleDef["functions"][number];
    expect(sourceAt(m, twice.entry)).toEqual({ file: "util.ent", line: 2, col: 10 });
    const main = m.functions.find((f) => f.name === "main") as ModuleDef["functions"][number];
    const lines = new Set<number>();
    for (let pc = main.entry; pc < main.end; pc += WIDTH[m.code[pc]]) lines.add((sourceAt(m, pc) as { line: number }).line);
    expect([...lines].sort()).toEqual([2, 3, 4, 5]);
  });

  it("puts in the manifest exactly the capabilities the module declares, prints with or passes on", () => {
    expect(compileSource("fn main() { return 1; }").modules[0].caps).toEqual([]);
    expect(compileSource('fn main() { print("x"); }').modules[0].caps).toEqual(["io.print"]);
    const traps = "cap kv.get;\nfn f() { return 1; }\nfn main() { let h = spawn f() with { gas: 1, mem: 1, trap: [clock.now] }; }";
    expect(compileSource(traps).modules[0].caps).toEqual(["clock.now", "kv.get"]);
  });

  it("lists as trap-only the manifest entries only named in trap lists", () => {
    const only = compileSource("fn f() { return 1; }\nfn main() { let h = spawn f() with { gas: 1, mem: 1, trap: [clock.now, kv.get] }; }");
    expect(only.modules[0].caps).toEqual(["clock.now", "kv.get"]);
    expect(only.modules[0].trapOnly).toEqual(["clock.now", "kv.get"]);
    // Declared (so possibly called), printed with, or granted to a child: held, so not trap-only.
    const held =
      "cap clock.now;\nfn f() { return 1; }\nfn main() { print(1); let h = spawn f() with { gas: 1, mem: 1, caps: [kv.get], trap: [clock.now, kv.get, io.print, fs.read] }; }";
    const m = compileSource(held).modules[0];
    expect(m.caps).toEqual(["clock.now", "fs.read", "io.print", "kv.get"]);
    expect(m.trapOnly).toEqual(["fs.read"]);
    expect(compileSource('fn main() { print("x"); }').modules[0].trapOnly).toBeUndefined();
  });

  it("disassembles to assembly that assembles back to the same code", () => {
    const lib = { "lib.ent": "fn sort(a: [int]) -> [int] { return copy(a); }\n" };
    const prog = `import untrusted "lib.ent" as lib;\nfn main(args) {\n  print(lib.sort<1000, 1000>(args), [[1]], copy([[2]]));\n}\n`;
    for (const m of compileSource(prog, "main.ent", lib).modules) {
      const back = assemble(disassemble(m), "x.rasm");
      expect(Array.from(back.code)).toEqual(Array.from(m.code));
      expect(back.functions).toEqual(m.functions);
      expect(back.caps).toEqual(m.caps);
    }
  });

  it("emits only valid opcodes, and helpers only when used", () => {
    const [m] = compileSource("fn main() { return 1 + 2; }").modules;
    expect(m.functions.map((f) => f.name)).toEqual(["main"]);
    for (let pc = 0; pc < m.code.length; pc += WIDTH[m.code[pc]]) expect(OPS[m.code[pc]]).toBeDefined();
  });
});

describe("untrusted imports", () => {
  const lib = "fn sort(a: [int]) -> [int] { let r = copy(a); return r; }\nfn three() { return 3; }\n";

  it("become separate modules, linked by digest, each compiled once", () => {
    const files = { "lib.ent": lib, "mid.ent": 'import untrusted "lib.ent" as l;\nfn f() { return l.three<1000, 1000>(); }\n' };
    const src = 'import untrusted "lib.ent" as a;\nimport "mid.ent" as mid;\nfn main() { return a.three<1000, 1000>() + mid.f(); }\n';
    const { modules } = compileSource(src, "main.ent", files);
    expect(modules.length).toBe(2);
    const digest = digestBytes(encodeModule(modules[1]));
    expect(modules[0].links).toEqual([digest]);
    const names = modules[1].functions.map((f) => f.name);
    expect(names.slice(0, 4)).toEqual(["sort", "three", "sort$entry", "three$entry"]);
    expect(runEnt(src, { files }).result.value).toBe(6);
  });

  it("compile to the same module whoever imports them", () => {
    const a = compileSource('import untrusted "lib.ent" as x;\nfn main() { return 0; }\n', "a.ent", { "lib.ent": lib }).modules[1];
    const b = compileSource('import untrusted "lib.ent" as y;\nfn main() { print(1); }\n', "b.ent", { "lib.ent": lib }).modules[1];
    expect(digestBytes(encodeModule(a))).toBe(digestBytes(encodeModule(b)));
  });

  it("get no capabilities in a sandboxed call, even when the caller holds them", () => {
    const files = { "lib.ent": 'fn loud() { print("leak"); return 1; }\n' };
    const r = runEnt('import untrusted "lib.ent" as l;\nfn main() { return l.loud<10000, 1000>() else -1; }\n', { files });
    expect(r.stdout).toBe("");
    expect(r.result.value).toBe(-1);
  });
});

describe("capabilities", () => {
  it("a declared custom capability passes ints and arrays and returns an array", () => {
    const { modules } = compileSource(
      "cap text.join(int, [int], [int]) -> [int];\nfn main() { let r = text.join(45, \"ab\", \"cd\"); puts(r); return len(r); }\n",
    );
    const [module] = verifyBundle(modules);
    expect(module.caps).toEqual(["io.print", "text.join"]);
    let stdout = "";
    const seen: unknown[] = [];
    const session = Session.start(module, {
      caps: ["io.print", "text.join"],
      stdout: (t) => (stdout += t),
      handlers: {
        "text.join": {
          sig: { args: ["int", "array", "array"], result: "array" },
          call(args) {
            seen.push(args.map((a) => (typeof a === "number" ? a : Array.from(a))));
            const [sep, a, b] = args as [number, Int32Array, Int32Array];
            return Int32Array.from([...a, sep, ...b]);
          },
        },
      },
    });
    const r = session.run();
    expect(seen).toEqual([[45, [97, 98], [99, 100]]]);
    expect(stdout).toBe("ab-cd\n");
    expect(r.value).toBe(5);
  });
});

describe("runtime memory discipline", () => {
  it("printing in a loop reuses the scratch arena instead of growing memory", () => {
    const small = runEnt('fn main() { let p = [[1], [2, 3]]; for i in 0..10 { print("line", i, p); } }');
    const large = runEnt('fn main() { let p = [[1], [2, 3]]; for i in 0..2000 { print("line", i, p); } }');
    expect(large.result.memUsed).toBe(small.result.memUsed);
  });

  it("sandboxed calls in a loop release their children and argument blocks", () => {
    const prog = (n: number) => `fn f(a) { return len(a); }\nfn main() { let s = 0; for i in 0..${n} { s = s + f<1000, 1000>([i, i]); } return s; }`;
    const few = runEnt(prog(5));
    const many = runEnt(prog(500));
    expect(many.result.value).toBe(1000);
    // Only the argument literals [i, i] (3 words each) stay allocated.
    expect(many.result.memUsed - few.result.memUsed).toBe(3 * 495);
  });

  it("a child's changes to an argument never reach the caller's array", () => {
    const r = runEnt("fn poke(a: [[int]]) { a[0][0] = 9; return a[0][0]; }\nfn main() { let a = [[1]]; let v = poke<1000, 1000>(a); print(v, a); }");
    expect(r.stdout).toBe("9 [[1]]\n");
  });

  it("main(args) sees the command-line integers; main() ignores them", () => {
    expect(runEnt("fn main(args) { print(args); return len(args); }", { args: [4, -5] }).stdout).toBe("[4, -5]\n");
    expect(runEnt("fn main() { return 7; }", { args: [1, 2, 3] }).result.value).toBe(7);
  });
});

describe("values crossing the process boundary are checked", () => {
  it("reading a result as the wrong array type traps with code 3 instead of trusting the child", () => {
    const r = runEnt("fn gen() { yield([2, 7, 9]); return 0; }\nfn main() { let h = spawn gen() with { gas: 1000, mem: 1000 }; resume(h); let r: [[int]] = result(h); return len(r); }");
    expect(r.result.status).toBe("fault");
    expect(r.result.fault).toContain(`fault trap (explicit trap: ${trapMessage(3)}) in process 0 in main`);
    expect(TRAP_MESSAGES.get(3)).toBe("malformed value from a child process");
  });

  it("an int result read as an array is malformed, not a pointer", () => {
    const r = runEnt("fn zero() { return 0; }\nfn main() { let h = spawn zero() with { gas: 1000, mem: 1000 }; resume(h); let r: [int] = result(h); return len(r); }");
    expect(r.result.fault).toContain("fault trap (explicit trap: malformed value from a child process)");
  });

  it("the same value read as its own type comes out intact", () => {
    const r = runEnt("fn gen() { yield([[2], [7, 9], []]); return 0; }\nfn main() { let h = spawn gen() with { gas: 1000, mem: 1000 }; resume(h); let r: [[int]] = result(h); print(r); }");
    expect(r.stdout).toBe("[[2], [7, 9], []]\n");
  });

  it("every trap code the compiler emits has its message from src/vm/errors.ts", () => {
    for (const code of [2, 3, 12, 13, 14, 15, 16]) expect(TRAP_MESSAGES.get(code)).toBe(trapMessage(code));
    const dir = join(ROOT, "test/golden/ent");
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".ent") && !f.startsWith("compile_error") && !f.startsWith("import_direct"))) {
      for (const m of compileProgram(file, (p) => readFileSync(join(dir, p), "utf8")).modules)
        for (let pc = 0; pc < m.code.length; pc += WIDTH[m.code[pc]])
          if (m.code[pc] === Op.TRAP) expect(TRAP_MESSAGES.get(m.code[pc + 1]), `${file}: TRAP ${m.code[pc + 1]}`).toBeTruthy();
    }
  });

  it("array indexing faults index_bounds (naming index and length), not a trap", () => {
    const read = runEnt("fn main() {\n  let a = [1, 2, 3];\n  let i = 3;\n  return a[i];\n}\n");
    expect(read.result.fault).toBe("fault index_bounds (array index out of bounds: index 3, length 3) in process 0 in main (main.ent:4:11)");
    const write = runEnt("fn main() {\n  let a = array(2);\n  a[-1] = 5;\n  return 0;\n}\n");
    expect(write.result.fault).toBe("fault index_bounds (array index out of bounds: index -1, length 2) in process 0 in main (main.ent:3:4)");
    const code = compileSource("fn f(a: [int]) { a[0] = a[1]; return a[2]; }\nfn main() { return f([1, 2, 3]); }").modules[0].code;
    expect(Array.from(code)).not.toContain(Op.TRAP);
  });

  it("a store checks the index before evaluating a value with effects, even inside a loop over the array", () => {
    const r = runEnt('fn loud() { print("evaluated"); return 1; }\nfn main() { let a = array(2); for i in 0..len(a) { a[i] = loud(); } a[2] = loud(); return 0; }');
    expect(r.stdout).toBe("evaluated\nevaluated\n");
    expect(r.result.fault).toContain("fault index_bounds (array index out of bounds: index 2, length 2)");
  });

  // A hostile linked module in place of the compiled library: its entry returns
  // a "serialized result" that lies outside its own memory. The caller reads it
  // with CSIZE-checked CLOADs: the call fails cleanly instead of faulting mem_bounds.
  const HOSTILE: [string, string][] = [
    ["an address beyond its memory", "PUSH 1000000\n RET"],
    ["a negative address", "PUSH -5\n RET"],
    ["a size running past the end of its memory", "MSIZE\n ADDI -1\n DUP\n PUSH 50\n STORE 0\n RET"],
  ];
  for (const [what, body] of HOSTILE) {
    it(`a child claiming a result at ${what} makes the sandboxed call take else, or trap 3`, () => {
      const files = { "lib.ent": "fn get() -> [int] { return [1, 2]; }\n" };
      const src =
        'import untrusted "lib.ent" as lib;\nfn main() {\n  print(lib.get<10000, 1000>() else [-1]);\n  let h = spawn lib.get() with { gas: 10000, mem: 1000 };\n  resume(h);\n  let r: [int] = result(h);\n  return 0;\n}\n';
      const { modules } = compileSource(src, "main.ent", files);
      const nfns = modules[1].functions.length;
      const evil = assemble(
        `.module evil\n${Array.from({ length: nfns }, (_, k) => `.func f${k} 0 0\n ${body}\n`).join("")}`,
        "evil.rasm",
      );
      const entry: ModuleDef = { ...modules[0], links: [digestBytes(encodeModule(evil))] };
      const [module, ...linked] = verifyBundle([entry, evil]);
      let stdout = "";
      const r = Session.start(module, { linked, gas: 1_000_000, mem: 100_000, stdout: (t) => (stdout += t) }).run();
      expect(stdout).toBe("[-1]\n");
      expect(r.fault).toBe("fault trap (explicit trap: malformed value from a child process) in process 0 in main (main.ent:6:18)");
    });
  }
});

// --- the CLI ---------------------------------------------------------------------

function cli(args: string[], cwd = ROOT): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8" });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe("the CLI with Ent programs", () => {
  let tmp = "";
  beforeAll(() => {
    ensureBuilt();
    tmp = mkdtempSync(join(tmpdir(), "ent-cli-"));
  }, 120_000);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const EXAMPLES: [string, string][] = [
    ["hello", "Hello, world!\n"],
    ["language", "safe: 6765\nstarved: -1\nrefueled: 75025\n"],
    ["refuel", "status: 1 rounds: 37 result: 199990000\n"],
    [
      "snapshot",
      "original before snapshot: 102\ncopy a after 3 steps: 105\ncopy b after 1 step: 103\noriginal unchanged: 102\noriginal after 10 more: 112\n",
    ],
    [
      "untrusted",
      "sorted: [4, 5, 9, 15, 26, 31]\ninfinite loop\n  survived, result: [-1]\nmemory bomb\n  survived, result: [-1]\nrecursion bomb\n  survived, result: [-1]\nno capabilities\n  survived, result: [-1]\nmemory bomb stopped as OUT_OF_MEM: 1\nstill here; gas left: 1\n",
    ],
  ];
  for (const [name, out] of EXAMPLES) {
    it(`runs examples/${name}.ent`, () => {
      const r = cli(["run", `examples/${name}.ent`]);
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: out });
    });
  }

  it("runs examples/long.ent to the same end when suspended and resumed in fresh processes", () => {
    const whole = cli(["run", "examples/long.ent"]);
    expect(whole.code).toBe(0);
    const img = join(tmp, "long.rimg");
    let r = cli(["run", "examples/long.ent", "--gas", "1_000_000", "--out", img]);
    let stdout = r.stdout;
    let legs = 1;
    while (r.code === 3) {
      r = cli(["resume", img, "--gas", "1_000_000"]);
      stdout += r.stdout;
      legs++;
    }
    expect(r.code).toBe(0);
    expect(legs).toBeGreaterThan(2);
    expect(stdout).toBe(whole.stdout);
    const gas = (s: string) => /gas=(\d+)\//.exec(s)?.[1];
    expect(gas(r.stderr)).toBe(gas(whole.stderr));
  });

  it("compile writes a .rmod bundle (entry first, then linked modules) that runs like the source", () => {
    const out = join(tmp, "untrusted.rmod");
    const c = cli(["compile", "examples/untrusted.ent", "-o", out]);
    expect(c.code).toBe(0);
    const mods = decodeBundle(readFileSync(out));
    expect(mods.map((m) => m.name)).toEqual(["untrusted", "sort", "evil_sort"]);
    expect(readdirSync(tmp).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(cli(["run", out]).stdout).toBe(cli(["run", "examples/untrusted.ent"]).stdout);
  });

  it("disasm of a .ent interleaves the source lines", () => {
    const r = cli(["disasm", "examples/hello.ent"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('  ; examples/hello.ent:3: print("Hello, world!");\n');
    expect(r.stdout).toContain("CAP io.print 2");
  });

  it("reports a compile error as file:line:col, the line and a caret, with exit 2", () => {
    const r = cli(["run", "test/golden/ent/compile_error_type.ent"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "rar: error: test/golden/ent/compile_error_type.ent:6:11: left operand of '+': expected int, found [int]\n    let b = a + 1;\n            ^\n",
    );
  });

  it("runs a program that traps a capability for a child without declaring or holding it (trap-only)", () => {
    const dir = mkdtempSync(join(tmp, "traponly-"));
    writeFileSync(join(dir, "lib.ent"), "cap clock.now;\nfn stamp() { return clock.now() + 1; }\n");
    writeFileSync(
      join(dir, "main.ent"),
      'import untrusted "lib.ent" as lib;\nfn main() {\n  let h = spawn lib.stamp() with { gas: 10000, mem: 1000, trap: [clock.now] };\n  print(resume(h) == CAP_CALL);\n  puts(request(h));\n  answer(h, 41);\n  print(resume(h) == DONE, result(h));\n  return 0;\n}\n',
    );
    const r = cli(["run", "main.ent"], dir);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: "1\nclock.now\n1 42\n" });
    expect(cli(["run", "main.ent", "--deny", "clock.now"], dir).code).toBe(0);
  });

  it("reports a runtime fault with the process path, function, source line and callers", () => {
    const r = cli(["run", "arith_div_zero.ent"], join(ROOT, "test/golden/ent"));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("in process 0 in half (arith_div_zero.ent:4:26); called from main (arith_div_zero.ent:7:9)");
  });
});
