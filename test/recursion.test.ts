// No host recursion driven by guest input (DESIGN §2, last bullet): a process
// tree 10,000 deep, an image of it, and Ent sources with a million-element
// literal or a million-term operator chain are handled with a bounded JS stack.
// Deep *nesting* in source (parentheses, blocks) may hit a documented limit,
// which is a one-line compile error, never a RangeError or an internal error.
//
// Most checks run near the end of the JS stack (helpers/stack.ts): with
// HEADROOM frames left, any recursion proportional to the input's size overflows.
// Nesting checks run on a normal stack (the compiler recurses up to its
// limits there) with inputs far deeper than that stack could recurse.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileSource } from "../lang/ent/compile.js";
import { CompileError } from "../lang/ent/errors.js";
import { reportJson, reportText } from "../src/cli/image-commands.js";
import { decodeImage, type DecodedImage } from "../src/image/decode.js";
import { stateDigest } from "../src/image/digest.js";
import { encodeImage } from "../src/image/encode.js";
import { inspectImage } from "../src/image/inspect.js";
import { plotSvg } from "../gp/plot.js";
import type { GenerationStats } from "../gp/run.js";
import { Process } from "../src/process/process.js";
import { describeFault } from "../src/process/report.js";
import { Session } from "../src/session.js";
import { RarError } from "../src/vm/errors.js";
import { compileModule } from "../src/vm/jit.js";
import { decodeBundle, decodeModule, type Module } from "../src/vm/module.js";
import { verifyBundle } from "../src/vm/verify.js";
import { load, start } from "./helpers/asm.js";
import { nearStackEnd } from "./helpers/stack.js";

/**
 * JS frames of this helper left to the code under test (~100 bytes each): a
 * fixed call path fits, a recursion as deep as these inputs are long (50,000
 * and more) does not. The fixed path includes msgpackr encoding a whole
 * module of a few megabytes (verify's digest), whose frames are large while V8
 * has not optimized them yet: 200 was too tight, and 400 overflowed there
 * whenever the 50,000-term condition ran first in its process.
 */
const HEADROOM = 1000;

/** A small deterministic generator (mulberry32), so big inputs need no big fast-check values. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- process trees ------------------------------------------------------------

const SPAWN = `PUSH 0
  PUSH 3
  PUSH 1000000000
  PUSH 1000000000
  PUSH 1
  PUSH 0`;

/**
 * mem = [_, levels left, mode]. Each level spawns `main` one level further
 * down (with a copy of its memory and io.print granted), resumes it and, when
 * that returns, parks in a loop: the chain never unwinds, so the root runs
 * out of gas with everything below frozen. The leaf prints (an empty line)
 * in a loop in mode 0 and divides by zero in mode 1.
 */
const CHAIN = `.cap io.print
.func main 0 0
  PUSH 0
  LOAD 1
  JZ leaf
  PUSH 0
  PUSH 0
  LOAD 1
  ADDI -1
  STORE 1
  ${SPAWN}
  SPAWN main
  RESUME
  POP
park:
  JMP park
leaf:
  PUSH 0
  LOAD 2
  JNZ boom
again:
  PUSH 0
  PUSH 0
  CAP io.print 2
  POP
  JMP again
boom:
  PUSH 1
  PUSH 0
  DIV
  RET`;

const chainModule = load(CHAIN);

type Mode = "print" | "fault";

/** "0.h1.h2..." */
const pathOf = (handles: readonly number[]): string => ["0", ...handles].join(".");

/** The chain root -> ... -> leaf of a tree (each process has at most one child). */
function chainOf(root: Process): Process[] {
  const out = [root];
  for (let p = root; p.children.size > 0; ) {
    p = [...p.children.values()][0];
    out.push(p);
  }
  return out;
}

/** An image of CHAIN 3 deep, stopped out of gas with the leaf printing (or faulted and its parent parked). */
function template(mode: Mode): Uint8Array {
  const s = start(chainModule, { args: [3, mode === "fault" ? 1 : 0], gas: 20_000, mem: 100_000_000 });
  expect(s.run().status).toBe("out_of_gas");
  return s.session.snapshot();
}
const TEMPLATES = { print: template("print"), fault: template("fault") };

/** A copy of process p (no children) under `parent` with handle h. */
function cloneUnder(p: Process, parent: Process, h: number): Process {
  const q = new Process(p.module, p.entryFn, [], p.mem.slice(0, p.memSize), p.gasLimit, p.memLimit, [...p.caps], [...p.traps], parent, h);
  q.status = p.status;
  q.value = p.value;
  q.faultKind = p.faultKind;
  q.faultDetail = p.faultDetail;
  q.pc = p.pc;
  q.sp = p.sp;
  q.bp = p.bp;
  q.fp = p.fp;
  q.stack = p.stack.slice();
  q.frames = p.frames.slice();
  q.waiting = p.waiting;
  q.gasUsed = p.gasUsed;
  q.nextHandle = p.nextHandle;
  return q;
}

