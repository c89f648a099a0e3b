// The sources kind: Ent programs into the compiler (compileProgram, what the
// CLI's loader uses) and `.rasm` text into the assembler. Compile errors are
// RarErrors and fine; what compiles must verify (else it is an anomaly: the
// compiler made bad code) and then runs a little. Inputs: random typed Ent
// programs, the same damaged at token and character level, token soups, the
// examples and golden programs damaged; random assembly and damaged
// disassemblies of compiled programs.

import { readFileSync, readdirSync } from "node:fs";
import fc from "fast-check";
import { assemble } from "../../lang/asm.js";
import { disassemble } from "../../lang/disasm.js";
import { compileSource } from "../../lang/ent/compile.js";
import { RarError } from "../../src/vm/errors.js";
import type { Module } from "../../src/vm/module.js";
import { OPS } from "../../src/vm/opcodes.js";
import { verify, verifyBundle } from "../../src/vm/verify.js";
import { progArb, renderProg } from "../../test/image-programs.js";
import { entProgram, mutateSource, sizeProgram, tokenSoup } from "./ent-gen.js";
import { startGuest } from "./guest.js";
import { Rng } from "./rng.js";
import { Anomaly, type Input, type Target } from "./target.js";

/** Example and golden Ent sources without imports (compiled alone). */
function entCorpus(): string[] {
  const out: string[] = [];
  for (const dir of ["../../examples/", "../../test/golden/ent/"]) {
    const url = new URL(dir, import.meta.url);
    for (const f of readdirSync(url).sort()) {
      if (!f.endsWith(".ent")) continue;
      const text = readFileSync(new URL(f, url), "utf8");
      if (!/^\s*import\b/m.test(text)) out.push(text);
    }
  }
  return out;
}

/** Assembly texts to damage: the image tests' programs and disassemblies of compiled random programs. */
function asmCorpus(seed: number): string[] {
  const rng = new Rng(seed, 0xa5a5);
  const out: string[] = [];
  for (const p of fc.sample(progArb, { numRuns: 10, seed })) out.push(renderProg(p));
  while (out.length < 30) {
    const p = entProgram(rng);
    try {
      for (const m of compileSource(p.main, "main.ent", p.files).modules) out.push(disassemble(m));
    } catch (e) {
      if (!(e instanceof RarError)) throw e;
    }
  }
  return out;
}

const OPERAND_TEXT: Record<string, (rng: Rng, ctx: { labels: string[]; fns: string[]; caps: string[] }) => string> = {
  local: (rng) => String(rng.chance(0.9) ? rng.below(5) : rng.word()),
  func: (rng, c) => (rng.chance(0.8) && c.fns.length > 0 ? rng.pick(c.fns) : `#${rng.int(-1, 5)}`),
  cap: (rng, c) => (rng.chance(0.8) && c.caps.length > 0 ? rng.pick(c.caps) : String(rng.int(-1, 3))),
  count: (rng) => String(rng.int(-1, 17)),
  link: (rng) => String(rng.int(-1, 2)),
  label: (rng, c) => (c.labels.length > 0 && rng.chance(0.9) ? rng.pick(c.labels) : "nowhere"),
  i32: (rng) => rng.pick([String(rng.word()), "0x7fffffff", "-0x80000000", "0xffffffff", "4294967296", "1_000", "-0", "0x", "++1"]),
};

/** Random assembly: directives and instructions with operands of the right kind, mostly. */
function randomAsm(rng: Rng): string {
  const caps = rng.chance(0.5) ? ["io.print"] : rng.chance(0.1) ? ["0", "io.print"] : [];
  const nf = 1 + rng.below(3);
  // Now and then a name that looks like an index (CALL 1 means function #1).
  const fns = Array.from({ length: nf }, (_, i) => (i === 0 ? "main" : rng.chance(0.1) ? rng.pick(["0", "1", "#1", "0x2"]) : `f${i}`));
  const out = [".module fuzz", ...caps.map((c) => `.cap ${c}`)];
  for (const f of fns) {
    const np = f === "main" ? 0 : rng.below(3);
    out.push(`.func ${f} ${np} ${np + rng.below(4)}`);
    const labels = Array.from({ length: rng.below(4) }, (_, i) => `L${i}`);
    const ctx = { labels, fns, caps };
    const body: string[] = [];
    const n = 1 + rng.size(30);
    for (let i = 0; i < n; i++) {
      const info = OPS[rng.below(OPS.length)];
      body.push(`  ${info.name} ${info.operands.map((k) => OPERAND_TEXT[k](rng, ctx)).join(" ")}`.trimEnd());
    }
    for (const l of labels) body.splice(rng.below(body.length + 1), 0, `${l}:`);
    if (rng.chance(0.7)) body.push("  PUSH 0", "  RET");
    out.push(...body);
  }
  return out.join("\n");
}

