// Layers point one way (STYLE.md, "Data flows one way"): no module of src/,
// lang/ or gp/ can reach itself through its imports, and the lower folders do
// not import the higher ones.
//
// Every kind of relative import is an edge: `import ... from`, `import type`,
// `export ... from`, and dynamic `import("./x.js")`. Type-only imports count
// because a layer that names a higher layer's types depends on it as surely
// as one that calls it. Dynamic imports count because deferring a load does not
// make the dependency go away: the CLI loads its command modules and the Ent
// compiler lazily (main.ts, load.ts), always downward; a lazily loaded module
// importing its loader back would be a cycle as real at run time as any.

import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return tsFiles(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every relative module specifier in one file, static and dynamic. */
function specifiers(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), "utf8"), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier))
      found.push(node.moduleSpecifier.text);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0]))
      found.push(node.arguments[0].text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.filter((s) => s.startsWith("."));
}

const FILES = [...tsFiles("src"), ...tsFiles("lang"), ...tsFiles("gp")].sort();
const GRAPH_FILES = new Set(FILES);

/** file → the files it imports, both as paths relative to the repository root. */
const GRAPH = new Map<string, string[]>(
  FILES.map((file) => [
    file,
    specifiers(file).map((spec) => {
      const target = relative(ROOT, resolve(ROOT, dirname(file), spec.replace(/\.js$/, ".ts"))).split("\\").join("/");
      if (!GRAPH_FILES.has(target)) throw new Error(`${file}: import ${spec} does not name a .ts file under src/, lang/ or gp/`);
      return target;
    }),
  ]),
);

/** Tarjan's strongly connected components. */
function components(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      out.push(scc);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return out;
}

/** One shortest cycle through `start` inside `scc`, as the list of files, start repeated at the end. */
function cycleThrough(graph: Map<string, string[]>, start: string, scc: Set<string>): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    for (const w of graph.get(queue[i])!) {
      if (w === start) {
        const path = [start];
        for (let v = queue[i]; v !== start; v = parent.get(v)!) path.splice(1, 0, v);
        return [...path, start];
      }
      if (scc.has(w) && !parent.has(w)) {
        parent.set(w, queue[i]);
        queue.push(w);
      }
    }
  }
  throw new Error(`no cycle through ${start}`);
}

/** The files under `from` that import anything under one of `banned`, as "importer → imported" lines. */
function crossings(from: string[], banned: string[]): string[] {
  const under = (file: string, prefixes: string[]) => prefixes.some((p) => file === p || file.startsWith(`${p}/`));
  return [...GRAPH].flatMap(([file, targets]) => (under(file, from) ? targets.filter((t) => under(t, banned)).map((t) => `${file} → ${t}`) : []));
}

/**
 * One cycle per strongly connected component of more than one file, or of a
 * file that imports itself; where the component is larger, all its files too.
 */
function cycles(graph: Map<string, string[]>): string[] {
  return components(graph)
    .filter((scc) => scc.length > 1 || graph.get(scc[0])!.includes(scc[0]))
    .map((scc) => {
      scc.sort();
      const cycle = cycleThrough(graph, scc[0], new Set(scc));
      const all = cycle.length - 1 < scc.length ? ` (one of the cycles among ${scc.join(", ")})` : "";
      return cycle.join(" → ") + all;
    });
}

describe("the cycle finder", () => {
  it("names one cycle per tangle, and none in a graph without", () => {
    const graph = (edges: Record<string, string[]>) => new Map(Object.entries(edges));
    expect(cycles(graph({ a: ["b"], b: ["c"], c: [] }))).toEqual([]);
    expect(cycles(graph({ a: ["b"], b: ["c"], c: ["a", "d"], d: ["d"] })).sort()).toEqual(["a → b → c → a", "d → d"]);
  });
});

describe("the import graph of src/, lang/ and gp/", () => {
  it("sees every source file and resolves every relative import to one", () => {
    expect(FILES.length).toBeGreaterThan(50);
    expect(GRAPH.get("src/vm/interpreter.ts")).toContain("src/vm/opcodes.ts");
    expect(GRAPH.get("src/cli/main.ts")).toContain("src/cli/gp-command.ts"); // a dynamic import is an edge
  });

  it("has no cycle", () => {
    expect(cycles(GRAPH)).toEqual([]);
  });
});

