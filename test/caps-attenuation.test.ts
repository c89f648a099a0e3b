// Attenuation (DESIGN §4): whatever a parent asks for at spawn (random grant
// and trap masks over its manifest) and however it narrows a child's scoped
// grants (NARROW with random relative, absolute and `..` paths), no process
// ever holds a capability or a scope its parent lacks.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { capCovers } from "../src/caps/registry.js";
import type { Process } from "../src/process/process.js";
import { start } from "./helpers/asm.js";

const MANIFEST = ["io.print", "clock.now", "fs.read", "fs.write", "kv.get", "random.u32"];
const UNIVERSE = ["io.print", "clock.now", "clock.now:real", "fs.read:/d", "fs.read:/d/in", "fs.write:/d/out", "fs.write:/e", "kv.get:app", "kv.get"];
const PATHS = ["in", "in/x", "..", "../etc", "/etc", "in/../..", "", ".", "a/./b", "out/../out/y", "x/../../d2"];

interface Narrowing {
  cap: number;
  path: string;
}

const narrowing = fc.record({ cap: fc.integer({ min: 0, max: MANIFEST.length - 1 }), path: fc.constantFrom(...PATHS) });

/** Code that writes `text` as code points at `addr` and narrows the child in local 0. */
function narrowCode(n: Narrowing, addr: number): string {
  const lines: string[] = [];
  const cps = [...n.path].map((c) => c.codePointAt(0) as number);
  cps.forEach((cp, i) => lines.push(`PUSH ${addr + i}`, `PUSH ${cp}`, "STORE 0"));
  lines.push("LGET 0", `PUSH ${addr}`, `PUSH ${cps.length}`, `NARROW ${n.cap}`);
  return lines.join("\n");
}

function spawner(fn: string, child: string, grant: number, trap: number, narrows: Narrowing[]): string {
  return `.func ${fn} 0 1
  PUSH 64
  MGROW
  POP
  PUSH 0
  PUSH 0
  PUSH 100000
  PUSH 100000
  PUSH ${grant}
  PUSH ${trap}
  SPAWN ${child}
  LSET 0
${narrows.map((n, i) => narrowCode(n, 16 + 16 * (i % 3))).join("\n")}
  LGET 0
  RESUME
  POP
  PUSH 0
  RET`;
}

function program(m1: number, t1: number, n1: Narrowing[], m2: number, t2: number, n2: Narrowing[]): string {
  return [
    ...MANIFEST.map((c) => `.cap ${c}`),
    spawner("main", "mid", m1, t1, n1),
    spawner("mid", "leaf", m2, t2, n2),
    ".func leaf 0 0\n  PUSH 0\n  RET",
  ].join("\n");
}

function edges(root: Process): [Process, Process][] {
  const out: [Process, Process][] = [];
  const todo = [root];
  while (todo.length > 0) {
    const p = todo.pop() as Process;
    for (const c of p.children.values()) {
      out.push([p, c]);
      todo.push(c);
    }
  }
  return out;
}

describe("attenuation at spawn", () => {
  it("random grant masks and narrowings never give a child a capability or scope its parent lacks", () => {
    const mask = fc.integer({ min: 0, max: (1 << MANIFEST.length) - 1 });
    fc.assert(
      fc.property(
        fc.subarray(UNIVERSE),
        mask,
        mask,
        fc.array(narrowing, { maxLength: 3 }),
        mask,
        mask,
        fc.array(narrowing, { maxLength: 3 }),
        (grants, m1, t1, n1, m2, t2, n2) => {
          const s = start(program(m1, t1, n1, m2, t2, n2), { caps: grants });
          s.run();
          for (const [parent, child] of edges(s.root)) {
            for (const g of child.caps) expect(capCovers(parent.caps, g), `${child.path} holds ${g}; ${parent.path} holds [${parent.caps}]`).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a child gets none of its parent's capabilities by default", () => {
    const s = start(program(0, 0, [], 0, 0, []), { caps: UNIVERSE });
    s.run();
    for (const [, child] of edges(s.root)) expect(child.caps).toEqual([]);
  });

  it("a grant of a family the parent does not hold faults the spawning parent cap_denied", () => {
    const s = start(program(1 << MANIFEST.indexOf("fs.write"), 0, [], 0, 0, []), { caps: ["io.print"] });
    const r = s.run();
    expect(r.status).toBe("fault");
    expect(r.fault).toContain("cap_denied");
    expect(s.root.children.size).toBe(0);
  });

  it("NARROW keeps a scope within the parent's and refuses '..' and absolute escapes", () => {
    const fsRead = 1 << MANIFEST.indexOf("fs.read");
    const ok = start(program(fsRead, 0, [{ cap: 2, path: "in/x" }], 0, 0, []), { caps: ["fs.read:/d"] });
    expect(ok.run().status).toBe("done");
    expect((ok.root.children.get(1) as Process).caps).toEqual(["fs.read:/d/in/x"]);
    for (const path of ["..", "../etc", "/etc", "in/../.."]) {
      const bad = start(program(fsRead, 0, [{ cap: 2, path }], 0, 0, []), { caps: ["fs.read:/d"] });
      const r = bad.run();
      expect(r.status, path).toBe("fault");
      expect(r.fault).toContain("cap_denied");
      expect((bad.root.children.get(1) as Process).caps).toEqual(["fs.read:/d"]);
    }
  });
});