/**
 * The template's chain with its first waiting process repeated so that the
 * leaf is `depth` deep; the process at depth i has handle handles[i - 1].
 * Everything the verifier checks is kept consistent: each parent waits at a
 * RESUME of its child's handle, and footprints add up.
 */
function deepTree(mode: Mode, depth: number, handles: readonly number[]): DecodedImage {
  const img = decodeImage(TEMPLATES[mode]);
  const [root, first, ...rest] = chainOf(img.root);
  const middle = first;
  const chain: Process[] = [root];
  for (let i = 1; i <= depth; i++) {
    const parent = chain[i - 1];
    const model = i <= depth - rest.length ? middle : rest[i - 1 - (depth - rest.length)];
    chain.push(cloneUnder(model, parent, handles[i - 1]));
  }
  root.children.delete(1);
  for (let i = 1; i <= depth; i++) {
    const p = chain[i];
    const parent = chain[i - 1];
    parent.adopt(p.handle, p);
    parent.nextHandle = p.handle + 1;
    if (parent.waiting !== 0) {
      parent.waiting = p.handle;
      parent.stack[parent.sp - 1] = p.handle;
    }
  }
  for (let i = depth; i >= 0; i--) chain[i].memUsed = chain[i].ownFootprint() + (i < depth ? chain[i + 1].memUsed : 0);
  return img;
}

function imageBytes(img: DecodedImage): Uint8Array {
  const byDigest = new Map(img.modules.map((m) => [m.digest, m]));
  return encodeImage(img.root, img.meta, (d) => byDigest.get(d));
}

const deepArb = fc.record({
  depth: fc.integer({ min: 10_000, max: 10_200 }),
  seed: fc.integer(),
});
const handlesFor = (depth: number, seed: number): number[] => {
  const r = rng(seed);
  return Array.from({ length: depth }, () => 1 + Math.floor(r() * 3));
};

describe("a process tree 4,096 deep built by a guest program", () => {
  /** CHAIN 4,096 deep (the default maximum) whose leaf calls io.print; the paths the host saw. */
  const run = (depth: number) => (): { status: string; paths: Set<string>; leaf: Process } => {
    const paths = new Set<string>();
    const s = start(chainModule, { args: [depth, 0], gas: 40_000_000, mem: 100_000_000, onCapCall: (e) => void paths.add(e.path) });
    const status = s.run().status;
    return { status, paths, leaf: chainOf(s.root)[depth] };
  };

  it("the deepest process calls a capability, and the host sees its full path", () => {
    run(3)();
    const r = nearStackEnd(HEADROOM, run(4096));
    expect(r.status).toBe("out_of_gas");
    expect(r.leaf.depth).toBe(4096);
    expect([...r.paths]).toEqual([pathOf(Array<number>(4096).fill(1))]);
    expect(r.leaf.path).toBe(pathOf(Array<number>(4096).fill(1)));
  });

  it("a fault 4,096 deep is described with its path, and its image inspects", () => {
    const go = (depth: number) => (): { line: string; text: string } => {
      const s = start(chainModule, { args: [depth, 1], gas: 40_000_000, mem: 100_000_000 });
      expect(s.run().status).toBe("out_of_gas");
      const leaf = chainOf(s.root)[depth];
      const report = inspectImage(decodeImage(s.session.snapshot()));
      return { line: describeFault(leaf), text: reportText(report, "deep.rimg") };
    };
    go(3)();
    const r = nearStackEnd(HEADROOM, go(4096));
    expect(r.line).toContain(`fault div_by_zero`);
    expect(r.line).toContain(`in process ${pathOf(Array<number>(4096).fill(1))} in main`);
    expect(r.text).toContain("(depth 4096)  fault");
  });
});

describe("a guest call stack 50,000 deep", () => {
  it("a fault at its bottom is described in one short line", () => {
    const src = `fn f(n) {\n  if n == 0 { return 1 / n; }\n  return f(n - 1);\n}\nfn main(args) { return f(args[0]); }\n`;
    // Interpreted only: compiling the hot function (new Function) needs more stack than HEADROOM.
    const go = (n: number) => (): string | undefined => {
      const [module] = verifyBundle(compileSource(src).modules);
      return Session.start(module, { args: [n], mem: 4_000_000, stdout: () => undefined, tiering: { enabled: false } }).run().fault;
    };
    expect(go(3)()).toContain("called from f (main.ent:3:10) <- f (main.ent:3:10) <- f (main.ent:3:10) <- main (main.ent:5:24)");
    const line = nearStackEnd(HEADROOM, go(50_000)) as string;
    expect(line).toMatch(/^fault div_by_zero .* in f \(main\.ent:2:24\); called from (f \(main\.ent:3:10\) <- ){10}… 49989 more … <- f \(main\.ent:3:10\) <- main \(main\.ent:5:24\)$/);
  });
});