// Folders from the bottom up, each importing only those before it (README,
// "Layers"): vm/ (the module, verifier and interpreter); caps/ and process/
// (the process tree and what it may call: caps/ names the Process type,
// process/ runs the capabilities); lang/ (compiles to modules; reads
// capability signatures, not the process tree); image/; trace/; session.ts;
// debug/ (recording checkpoints, the time-travel debugger, the viewer,
// forensics); index.ts and internals.ts (the two entry points); gp/ (an application on
// the runtime: it reaches it through the two entry points only); cluster/ (jobs on
// Redis and BullMQ workers, above gp/: it runs GP batches on workers); cli/
// (which alone loads gp/ and cluster/, lazily).
describe("layers point one way", () => {
  it("the VM imports nothing above it", () => {
    expect(crossings(["src/vm"], ["src/caps", "src/process", "src/image", "src/trace", "gp", "src/cli", "src/session.ts", "src/index.ts", "src/internals.ts", "lang"])).toEqual([]);
  });
  it("the process tree and the capabilities do not know images, traces, sessions or the CLI", () => {
    expect(crossings(["src/process", "src/caps"], ["src/image", "src/trace", "gp", "src/cli", "src/session.ts", "src/index.ts", "src/internals.ts", "lang"])).toEqual([]);
  });
  it("images do not know traces, sessions or the CLI", () => {
    expect(crossings(["src/image"], ["src/trace", "gp", "src/cli", "src/session.ts", "src/index.ts", "src/internals.ts", "lang"])).toEqual([]);
  });
  it("traces do not know the session or the CLI", () => {
    expect(crossings(["src/trace"], ["gp", "src/cli", "src/session.ts", "src/index.ts", "src/internals.ts", "lang"])).toEqual([]);
  });
  it("the compiler knows the VM (and capability signatures) but not images, traces, sessions or the CLI", () => {
    expect(crossings(["lang"], ["src/process", "src/image", "src/trace", "gp", "src/cli", "src/session.ts", "src/index.ts", "src/internals.ts"])).toEqual([]);
  });
  it("genetic programming reaches the runtime only through its entry points, src/index.ts and src/internals.ts", () => {
    const entries = new Set(["src/index.ts", "src/internals.ts"]);
    const inward = crossings(["gp"], ["src", "lang"]);
    expect(inward.filter((line) => !entries.has(line.split(" → ")[1]))).toEqual([]);
    expect(inward.length).toBeGreaterThan(0);
  });
  it("nothing in src/ or lang/ imports genetic programming but the CLI's gp command and the cluster's GP batches", () => {
    const outward = crossings(["src", "lang"], ["gp"]);
    expect(outward.filter((line) => !line.startsWith("src/cli/gp-command.ts → ") && !line.startsWith("src/cluster/gp.ts → "))).toEqual([]);
    expect(outward.length).toBeGreaterThan(0);
  });
  it("the debugger (above the session) is imported by the CLI only", () => {
    expect(crossings(["src/vm", "src/caps", "src/process", "src/image", "src/trace", "gp", "src/session.ts", "src/index.ts", "src/internals.ts", "lang"], ["src/debug"])).toEqual([]);
    expect(crossings(["src/debug"], ["src/cli", "src/index.ts", "src/internals.ts", "gp"])).toEqual([]);
  });
  it("nothing but the CLI imports the CLI", () => {
    expect(crossings(["src/vm", "src/caps", "src/process", "src/image", "src/trace", "gp", "src/session.ts", "src/index.ts", "src/internals.ts", "src/debug", "src/cluster", "lang"], ["src/cli"])).toEqual([]);
  });
  it("nothing below the cluster imports it (only the CLI runs workers and jobs)", () => {
    expect(crossings(["src/vm", "src/caps", "src/process", "src/image", "src/trace", "gp", "src/session.ts", "src/index.ts", "src/internals.ts", "src/debug", "lang"], ["src/cluster"])).toEqual([]);
  });
});