/** Line-level damage to assembly: lines dropped, repeated, swapped; operands nudged; tokens replaced. */
function mutateAsm(rng: Rng, text: string): string {
  const lines = text.split("\n");
  const n = 1 + rng.size(4);
  for (let k = 0; k < n; k++) {
    const i = rng.below(lines.length);
    switch (rng.below(6)) {
      case 0:
        lines.splice(i, 1);
        break;
      case 1:
        lines.splice(i, 0, lines[rng.below(lines.length)]);
        break;
      case 2: {
        const j = rng.below(lines.length);
        [lines[i], lines[j]] = [lines[j], lines[i]];
        break;
      }
      case 3:
        lines[i] = (lines[i] ?? "").replace(/-?\d+/, (d) => String(Number(d) + rng.pick([1, -1, 2, 1000, -1000])));
        break;
      case 4:
        lines[i] = (lines[i] ?? "").replace(/[A-Z]+/, () => OPS[rng.below(OPS.length)].name);
        break;
      default:
        lines.splice(i, 0, rng.pick([".func", ".func x 300", ".cap", ".cap io.print", ".module", "x:", ":", ";", "L0:", "PUSH", "CALL main", "\u0000", ".word 5"]));
    }
  }
  return lines.join(rng.chance(0.95) ? "\n" : "\r\n");
}

export function sourcesTarget(seed: number): Target {
  const ents = entCorpus();
  const asms = asmCorpus(seed);
  return {
    ext: "ent",
    generate(rng: Rng): Input {
      switch (rng.weighted([90, 36, 16, 14, 20, 24, 1])) {
        case 0: {
          const p = entProgram(rng);
          return { data: p.main, files: p.files, how: "random Ent program" };
        }
        case 1: {
          const p = entProgram(rng);
          return { data: mutateSource(rng, p.main), files: p.files, how: "damaged random Ent program" };
        }
        case 2:
          return { data: tokenSoup(rng), how: "Ent token soup" };
        case 3:
          return { data: mutateSource(rng, rng.pick(ents)), how: "damaged example" };
        case 4:
          return { data: randomAsm(rng), ext: "rasm", how: "random assembly" };
        case 5:
          return { data: mutateAsm(rng, rng.pick(asms)), ext: "rasm", how: "damaged assembly" };
        default:
          return { data: sizeProgram(rng), how: "Ent program with a very long list" };
      }
    },
    check(input: Input): string {
      const text = input.data as string;
      let mods: Module[];
      if (input.ext === "rasm") {
        const def = assemble(text, "fuzz.rasm");
        try {
          mods = [verify(def)];
        } catch (e) {
          if (e instanceof RarError) return `assembled, ${e.phase}/${e.kind}`;
          throw e;
        }
        // What verifies disassembles to text that assembles to the same code.
        const again = assemble(disassemble(mods[0]), "again.rasm");
        if (again.code.join() !== def.code.join()) throw new Anomaly("disassembly does not assemble back to the same code");
      } else {
        const compiled = compileSource(text, "main.ent", input.files ?? {});
        try {
          mods = verifyBundle(compiled.modules, "main.ent");
        } catch (e) {
          if (e instanceof RarError) throw new Anomaly(`compiled code does not verify: ${e.message}`);
          throw e;
        }
        // `rar disasm prog.ent`: code interleaved with the source lines its map points at.
        for (const m of mods) disassemble(m, { sources: compiled.sources, pcs: true });
      }
      const s = startGuest(mods[0], mods.slice(1));
      const r = s.run();
      return `compiled, ${r.status}`;
    },
  };
}