describe("process trees and images 10,000+ deep", () => {
  it("a capability call from the deepest process reports its full path", () => {
    const go = (depth: number, handles: number[]) => (): { status: string; paths: Set<string>; events: string[] } => {
      const paths = new Set<string>();
      const s = Session.fromImage(imageBytes(deepTree("print", depth, handles)), {
        maxDepth: depth,
        stdout: () => undefined,
        onCapCall: (e) => void paths.add(e.path),
      });
      s.refuel(5_000);
      const status = s.run().status;
      const events = (s.trace?.events() ?? []).flatMap((e) => (e.kind === "cap" ? [e.path] : []));
      return { status, paths, events };
    };
    go(4, [1, 2, 3, 1])();
    fc.assert(
      fc.property(deepArb, ({ depth, seed }) => {
        const handles = handlesFor(depth, seed);
        const r = nearStackEnd(HEADROOM, go(depth, handles));
        expect(r.status).toBe("out_of_gas");
        expect([...r.paths]).toEqual([pathOf(handles)]);
        expect(r.events.at(-1)).toBe(pathOf(handles));
      }),
      { seed: 41, numRuns: 3 },
    );
  });

  it("encode and decode round-trip exactly, with the same digests", () => {
    const go = (bytes: Uint8Array, depth: number) => (): { again: Uint8Array; digests: [string, string]; leafPath: string } => {
      const img = decodeImage(bytes, { maxDepth: depth });
      const again = imageBytes(img);
      const twice = decodeImage(again, { maxDepth: depth });
      const byDigest = new Map(img.modules.map((m) => [m.digest, m]));
      const resolve = (d: string): Module | undefined => byDigest.get(d);
      const digest = (i: DecodedImage): string => Buffer.from(stateDigest(i.root, i.meta.trace, resolve)).toString("hex");
      return { again, digests: [digest(img), digest(twice)], leafPath: chainOf(twice.root)[depth].path };
    };
    go(imageBytes(deepTree("print", 4, [1, 1, 1, 1])), 4)();
    fc.assert(
      fc.property(deepArb, fc.constantFrom<Mode>("print", "fault"), ({ depth, seed }, mode) => {
        const handles = handlesFor(depth, seed);
        const bytes = imageBytes(deepTree(mode, depth, handles));
        const r = nearStackEnd(HEADROOM, go(bytes, depth));
        expect(Buffer.from(r.again).equals(Buffer.from(bytes))).toBe(true);
        expect(r.digests[0]).toBe(r.digests[1]);
        expect(r.leafPath).toBe(pathOf(handles));
      }),
      { seed: 42, numRuns: 3 },
    );
  });

  it("inspect shows every process, as text and as nested JSON", () => {
    const go = (bytes: Uint8Array, depth: number) => (): { text: string; json: string; count: number; fault: string | null } => {
      const report = inspectImage(decodeImage(bytes, { maxDepth: depth }));
      return { text: reportText(report, "deep.rimg"), json: reportJson(report), count: report.processes.length, fault: report.processes[depth].fault };
    };
    go(imageBytes(deepTree("fault", 4, [1, 1, 1, 1])), 4)();
    fc.assert(
      fc.property(deepArb, ({ depth, seed }) => {
        const handles = handlesFor(depth, seed);
        const r = nearStackEnd(HEADROOM, go(imageBytes(deepTree("fault", depth, handles)), depth));
        expect(r.count).toBe(depth + 1);
        expect(r.fault).toContain(`in process ${pathOf(handles)} in main`);
        expect(r.text).toContain(`(depth ${depth})  fault`);
        // JSON.parse is not recursive in V8; walk the nesting iteratively.
        let node = JSON.parse(r.json).root as { handle: number; status: string; children: unknown[] };
        const seen: number[] = [];
        while (node.children.length > 0) {
          node = node.children[0] as typeof node;
          seen.push(node.handle);
        }
        expect(seen).toEqual(handles);
        expect(node.status).toBe("fault");
      }),
      { seed: 43, numRuns: 3 },
    );
  });

  it("a tree deeper than the decoder's limit, or wrong 10,000 deep, is a RarError naming the process", () => {
    const depth = 10_000;
    const handles = Array<number>(depth).fill(2);
    const img = deepTree("print", depth, handles);
    const bytes = imageBytes(img);
    const reject = (b: Uint8Array, maxDepth: number) => (): RarError => {
      try {
        decodeImage(b, { maxDepth });
      } catch (e) {
        if (e instanceof RarError) return e;
        throw e;
      }
      throw new Error("decoded");
    };
    /** The leaf claims one word more than it holds (and so does every ancestor). */
    const overclaim = (tree: DecodedImage, d: number): Uint8Array => {
      const leaf = chainOf(tree.root)[d];
      for (let p: Process | null = leaf; p; p = p.parent) p.memUsed += 1;
      return imageBytes(tree);
    };
    // Warm up the same paths (code compiled lazily needs stack of its own).
    reject(imageBytes(deepTree("print", 4, [2, 2, 2, 2])), 3)();
    reject(overclaim(deepTree("print", 4, [2, 2, 2, 2]), 4), 4)();
    expect(nearStackEnd(HEADROOM, reject(bytes, depth - 1)).kind).toBe("depth");
    // Verification names the process that is wrong by its full path.
    const e = nearStackEnd(HEADROOM, reject(overclaim(img, depth), depth));
    expect(e.kind).toBe("budget");
    expect(e.where).toContain(`process ${pathOf(handles)} memUsed`);
  });
});

describe("module bytes nested 100,000 deep", () => {
  /** msgpack of one array nested n deep around nil: a few bytes per level, what msgpackr decodes by recursion. */
  const bomb = (n: number): number[] => [...Array<number>(n).fill(0x91), 0xc0];

  it("as SPAWNC code from a guest: the spawning process faults bad_code, the host is fine", () => {
    // The bytes arrive as the program arguments: mem = [n, b0, ..., bn-1].
    const parent = `.func main 0 0
      PUSH 0
      PUSH 0
      PUSH 100000
      PUSH 100000
      PUSH 0
      PUSH 0
      PUSH 1
      PUSH 0
      LOAD 0
      SPAWNC
      RET`;
    const go = (n: number) => (): string | undefined => start(parent, { args: bomb(n), gas: 10_000_000, mem: 1_000_000 }).run().fault;
    expect(go(20)()).toMatch(/bad_code.*nested deeper than 8/);
    expect(nearStackEnd(HEADROOM, go(100_000))).toMatch(/bad_code.*nested deeper than 8/);
  });

  it("as a .rmod bundle or module: a decode error", () => {
    const go = (n: number) => (): string[] =>
      [decodeBundle, decodeModule].map((decode) => {
        try {
          decode(Uint8Array.from(bomb(n)), "bomb.rmod");
        } catch (e) {
          if (e instanceof RarError) return `${e.phase} ${e.kind}`;
          throw e;
        }
        return "decoded";
      });
    go(20)();
    expect(nearStackEnd(HEADROOM, go(100_000))).toEqual(["decode nesting", "decode nesting"]);
  });
});

// --- the Ent compiler: flat inputs of any size ----------------------------------

interface Ran {
  status: string;
  value: number;
}

/** Compiles and runs Ent source; main's result. */
function runEnt(src: string, args: number[] = [], gas = 50_000_000, mem = 8_000_000): Ran {
  const [module, ...linked] = verifyBundle(compileSource(src).modules);
  const r = Session.start(module, { linked, args, gas, mem, stdout: () => undefined }).run();
  return { status: r.status, value: r.value ?? 0 };
}

/** Compiles; the CompileError if any (anything else is rethrown). */
function compileErr(src: string, files: Record<string, string> = {}): CompileError | null {
  try {
    compileSource(src, "main.ent", files);
    return null;
  } catch (e) {
    if (e instanceof CompileError) return e;
    throw e;
  }
}

/** An error a person can read: file:line:col and a one-line message, then at most a short excerpt. */
function expectClear(e: CompileError): void {
  expect(e.phase).toBe("compile");
  expect(e.message.split("\n")[0]).toMatch(/^[\w.]+:\d+:\d+: \S/);
  expect(e.detail).not.toContain("\n");
  expect(e.message.length).toBeLessThan(400);
}

const literal = (n: number, f: (i: number) => number): string => {
  const parts: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) parts[i] = String(f(i));
  return parts.join(",");
};

describe("Ent: flat inputs of any size compile without deep recursion", () => {
  it("an array literal of 1,000,000 elements compiles and runs", () => {
    const n = 1_000_000;
    const src = `fn main() {\n  let a = [${literal(n, (i) => i % 1000)}];\n  let s = 0;\n  for i in 0..len(a) { s = s + a[i]; }\n  return len(a) + s;\n}\n`;
    const r = runEnt(src, [], 200_000_000, 4_000_000);
    expect(r).toEqual({ status: "done", value: n + 1000 * (999 * 1000) / 2 });
  });

  it("array literals, call arguments and prints of 50,000 elements compile near the end of the stack", () => {
    const go = (n: number) => (): Ran =>
      runEnt(
        `fn sum(a) { let s = 0; for i in 0..len(a) { s = s + a[i]; } return s; }\n` +
          `fn main(args) {\n  let x = args[0];\n  print(${literal(n, (i) => i % 7)});\n  return sum([${Array.from({ length: n }, (_, i) => (i % 2 === 0 ? "x" : String(i % 5))).join(",")}]);\n}\n`,
        [3],
      );
    go(10)();
    const n = 50_000;
    let want = 0;
    for (let i = 0; i < n; i++) want += i % 2 === 0 ? 3 : i % 5;
    expect(nearStackEnd(HEADROOM, go(n))).toEqual({ status: "done", value: want });
  });

  it("a constant chain of 1,000,000 binary operators compiles (folded) and runs", () => {
    const n = 1_000_000;
    expect(runEnt(`fn main() { return 1${"+1".repeat(n - 1)}; }`)).toEqual({ status: "done", value: n });
  });

  it("a chain of 1,000,000 binary operators on a variable compiles and runs", () => {
    const n = 1_000_000;
    expect(runEnt(`fn f(x) { return x${" - x + x".repeat((n - 1) / 2)}; }\nfn main() { return f(3); }`)).toEqual({ status: "done", value: 3 });
  });

  // Operators that chain (comparisons do not), loosest first, with their i32 meaning.
  const OPS: [string, number, (a: number, b: number) => number][] = [
    ["||", 0, (a, b) => (a !== 0 || b !== 0 ? 1 : 0)],
    ["&&", 1, (a, b) => (a !== 0 && b !== 0 ? 1 : 0)],
    ["|", 4, (a, b) => a | b],
    ["^", 5, (a, b) => a ^ b],
    ["&", 6, (a, b) => a & b],
    ["<<", 7, (a, b) => a << b],
    [">>", 7, (a, b) => a >> b],
    ["+", 8, (a, b) => (a + b) | 0],
    ["-", 8, (a, b) => (a - b) | 0],
    ["*", 9, (a, b) => Math.imul(a, b)],
    ["/", 9, (a, b) => (a / b) | 0],
    ["%", 9, (a, b) => a % b | 0],
  ];

  /** Evaluates operands and operators by precedence, left-associative (an independent reference). */
  function reference(vals: number[], ops: number[]): number {
    const vs: number[] = [vals[0]];
    const os: number[] = [];
    const reduce = (): void => {
      const b = vs.pop() as number;
      const a = vs.pop() as number;
      vs.push(OPS[os.pop() as number][2](a, b));
    };
    for (let i = 0; i < ops.length; i++) {
      while (os.length > 0 && OPS[os[os.length - 1]][1] >= OPS[ops[i]][1]) reduce();
      os.push(ops[i]);
      vs.push(vals[i + 1]);
    }
    while (os.length > 0) reduce();
    return vs[0];
  }

  it("long chains of mixed operators compute what precedence and left associativity say", () => {
    const program = (n: number, seed: number, opSet: number[], x: number): { src: string; want: number } => {
      const r = rng(seed);
      const vals: number[] = [];
      const terms: string[] = [];
      const ops: number[] = [];
      for (let i = 0; i < n; i++) {
        // Operands are 1..9 or x (a parameter, so not folded); never 0 or -1, so / and % cannot fault.
        const useX = r() < 0.5;
        const v = useX ? x : 1 + Math.floor(r() * 9);
        vals.push(v);
        terms.push(useX ? "x" : String(v));
        if (i < n - 1) ops.push(opSet[Math.floor(r() * opSet.length)]);
      }
      const text = [terms[0]];
      for (let i = 0; i < ops.length; i++) text.push(` ${OPS[ops[i]][0]} `, terms[i + 1]);
      return { src: `fn f(x) { return ${text.join("")}; }\nfn main(args) { return f(args[0]); }\n`, want: reference(vals, ops) };
    };
    const go = (src: string, x: number) => (): Ran => runEnt(src, [x]);
    const warm = program(20, 1, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 5);
    expect(go(warm.src, 5)().value).toBe(warm.want);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40_000 }),
        fc.integer(),
        fc.subarray([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], { minLength: 1 }),
        fc.integer({ min: 2, max: 9 }),
        (n, seed, opSet, x) => {
          const p = program(n, seed, opSet, x);
          expect(nearStackEnd(HEADROOM, go(p.src, x))).toEqual({ status: "done", value: p.want });
        },
      ),
      { seed: 44, numRuns: 12 },
    );
  });

  it("a condition that is a chain of 50,000 && and || compiles to jumps", () => {
    const go = (n: number) => (): Ran => {
      const terms: string[] = [];
      for (let i = 0; i < n; i++) terms.push(i % 3 === 0 ? "x > 0" : i % 3 === 1 ? "x != 9" : "x");
      const cond = terms.map((t, i) => (i === 0 ? t : `${i % 2 === 0 ? " && " : " || "}${t}`)).join("");
      return runEnt(`fn f(x) { if ${cond} { return 1; } while ${cond} { return 2; } return 3; }\nfn main(args) { return f(args[0]); }\n`, [4]);
    };
    go(5)();
    expect(nearStackEnd(HEADROOM, go(50_000))).toEqual({ status: "done", value: 1 });
  });

  it("50,000 constants, each defined by the next, resolve without recursion", () => {
    const go = (n: number, forward: boolean) => (): Ran => {
      const lines: string[] = [];
      for (let i = 0; i < n; i++) {
        const dep = forward ? i + 1 : i - 1;
        lines.push(dep < 0 || dep >= n ? `const C${i} = 1;` : `const C${i} = C${dep} + 1;`);
      }
      return runEnt(`${lines.join("\n")}\nfn main() { return ${forward ? "C0" : `C${n - 1}`}; }\n`);
    };
    go(5, true)();
    go(5, false)();
    expect(nearStackEnd(HEADROOM, go(50_000, true))).toEqual({ status: "done", value: 50_000 });
    expect(nearStackEnd(HEADROOM, go(50_000, false))).toEqual({ status: "done", value: 50_000 });
  });

  it("a loop body of 50,000 statements compiles", () => {
    const go = (n: number) => (): Ran =>
      runEnt(`fn main() {\n  let a = [1, 2, 3];\n  let x = 0;\n  for i in 0..len(a) {\n${"    x = x + a[i];\n".repeat(n)}  }\n  return x;\n}\n`);
    go(3)();
    expect(nearStackEnd(HEADROOM, go(50_000))).toEqual({ status: "done", value: 6 * 50_000 });
  });

  it("a chain of 1,000 trusted imports compiles", () => {
    const go = (n: number) => (): Ran => {
      const files: Record<string, string> = {};
      for (let i = 1; i < n; i++) files[`m${i}.ent`] = `import "m${i + 1}.ent" as n;\nfn f() { return n.f() + 1; }\n`;
      files[`m${n}.ent`] = "fn f() { return 1; }\n";
      const [module, ...linked] = verifyBundle(compileSource(`import "m1.ent" as n;\nfn main() { return n.f(); }\n`, "main.ent", files).modules);
      const r = Session.start(module, { linked, gas: 10_000_000, mem: 10_000_000 }).run();
      return { status: r.status, value: r.value ?? 0 };
    };
    go(3)();
    expect(nearStackEnd(HEADROOM, go(1_000))).toEqual({ status: "done", value: 1_000 });
  });

  it("an import path of 300,000 characters is a compile error, not a RangeError", () => {
    const e = compileErr(`import "${"a".repeat(300_000)}.ent" as x;\nfn main() { return 0; }\n`);
    expect(e?.detail).toMatch(/^cannot read imported file/);
  });

  it("an error on a line of a million characters shows a short excerpt around the column", () => {
    const e = compileErr(`fn main() { let a = [${literal(200_000, () => 1)}, y, ${literal(200_000, () => 1)}]; return 0; }`);
    expect(e).not.toBeNull();
    const err = e as CompileError;
    expect(err.detail).toBe("unknown name 'y'");
    expectClear(err);
    // The caret still points at the name.
    const [, shown, caret] = err.message.split("\n");
    expect(shown[caret.indexOf("^")]).toBe("y");
  });
});

// --- the Ent compiler: nesting is bounded, with a clear error ----------------------

/** Nested constructs of one kind, `k` deep, and what main returns when it compiles. */
const NESTED: Record<string, (k: number) => { src: string; value: number }> = {
  parentheses: (k) => ({ src: `fn main() { return ${"(".repeat(k)}1${")".repeat(k)}; }`, value: 1 }),
  minus: (k) => ({ src: `fn main() { return ${"-".repeat(k)}1; }`, value: k % 2 === 0 ? 1 : -1 }),
  not: (k) => ({ src: `fn main() { return ${"!".repeat(k)}0; }`, value: k % 2 }),
  complement: (k) => ({ src: `fn main() { return ${"~".repeat(k)}5; }`, value: k % 2 === 0 ? 5 : ~5 }),
  "right operands": (k) => ({ src: `fn main() { return ${"1 + (".repeat(k)}1${")".repeat(k)}; }`, value: k + 1 }),
  "mixed operators": (k) => ({ src: `fn main() { return ${"1 * (2 && ".repeat(k)}1${")".repeat(k)}; }`, value: 1 }),
  "arrays and indexing": (k) => ({ src: `fn main() { let a = ${"[".repeat(k)}7${"]".repeat(k)}; return a${"[0]".repeat(k)}; }`, value: 7 }),
  calls: (k) => ({ src: `fn id(x) { return x; }\nfn main() { return ${"id(".repeat(k)}3${")".repeat(k)}; }`, value: 3 }),
  sandboxes: (k) => ({ src: `fn id(x) { return x; }\nfn main() { return ${"id<100000, 100000>(".repeat(k)}3${")".repeat(k)}; }`, value: 3 }),
  blocks: (k) => ({ src: `fn main() { ${"{ ".repeat(k)}return 4;${" }".repeat(k)} }`, value: 4 }),
  ifs: (k) => ({ src: `fn main() { ${"if 1 { ".repeat(k)}return 5;${" }".repeat(k)} return 0; }`, value: 5 }),
  whiles: (k) => ({ src: `fn main() { ${"while 1 { ".repeat(k)}return 6;${" }".repeat(k)} return 0; }`, value: 6 }),
  fors: (k) => ({ src: `fn main() { ${"for i in 0..1 { ".repeat(k)}return 7;${" }".repeat(k)} return 0; }`, value: 7 }),
  "array types": (k) => ({ src: `fn f(a: ${"[".repeat(k)}int${"]".repeat(k)}) { return 0; }\nfn main() { return 8; }`, value: 8 }),
};

/** Runs Ent source; a compile error is returned, anything else thrown. */
function runOrError(src: string): Ran | CompileError {
  try {
    return runEnt(src);
  } catch (e) {
    if (e instanceof CompileError) return e;
    throw e;
  }
}

describe("Ent: nesting either compiles or is a clear compile error", () => {
  // Nesting recursion is bounded by the limits, not by the input, so these run on a normal
  // stack: an input 200,000 deep would overflow it many times over if it were not.
  it("every kind of nesting compiles up to 150 levels and is a one-line error (never a RangeError) beyond the limit", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(NESTED)),
        fc.oneof(fc.integer({ min: 1, max: 150 }), fc.integer({ min: 201, max: 5_000 }), fc.integer({ min: 5_000, max: 200_000 })),
        (kind, k) => {
          const { src, value } = NESTED[kind](k);
          const r = runOrError(src);
          if (k <= 150) expect(r).toEqual({ status: "done", value });
          else {
            expect(r).toBeInstanceOf(CompileError);
            expectClear(r as CompileError);
            expect((r as CompileError).detail).toMatch(/^(nesting deeper than \d+ levels|expression nested deeper than \d+ levels|array type nested deeper than \d+ levels)$/);
          }
        },
      ),
      { seed: 45, numRuns: 80 },
    );
  });

  it("the deepest expressions the limits allow compile; one level more is a clear error", () => {
    // Each parenthesis holds a right operand at every precedence level: ten levels of depth.
    const ladder = (k: number): string =>
      `fn main() { return ${"1 || 1 && 1 == 1 < 1 | 1 ^ 1 & 1 << 1 + 1 * (".repeat(k)}1${")".repeat(k)}; }`;
    expect(runOrError(ladder(99))).toEqual({ status: "done", value: 1 });
    const tooDeep = runOrError(ladder(100));
    expect(tooDeep).toBeInstanceOf(CompileError);
    expect((tooDeep as CompileError).detail).toBe("expression nested deeper than 1000 levels");
    // Indexing chains count too (the array is walked by recursion).
    const index = (k: number): string => `fn f(a) { return a${"[0]".repeat(k)}; }\nfn main() { return 0; }`;
    const deepIndex = runOrError(index(999));
    expect(deepIndex).toBeInstanceOf(CompileError);
    expect((deepIndex as CompileError).detail).toBe("array type nested deeper than 256 levels");
    expect((runOrError(index(1000)) as CompileError).detail).toBe("expression nested deeper than 1000 levels");
  });

  it("array types built across 2,000 statements hit the type depth limit with a clear error", () => {
    const go = (n: number) => (): Ran | CompileError => {
      const lines = ["let a0 = 1;"];
      for (let i = 1; i <= n; i++) lines.push(`let a${i} = [a${i - 1}];`);
      try {
        return runEnt(`fn main() {\n${lines.join("\n")}\nprint(a${n});\nreturn len(a${n});\n}\n`);
      } catch (e) {
        if (e instanceof CompileError) return e;
        throw e;
      }
    };
    expect(go(3)()).toEqual({ status: "done", value: 1 });
    expect(go(100)()).toEqual({ status: "done", value: 1 });
    expect(go(300)()).toBeInstanceOf(CompileError);
    const e = nearStackEnd(HEADROOM, go(2_000));
    expect(e).toBeInstanceOf(CompileError);
    expectClear(e as CompileError);
    expect((e as CompileError).detail).toMatch(/array type nested deeper than \d+ levels/);
  });

  it("a chain of untrusted imports deeper than the limit is a clear compile error", () => {
    const files: Record<string, string> = {};
    const n = 2_000;
    for (let i = 1; i < n; i++) files[`m${i}.ent`] = `import untrusted "m${i + 1}.ent" as n;\nfn f() { return n.f<1000000, 100000>(); }\n`;
    files[`m${n}.ent`] = "fn f() { return 1; }\n";
    const go = (): CompileError | null => compileErr(`import untrusted "m1.ent" as n;\nfn main() { return n.f<1000000, 100000>(); }\n`, files);
    go();
    // The chain recurses through the compiler up to the limit (64 modules): more stack than HEADROOM.
    const e = nearStackEnd(HEADROOM * 4, go);
    expect(e).toBeInstanceOf(CompileError);
    expectClear(e as CompileError);
    expect((e as CompileError).detail).toMatch(/untrusted imports nested deeper than \d+ modules/);
  });
});

describe("Ent: what the module format cannot hold is a compile error where it happens", () => {
  it("an expression needing more operand stack than a frame has", () => {
    const args = Array.from({ length: 255 }, (_, i) => `a${i}`).join(", ");
    const call = (k: number): string => (k === 0 ? "0" : `f(${Array<string>(254).fill("1").join(", ")}, ${call(k - 1)})`);
    const e = compileErr(`fn f(${args}) { return a0; }\nfn main() { return ${call(20)}; }\n`);
    expect(e).not.toBeNull();
    expectClear(e as CompileError);
    expect((e as CompileError).detail).toBe("an expression needs more than 4096 words of operand stack");
    expect((e as CompileError).pos.line).toBe(2);
  });

  it("a function needing more than 65,536 local slots", () => {
    const e = compileErr(`fn main() {\n  print(${literal(70_000, (i) => i)});\n  return 0;\n}\n`);
    expect(e?.detail).toBe("a function needs more than 65536 local slots");
    expect(e?.pos.line).toBe(2);
  });

  it("a function name longer than the format allows", () => {
    const name = "f".repeat(300);
    const e = compileErr(`fn ${name}() { return 1; }\nfn main() { return ${name}(); }\n`);
    expect(e?.detail).toMatch(/^function name 'f+…' is longer than 256 characters$/);
    expectClear(e as CompileError);
  });
});

// --- spreads of big arrays ----------------------------------------------------------

describe("no call spreads a guest-sized array into arguments", () => {
  it("the compiled tier translates a block of 10,000 instructions near the end of the stack", () => {
    const m = load(`.func main 0 1\n${"  LINC 0 1\n".repeat(10_000)}  LGET 0\n  RET`);
    const small = load(`.func main 0 1\n  LINC 0 1\n  LGET 0\n  RET`);
    const go = (mod: Module) => (): boolean => compileModule(mod) !== null;
    go(small)();
    expect(nearStackEnd(HEADROOM, go(m))).toBe(true);
  });

  it("a GP plot of 300,000 generations draws", () => {
    const gen = (i: number): GenerationStats =>
      ({ gen: i, best_error: 300_000 - i, median_error: 400_000 - i, best_size: 1, mean_size: 1, best_gas: 1, sample_cases: 1, sample_solvers: 0, out_of_gas: 0 }) as unknown as GenerationStats;
    const history = Array.from({ length: 300_000 }, (_, i) => gen(i));
    expect(plotSvg(history, "long").startsWith("<svg")).toBe(true);
  });
});

describe("long traces", () => {
  it("an image carrying 160,000 trace events resumes (no spread of its events into a call)", async () => {
    const { Session } = await import("../src/session.js");
    const { load } = await import("./helpers/asm.js");
    const m = load(`.cap clock.now
.func main 0 1
top:
  CAP clock.now 0
  POP
  LGET 0
  ADDI 1
  LTEE 0
  PUSH 160000
  LT
  JNZ top
  LGET 0
  RET`);
    const s = Session.start(m, { caps: ["clock.now"], gas: 100_000_000 });
    const r = s.run();
    const image = s.snapshot();
    const back = Session.fromImage(image, { caps: ["clock.now"] });
    expect(r.status).toBe("done");
    expect(s.trace?.length).toBeGreaterThan(160_000);
    expect(back.trace?.length).toBe(s.trace?.length);
    expect(r.status).toBe(back.result().status);
  });
});
